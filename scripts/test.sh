#!/usr/bin/env bash
# The whole test suite: embedded default (SQLite + in-process store), production backends
# (PostgreSQL + Redis, then the fault tests on their own disposable PostgreSQL, Redis and gunicorn)
# and the browser suite (playwright + Chromium). Any failure, or a stage that collects no tests,
# stops the run with a non-zero exit. scripts/fault_run.sh runs the long fault tests alone.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
PG_URL=${CBT_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
REDIS_URL=${CBT_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
JOBS=${CBT_TEST_JOBS:-2}

stage() { printf '\n==== %s ====\n' "$1"; }

stage "unit and API suite on SQLite + in-process store"
env -u CBT_TEST_DATABASE_URL -u CBT_TEST_REDIS_URL \
  "$PYTHON" -m pytest -m "not e2e and not faults and not scale" -n "$JOBS" -q "$@"

stage "unit, API and integration suite on PostgreSQL + Redis"
CBT_TEST_DATABASE_URL="$PG_URL" CBT_TEST_REDIS_URL="$REDIS_URL" \
  "$PYTHON" -m pytest -m "not e2e and not faults and not scale" -n "$JOBS" -q "$@"

stage "PostgreSQL + Redis: fault tests (their own PostgreSQL cluster, Redis and gunicorn)"
# One stack for the whole stage, so no xdist: the tests share it, each with its own class.
CBT_TEST_DATABASE_URL="$PG_URL" CBT_TEST_REDIS_URL="$REDIS_URL" \
  "$PYTHON" -m pytest -m faults -n 0 -q "$@"

stage "distributed parts: Redis Cluster, replica, several app nodes"
# Each module starts its own servers (a 6-node Redis Cluster, ...) on free loopback ports.
CBT_TEST_DATABASE_URL="$PG_URL" CBT_TEST_REDIS_URL="$REDIS_URL" \
  "$PYTHON" -m pytest -m scale -n 0 -q "$@"

stage "browser suite (playwright + Chromium)"
env -u CBT_TEST_DATABASE_URL -u CBT_TEST_REDIS_URL \
  "$PYTHON" -m pytest -m e2e -q "$@"
