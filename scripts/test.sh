#!/usr/bin/env bash
# The whole test suite: embedded default (SQLite + in-process store), production backends
# (PostgreSQL + Redis) and the browser suite (playwright + Chromium). Any failure, or a stage that
# collects no tests, stops the run with a non-zero exit.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python}
PG_URL=${CBT_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}
REDIS_URL=${CBT_TEST_REDIS_URL:-redis://127.0.0.1:6379/0}
JOBS=${CBT_TEST_JOBS:-2}

stage() { printf '\n==== %s ====\n' "$1"; }

stage "unit and API suite on SQLite + in-process store"
env -u CBT_TEST_DATABASE_URL -u CBT_TEST_REDIS_URL \
  "$PYTHON" -m pytest -m "not e2e" -n "$JOBS" -q "$@"

stage "unit, API and integration suite on PostgreSQL + Redis"
CBT_TEST_DATABASE_URL="$PG_URL" CBT_TEST_REDIS_URL="$REDIS_URL" \
  "$PYTHON" -m pytest -m "not e2e" -n "$JOBS" -q "$@"

stage "browser suite (playwright + Chromium)"
env -u CBT_TEST_DATABASE_URL -u CBT_TEST_REDIS_URL \
  "$PYTHON" -m pytest -m e2e -q "$@"
