#!/usr/bin/env bash
# Workflow benchmark (not a test): workflows per second for a chain of three activities with
# one worker (the official Python SDK's WorkflowRuntime), and the time from start to
# completion of one such workflow, through one daprd with its state in Redis.
#
# Usage: bench/workflows.sh [--workflows 500] [--latency-runs 50] [--clients 16] [--record]
#   --workflows     how many workflows the throughput run schedules at once
#   --latency-runs  how many workflows the latency run starts one after the other
#   --clients       client threads scheduling and waiting in the throughput run
#   --record        append the figures to bench/RESULTS.md
# Needs: cargo, curl, redis-server, python3 with the dapr package (pip install dapr).
set -euo pipefail

N=500 M=50 C=16 RECORD=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --workflows) N=$2; shift 2 ;;
    --latency-runs) M=$2; shift 2 ;;
    --clients) C=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1 (valid: --workflows --latency-runs --clients --record)" >&2; exit 2 ;;
  esac
done
command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install -y redis-server)" >&2; exit 2; }
python3 -c 'import dapr.ext.workflow' 2>/dev/null || { echo "the Python SDK is needed (pip install dapr)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
echo "building (release)..." >&2
cargo build --release --quiet --bin daprd
TARGET=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
DAPRD="$TARGET/release/daprd"

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
export HOME="$WORK"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.02; done
mkdir -p "$WORK/resources"
cat >"$WORK/resources/statestore.yaml" <<YAML
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: 127.0.0.1:$REDIS_PORT
  - name: actorStateStore
    value: "true"
YAML

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
HTTP=$(free_port); GRPC=$(free_port); INTERNAL=$(free_port); METRICS=$(free_port)
"$DAPRD" --app-id wfbench --resources-path "$WORK/resources" --dapr-http-port "$HTTP" \
  --dapr-grpc-port "$GRPC" --dapr-internal-grpc-port "$INTERNAL" --metrics-port "$METRICS" \
  >"$WORK/daprd.log" 2>&1 &
DPID=$!; PIDS+=("$DPID")
for _ in $(seq 1 2000); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/v1.0/healthz" || true) == 204 ]] && break
  sleep 0.005
done

OUT=$(DAPR_GRPC_PORT=$GRPC DAPR_HTTP_PORT=$HTTP python3 "$ROOT/bench/workflows.py" "$N" "$M" "$C" 2>"$WORK/worker.log") \
  || { tail -20 "$WORK/worker.log" >&2; tail -20 "$WORK/daprd.log" >&2; exit 1; }
field() { grep '^RESULT' <<<"$OUT" | tr ' ' '\n' | sed -n "s/^$1=//p" | head -1; }

REPORT=$(cat <<REP
workflows: chain of 3 activities, one Python SDK worker (dapr $(python3 -c 'import importlib.metadata as m; print(m.version("dapr"))')), one daprd, state in Redis ($(redis-server --version | awk '{print $3}'))
throughput: $(field n) workflows scheduled at once from $C client threads: $(field completed) completed in $(field elapsed_s) s = $(field wf_per_s) workflows/s
latency: $(field m) workflows one after the other, start -> completion ms: median $(field p50_ms)  p90 $(field p90_ms)  min $(field min_ms)
daprd peak RSS (VmHWM): $(awk '/^VmHWM/ {print $2}' "/proc/$DPID/status") kB
load average (1/5/15 min) before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)
REP
)
echo "$REPORT"

if [[ $RECORD == 1 ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — \`bench/workflows.sh --workflows $N --latency-runs $M --clients $C --record\` (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo '```'
    echo "$REPORT"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md" >&2
fi
