#!/usr/bin/env bash
# The long fault run: the fault tests of tests/faults with a bigger class and longer sittings.
#
#   scripts/fault_run.sh [STUDENTS [ITEMS]] [pytest options...]
#
# Defaults: 30 students, 30 items each (900 acknowledged answers per fault). The tests start
# their own PostgreSQL cluster, Redis and gunicorn (2 workers) on free loopback ports and never
# touch a shared server; they need initdb/pg_ctl, redis-server and the dev install (make
# install-dev). Each test prints its tally (acknowledged, rows, lost, duplicated) at the end.
# The short run (4 students x 12 items) is a stage of scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
students=30
items=30
if [[ ${1:-} =~ ^[0-9]+$ ]]; then students=$1; shift; fi
if [[ ${1:-} =~ ^[0-9]+$ ]]; then items=$1; shift; fi

# The fault tests run in the PostgreSQL + Redis stage; this URL only says so (it is not used).
CBT_TEST_DATABASE_URL=${CBT_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test} \
CBT_FAULT_STUDENTS=$students CBT_FAULT_ITEMS=$items \
  "$PYTHON" -m pytest tests/faults -m faults -n 0 -q -p no:cacheprovider "$@"
