#!/usr/bin/env bash
# Distributed, headless locust runs with an HTML and CSV report per run (loadtest/).
#
#   scripts/loadtest.sh SCENARIO HOST LOGINS_CSV [options]
#
#   SCENARIO   sitting (students with 20-40 s think time), storm (login storm), teachers
#              (teachers polling live progress), mixed (students + 1 teacher per 30)
#   HOST       e.g. http://127.0.0.1:8000
#   LOGINS_CSV cbt seed-load --out (or the demo's demo-logins.csv)
#
# Options (environment variables):
#   USERS=100 RATE=10 DURATION=5m   locust -u, -r, -t (a storm of N in T s: USERS=N RATE=N/T)
#   WORKERS=2                       locust worker processes (each takes its own share of logins)
#   TEACHERS_CSV=teachers.csv       cbt seed-load --teachers-out (teachers, mixed)
#   THINK_MIN=20 THINK_MAX=40       seconds per answer (sitting, mixed)
#   OUT=loadtest-reports            each run writes OUT/<scenario>-<UTC time>/ (report.html,
#                                   stats_*.csv, master.log, worker-N.log)
#   LOCUST=locust                   the locust executable
set -euo pipefail

scenario=${1:?scenario: sitting, storm, teachers or mixed}
host=${2:?host, e.g. http://127.0.0.1:8000}
logins=${3:?logins CSV (cbt seed-load --out)}
here=$(cd "$(dirname "$0")/.." && pwd)
users=${USERS:-100}
rate=${RATE:-10}
duration=${DURATION:-5m}
workers=${WORKERS:-2}
locust=${LOCUST:-locust}
out=${OUT:-loadtest-reports}/${scenario}-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"

case $scenario in
  sitting) files=$here/loadtest/locustfile.py ;;
  storm) files=$here/loadtest/storm.py ;;
  teachers) files=$here/loadtest/teachers.py ;;
  mixed) files=$here/loadtest/locustfile.py,$here/loadtest/teachers.py ;;
  *) echo "unknown scenario: $scenario" >&2; exit 2 ;;
esac
common=(-f "$files" --logins "$logins" --think-min "${THINK_MIN:-20}" --think-max "${THINK_MAX:-40}")
case $scenario in
  teachers | mixed) common+=(--teachers "${TEACHERS_CSV:-teachers.csv}") ;;
esac

# A free port for the master, so several runs (or test runs) can share a machine.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

for ((i = 0; i < workers; i++)); do
  CBT_LOADTEST_SLICE="$i/$workers" "$locust" "${common[@]}" --worker \
    --master-host 127.0.0.1 --master-port "$port" >"$out/worker-$i.log" 2>&1 &
  pids+=($!)
done
status=0
"$locust" "${common[@]}" --master --master-bind-host 127.0.0.1 --master-bind-port "$port" \
  --expect-workers "$workers" --headless --host "$host" -u "$users" -r "$rate" -t "$duration" \
  --html "$out/report.html" --csv "$out/stats" --only-summary \
  >"$out/master.log" 2>&1 || status=$?
wait "${pids[@]}" 2>/dev/null || true
pids=()
echo "report: $out/report.html (CSV: $out/stats_stats.csv), locust exit status $status"
exit "$status"
