#!/usr/bin/env bash
# Pub/sub benchmark (not a test): messages per second through one publisher sidecar and one
# subscriber sidecar over Redis Streams (pubsub.redis), and end-to-end latency (publish
# request released -> event delivered to the subscriber app) at a fixed publish rate.
#
# Usage: bench/pubsub.sh [--messages 50000] [--connections 32] [--rate 1000] [--duration 10]
#                        [--body 256] [--record]
#   --messages     how many messages the throughput run publishes, as fast as it can
#   --rate         publish rate of the latency run (messages/s), for --duration seconds
#   --record       append the figures to bench/RESULTS.md
# Needs: cargo, curl, redis-server. Loopback and free ports only; cleans up what it starts.
set -euo pipefail

MESSAGES=50000 CONNS=32 RATE=1000 DURATION=10 BODY=256 RECORD=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --messages) MESSAGES=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --body) BODY=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1 (valid: --messages --connections --rate --duration --body --record)" >&2; exit 2 ;;
  esac
done
command -v redis-server >/dev/null || { echo "redis-server is needed (apt-get install -y redis-server)" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
echo "building (release)..." >&2
cargo build --release --quiet --bin daprd --example loadgen
TARGET=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
DAPRD="$TARGET/release/daprd"
LOADGEN="$TARGET/release/examples/loadgen"

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
wait_code() { # url code
  for _ in $(seq 1 2000); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$1" || true) == "$2" ]] && return 0
    sleep 0.005
  done
  echo "timed out waiting for $2 from $1" >&2; return 1
}
start_daprd() { # app-id app-port(or 0) -> sets DPID DHTTP
  local http grpc internal metrics
  http=$(free_port); grpc=$(free_port); internal=$(free_port); metrics=$(free_port)
  local app=()
  [[ $2 != 0 ]] && app=(--app-port "$2")
  "$DAPRD" --app-id "$1" "${app[@]}" --resources-path "$WORK/resources" --dapr-http-port "$http" \
    --dapr-grpc-port "$grpc" --dapr-internal-grpc-port "$internal" --metrics-port "$metrics" \
    >"$WORK/$1.log" 2>&1 &
  DPID=$!; DHTTP=$http; PIDS+=("$DPID")
  wait_code "http://127.0.0.1:$http/v1.0/healthz" 204
}
field() { grep '^RESULT' <<<"$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
# Polls the sink until it has seen $1 messages or nothing new arrived for 5 s; prints its stats.
drain() {
  local want=$1 seen=-1 still=0 stats
  while :; do
    stats=$(curl -s "http://127.0.0.1:$SINK_PORT/stats")
    local n; n=$(field "$stats" received)
    [[ $n -ge $want ]] && break
    if [[ $n == "$seen" ]]; then still=$((still + 1)); [[ $still -ge 50 ]] && break; else still=0; fi
    seen=$n; sleep 0.1
  done
  echo "$stats"
}

REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 200); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.02; done
mkdir -p "$WORK/resources"
cat >"$WORK/resources/pubsub.yaml" <<EOF
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: pubsub
spec:
  type: pubsub.redis
  version: v1
  metadata:
  - name: redisHost
    value: 127.0.0.1:$REDIS_PORT
  - name: redisPassword
    value: ""
EOF

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
SINK_PORT=$(free_port)
"$LOADGEN" sink --port "$SINK_PORT" --pubsub pubsub --topic orders >/dev/null &
PIDS+=($!)
wait_code "http://127.0.0.1:$SINK_PORT/stats" 200
start_daprd subscriber "$SINK_PORT"; SUB_PID=$DPID
start_daprd publisher 0; PUB_PID=$DPID; PUB_HTTP=$DHTTP
PUBLISH_URL="http://127.0.0.1:$PUB_HTTP/v1.0/publish/pubsub/orders"
# The subscriber's consumer group exists once its sidecar is ready; one message proves the path.
curl -sf -X POST -H 'content-type: application/json' -d '{"t":0}' "$PUBLISH_URL"
[[ $(field "$(drain 1)" received) -ge 1 ]] || { echo "the subscriber never received the first message" >&2; exit 1; }

# 1. Throughput: publish MESSAGES as fast as CONNS connections can, count them in.
curl -s -X POST "http://127.0.0.1:$SINK_PORT/reset" >/dev/null
T0=$(date +%s.%N)
PUB=$("$LOADGEN" load --url "$PUBLISH_URL" --rate "$MESSAGES" --duration 1 --warmup 0 --connections "$CONNS" --body "$BODY" --stamp 1)
THRU=$(drain "$MESSAGES")
T1=$(date +%s.%N)
RECEIVED=$(field "$THRU" received)
E2E_RATE=$(awk -v n="$RECEIVED" -v a="$T0" -v b="$T1" 'BEGIN{printf "%.0f", n/(b-a)}')

# 2. Latency at a fixed rate.
curl -s -X POST "http://127.0.0.1:$SINK_PORT/reset" >/dev/null
FIXED=$("$LOADGEN" load --url "$PUBLISH_URL" --rate "$RATE" --duration "$DURATION" --warmup 0 --connections 8 --body "$BODY" --stamp 1)
LAT=$(drain "$(field "$FIXED" n)")

REPORT=$(cat <<EOF
pubsub.redis ($(redis-server --version | awk '{print $3}')), one publisher sidecar (no app) -> Redis Streams -> one subscriber sidecar -> HTTP app; ${BODY} B JSON bodies
throughput: $MESSAGES messages published over $CONNS connections: publish side $(grep -v '^RESULT' <<<"$PUB" | sed 's/;.*//')
  delivered $RECEIVED of $MESSAGES; $(field "$THRU" rate_per_s) msg/s between first and last arrival; $E2E_RATE msg/s from first publish to last arrival
fixed rate: $RATE msg/s for ${DURATION}s: delivered $(field "$LAT" received) of $(field "$FIXED" n); end-to-end latency ms: p50 $(field "$LAT" p50_ms)  p90 $(field "$LAT" p90_ms)  p99 $(field "$LAT" p99_ms)  p99.9 $(field "$LAT" p999_ms)  max $(field "$LAT" max_ms)
  publish request latency ms: p50 $(field "$FIXED" p50_ms)  p99 $(field "$FIXED" p99_ms)
sidecar peak RSS (VmHWM): publisher $(awk '/^VmHWM/ {print $2}' "/proc/$PUB_PID/status") kB, subscriber $(awk '/^VmHWM/ {print $2}' "/proc/$SUB_PID/status") kB
load average (1/5/15 min) before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)
EOF
)
echo "$REPORT"
[[ $RECEIVED -ge $MESSAGES ]] || echo "warning: $((MESSAGES - RECEIVED)) messages had not arrived when the sink went quiet" >&2

if [[ $RECORD == 1 ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — \`bench/pubsub.sh --messages $MESSAGES --connections $CONNS --rate $RATE --duration $DURATION --body $BODY --record\` (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo '```'
    echo "$REPORT"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md" >&2
fi
