#!/usr/bin/env bash
# The long multi-node run: the scale tests of tests/scale (three gunicorn nodes behind HAProxy,
# a PostgreSQL primary with a streaming replica, PgBouncer in transaction mode) with a bigger
# class, longer sittings and more workers a node.
#
#   scripts/scale_run.sh [STUDENTS [ITEMS [WORKERS]]] [pytest options...]
#
# Defaults: 30 students, 30 items each, 2 workers a node. Every server is the run's own, on free
# loopback ports (initdb, pg_basebackup, redis-server, haproxy, pgbouncer; .ci/run installs the
# last two). Each test prints its tally (acknowledged, rows, lost, duplicated, unfinished). The
# short run (4 students x 12 items, 1 worker a node) is the `scale` stage of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
students=30
items=30
workers=2
if [[ ${1:-} =~ ^[0-9]+$ ]]; then students=$1; shift; fi
if [[ ${1:-} =~ ^[0-9]+$ ]]; then items=$1; shift; fi
if [[ ${1:-} =~ ^[0-9]+$ ]]; then workers=$1; shift; fi

# The scale tests run with the PostgreSQL + Redis settings; this URL only says so (unused).
CBT_TEST_DATABASE_URL=${CBT_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
CBT_FAULT_STUDENTS=$students CBT_FAULT_ITEMS=$items CBT_SCALE_WORKERS=$workers \
  "$PYTHON" -m pytest tests/scale -m scale -n 0 -q -p no:cacheprovider "$@"
