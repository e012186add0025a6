#!/usr/bin/env bash
# Actor benchmark (not a test): actor calls per second through one sidecar to a tiny actor app
# (`loadgen echo --actor-type`: `GET /dapr/config` lists the type, `PUT /actors/...` echoes
# the body), and the latency of an actor call next to a plain service invocation of the same
# app through the same sidecar, at the same constant rate.
#
# Usage: bench/actors.sh [--calls 50000] [--connections 32] [--ids 1000] [--rate 1000]
#                        [--duration 10] [--body 256] [--rounds 3] [--record]
#   --calls        how many calls each throughput run releases within one second; the rate
#                  reported is calls / time until the last one was answered
#   --ids          actor ids the calls are spread over (slot i calls id i mod N); the
#                  throughput run is repeated with a single id, whose calls take turns
#   --rate         request rate of the latency runs (req/s), --duration seconds each, in
#                  --rounds alternating rounds (the app directly, service invocation, actor
#                  call); the median round is reported
#   --record       append the figures to bench/RESULTS.md
# Needs: cargo, curl. The actor state store is `state.in-memory` (the calls touch no state).
# Loopback and free ports only; cleans up every process it starts.
set -euo pipefail

CALLS=50000 CONNS=32 IDS=1000 RATE=1000 DURATION=10 BODY=256 ROUNDS=3 RECORD=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --calls) CALLS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --ids) IDS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --body) BODY=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1 (valid: --calls --connections --ids --rate --duration --body --rounds --record)" >&2; exit 2 ;;
  esac
done

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
field() { grep '^RESULT' <<<"$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
median() { tr ' ' '\n' <<<"$*" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
rate_of() { grep -v '^RESULT' <<<"$1" | sed -n 's/.*(\([0-9]*\)\/s).*/\1/p'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

mkdir -p "$WORK/resources"
cat >"$WORK/resources/actorstore.yaml" <<EOF
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: actorstore
spec:
  type: state.in-memory
  version: v1
  metadata:
  - name: actorStateStore
    value: "true"
EOF

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
APP_PORT=$(free_port)
"$LOADGEN" echo --port "$APP_PORT" --actor-type BenchActor >/dev/null &
PIDS+=($!)
wait_code "http://127.0.0.1:$APP_PORT/dapr/config" 200

HTTP=$(free_port)
"$DAPRD" --app-id actorbench --app-port "$APP_PORT" --resources-path "$WORK/resources" \
  --dapr-http-port "$HTTP" --dapr-grpc-port "$(free_port)" --dapr-internal-grpc-port "$(free_port)" \
  --metrics-port "$(free_port)" >"$WORK/daprd.log" 2>&1 &
DPID=$!; PIDS+=("$DPID")
# Ready once the actor runtime has read the app's /dapr/config.
wait_code "http://127.0.0.1:$HTTP/v1.0/healthz" 204
curl -s "http://127.0.0.1:$HTTP/v1.0/metadata" | grep -q '"BenchActor"' \
  || { echo "the sidecar does not host BenchActor:"; cat "$WORK/daprd.log"; exit 1; } >&2

DAPR="http://127.0.0.1:$HTTP"
ACTOR_URL="$DAPR/v1.0/actors/BenchActor/{id}/method/echo"
INVOKE_URL="$DAPR/v1.0/invoke/actorbench/method/echo"
DIRECT_URL="http://127.0.0.1:$APP_PORT/echo"
[[ $(curl -s -X POST -d ping "$DAPR/v1.0/actors/BenchActor/0/method/echo") == ping ]] \
  || { echo "an actor call did not echo its body" >&2; exit 1; }

# 1. Throughput: CALLS calls released within one second over CONNS connections.
burst() { "$LOADGEN" load --url "$1" --rate "$CALLS" --duration 1 --warmup 0 --connections "$CONNS" --body "$BODY" --ids "$2"; }
THRU_ACTORS=$(burst "$ACTOR_URL" "$IDS")
THRU_ONE=$(burst "$ACTOR_URL" 1)
THRU_INVOKE=$(burst "$INVOKE_URL" 1)

# 2. Latency at a fixed rate, alternating rounds so background load hits every kind alike.
D50S="" D99S="" I50S="" I99S="" A50S="" A99S="" ROUND_LINES=""
T0=$(cpu_ticks "$DPID")
for r in $(seq 1 "$ROUNDS"); do
  fixed() { "$LOADGEN" load --url "$1" --rate "$RATE" --duration "$DURATION" --connections 16 --body "$BODY" --ids "$IDS"; }
  DIRECT=$(fixed "$DIRECT_URL"); INVOKE=$(fixed "$INVOKE_URL"); ACTOR=$(fixed "$ACTOR_URL")
  D50S+=" $(field "$DIRECT" p50_ms)"; D99S+=" $(field "$DIRECT" p99_ms)"
  I50S+=" $(field "$INVOKE" p50_ms)"; I99S+=" $(field "$INVOKE" p99_ms)"
  A50S+=" $(field "$ACTOR" p50_ms)"; A99S+=" $(field "$ACTOR" p99_ms)"
  ROUND_LINES+="round $r app directly: $(grep -v '^RESULT' <<<"$DIRECT")"$'\n'
  ROUND_LINES+="round $r service invocation: $(grep -v '^RESULT' <<<"$INVOKE")"$'\n'
  ROUND_LINES+="round $r actor call: $(grep -v '^RESULT' <<<"$ACTOR")"$'\n'
done
CPU=$(awk -v a="$(cpu_ticks "$DPID")" -v b="$T0" -v hz="$(getconf CLK_TCK)" -v s="$((ROUNDS * (DURATION + 2) * 2))" 'BEGIN{printf "%.3f", (a-b)/hz/s}')
D50=$(median $D50S); D99=$(median $D99S); I50=$(median $I50S); I99=$(median $I99S); A50=$(median $A50S); A99=$(median $A99S)
ACTIVE=$(curl -s "$DAPR/v1.0/metadata" | sed -n 's/.*"activeActors":\[{[^]]*"count":\([0-9]*\).*/\1/p')

REPORT=$(cat <<EOF
one sidecar, app = loadgen echo hosting BenchActor (HTTP/1.1); ${BODY} B POST bodies; actor state store state.in-memory
throughput, $CALLS calls released within 1 s over $CONNS connections:
  actor calls over $IDS ids: $(grep -v '^RESULT' <<<"$THRU_ACTORS")
  actor calls to one id (turn-based): $(grep -v '^RESULT' <<<"$THRU_ONE")
  service invocation of the same app: $(grep -v '^RESULT' <<<"$THRU_INVOKE")
  => $(rate_of "$THRU_ACTORS") actor calls/s over $IDS ids, $(rate_of "$THRU_ONE")/s to one id, $(rate_of "$THRU_INVOKE") invocations/s
fixed rate: $RATE req/s, 16 connections, ${DURATION}s per run, $ROUNDS alternating rounds; actor calls over $IDS ids
${ROUND_LINES%$'\n'}
median of rounds, ms: app directly p50 $D50 p99 $D99; service invocation p50 $I50 p99 $I99; actor call p50 $A50 p99 $A99
active actors after the runs: ${ACTIVE:-?}; sidecar CPU during the invocation and actor runs (2 s warm-up included): $CPU vCPU at $RATE req/s; peak RSS (VmHWM) $(awk '/^VmHWM/ {print $2}' "/proc/$DPID/status") kB
load average (1/5/15 min) before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)
EOF
)
echo "$REPORT"

if [[ $RECORD == 1 ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — \`bench/actors.sh --calls $CALLS --connections $CONNS --ids $IDS --rate $RATE --duration $DURATION --body $BODY --rounds $ROUNDS --record\` (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo '```'
    echo "$REPORT"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md" >&2
fi
