#!/usr/bin/env bash
# Sidecar benchmark (not a test): idle RSS, time to /v1.0/healthz/outbound, and the latency
# added by one service invocation through two daprd sidecars at a constant request rate.
#
# Usage: bench/sidecar.sh [--rate 1000] [--duration 10] [--connections 16] [--runs 20]
#                         [--body 1024] [--rounds 3] [--record]
#                         [--official PATH | --with-official]
#   --record         append the figures to bench/RESULTS.md
#   --official PATH  also measure the official daprd at PATH in the same run, side by side:
#                    the same app, the same load, alternating rounds, plus state save/get
#                    through one redis-server (needs redis-server); prints both columns and
#                    the ratios ours/official
#   --with-official  the same with the binary bench/official-daprd.sh builds or has cached
# Needs: cargo, curl. Uses only loopback and free ports; cleans up every process it starts.
set -euo pipefail

RATE=1000 DURATION=10 CONNS=16 RUNS=20 RECORD=0 BODY=1024 ROUNDS=3 OFFICIAL=""
ARGS_SEEN="$*" REAL_HOME=$HOME
while [[ $# -gt 0 ]]; do
  case "$1" in
    --official) OFFICIAL=$2; shift 2 ;;
    --with-official) OFFICIAL=build; shift ;;
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --body) BODY=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1 (valid: --rate --duration --connections --runs --body --rounds --record --official PATH --with-official)" >&2; exit 2 ;;
  esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if [[ $OFFICIAL == build ]]; then
  OFFICIAL=$(bash "$ROOT/bench/official-daprd.sh")
fi
if [[ -n $OFFICIAL && ! -x $OFFICIAL ]]; then
  echo "--official: $OFFICIAL is not an executable file" >&2; exit 2
fi
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
export HOME="$WORK"   # the sidecars' shared name-resolution registry lives in $HOME/.dapr

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_204() { # port path
  for _ in $(seq 1 2000); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2" || true) == 204 ]] && return 0
    sleep 0.005
  done
  echo "timed out waiting for 204 on :$1$2" >&2; return 1
}
start_daprd() { # app-id app-port(or 0) -> sets DPID DHTTP
  local http grpc internal metrics
  http=$(free_port); grpc=$(free_port); internal=$(free_port); metrics=$(free_port)
  local app=()
  [[ $2 != 0 ]] && app=(--app-port "$2")
  "$DAPRD" --app-id "$1" "${app[@]}" --dapr-http-port "$http" --dapr-grpc-port "$grpc" \
    --dapr-internal-grpc-port "$internal" --metrics-port "$metrics" >"$WORK/$1.log" 2>&1 &
  DPID=$!; DHTTP=$http; PIDS+=("$DPID")
  wait_204 "$http" /v1.0/healthz/outbound
}

field() { grep '^RESULT' <<<"$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1; }
median() { tr ' ' '\n' <<<"$*" | grep . | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

if [[ -n $OFFICIAL ]]; then
  # shellcheck source=bench/sidecar_official.sh
  source "$ROOT/bench/sidecar_official.sh"
  exit 0
fi

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
APP_PORT=$(free_port)
"$LOADGEN" echo --port "$APP_PORT" >/dev/null &
PIDS+=($!)
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/" && break; sleep 0.01; done

# 1. Idle RSS of a sidecar with an app, after it is ready and idle for a second.
start_daprd callee "$APP_PORT"; CALLEE_PID=$DPID
wait_204 "$DHTTP" /v1.0/healthz
sleep 1
RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$CALLEE_PID/status")
start_daprd caller 0; CALLER_HTTP=$DHTTP; CALLER_PID=$DPID

# 2. Spawn to /v1.0/healthz/outbound 204 (no app, no components).
STARTUP=$("$LOADGEN" startup --daprd "$DAPRD" --runs "$RUNS")

# 3. Latency: the app directly, then through caller sidecar -> callee sidecar -> app, in
# alternating rounds so background load hits both sides alike; the median round is reported.
D50S="" D99S="" V50S="" V99S="" ROUND_LINES=""
CALLEE_T0=$(cpu_ticks "$CALLEE_PID"); CALLER_T0=$(cpu_ticks "$CALLER_PID")
for r in $(seq 1 "$ROUNDS"); do
  DIRECT=$("$LOADGEN" load --url "http://127.0.0.1:$APP_PORT/echo" --rate "$RATE" --duration "$DURATION" --connections "$CONNS" --body "$BODY")
  VIA=$("$LOADGEN" load --url "http://127.0.0.1:$CALLER_HTTP/v1.0/invoke/callee/method/echo" --rate "$RATE" --duration "$DURATION" --connections "$CONNS" --body "$BODY")
  D50S+=" $(field "$DIRECT" p50_ms)"; D99S+=" $(field "$DIRECT" p99_ms)"
  V50S+=" $(field "$VIA" p50_ms)"; V99S+=" $(field "$VIA" p99_ms)"
  ROUND_LINES+="round $r direct: $(grep -v '^RESULT' <<<"$DIRECT")"$'\n'
  ROUND_LINES+="round $r via 2 sidecars: $(grep -v '^RESULT' <<<"$VIA")"$'\n'
done
CALLEE_CPU=$(awk -v a="$(cpu_ticks "$CALLEE_PID")" -v b="$CALLEE_T0" -v hz="$(getconf CLK_TCK)" -v s="$((ROUNDS * DURATION))" 'BEGIN{printf "%.3f", (a-b)/hz/s}')
CALLER_CPU=$(awk -v a="$(cpu_ticks "$CALLER_PID")" -v b="$CALLER_T0" -v hz="$(getconf CLK_TCK)" -v s="$((ROUNDS * DURATION))" 'BEGIN{printf "%.3f", (a-b)/hz/s}')
RSS_LOADED_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$CALLEE_PID/status")
CALLER_HWM_KB=$(awk '/^VmHWM/ {print $2}' "/proc/$CALLER_PID/status")
D50=$(median $D50S); D99=$(median $D99S); V50=$(median $V50S); V99=$(median $V99S)
ADD50=$(awk -v a="$V50" -v b="$D50" 'BEGIN{printf "%+.3f", a-b}')
ADD99=$(awk -v a="$V99" -v b="$D99" 'BEGIN{printf "%+.3f", a-b}')

REPORT=$(cat <<EOF
daprd idle RSS (app attached, ready + 1 s idle): $((RSS_KB / 1024)).$(( (RSS_KB % 1024) * 10 / 1024 )) MB ($RSS_KB kB)
daprd peak RSS after load (VmHWM): callee $RSS_LOADED_KB kB, caller $CALLER_HWM_KB kB
$(grep -v '^RESULT' <<<"$STARTUP")
load: $RATE req/s, $CONNS connections, ${DURATION}s per run, ${BODY} B POST, $ROUNDS alternating rounds
${ROUND_LINES%$'\n'}
median of rounds, ms: direct p50 $D50 p99 $D99; via two sidecars p50 $V50 p99 $V99
added by two sidecars (median rounds): p50 $ADD50 ms, p99 $ADD99 ms
sidecar CPU while under load (user+sys over the loaded time, in vCPU at $RATE req/s): callee $CALLEE_CPU, caller $CALLER_CPU
load average (1/5/15 min) before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)
EOF
)
echo "$REPORT"

if [[ $RECORD == 1 ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — \`bench/sidecar.sh --rate $RATE --duration $DURATION --connections $CONNS --runs $RUNS --rounds $ROUNDS --record\` (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo '```'
    echo "$REPORT"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md" >&2
fi
