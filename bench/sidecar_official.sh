# Side-by-side part of bench/sidecar.sh (sourced by it when --official/--with-official is
# given; not run on its own). Measures our daprd ($DAPRD) and the official one ($OFFICIAL) in
# one run: one echo app, one redis-server, two sidecars per runtime (caller without an app,
# callee in front of the app), the same load, rounds alternating between the runtimes.
#
# The official sidecars resolve each other with the SQLite name resolver (bench/official/main.go
# registers it) on their own file, register 127.0.0.1 (DAPR_HOST_IP) and listen on loopback
# only; ours use their default registry under $HOME/.dapr, as in the ours-only run.
# shellcheck shell=bash disable=SC2154

command -v redis-server >/dev/null || { echo "--official needs redis-server (apt-get install -y redis-server)" >&2; exit 2; }
OURS_VERSION=$("$DAPRD" --version 2>/dev/null | head -1 || true)
OFFICIAL_VERSION=$("$OFFICIAL" --version 2>/dev/null | head -1 || true)
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

# One redis-server for both runtimes' state stores.
REDIS_PORT=$(free_port)
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 500); do
  [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true) == PONG ]] && break
  sleep 0.01
done
RES="$WORK/resources"
mkdir -p "$RES"
cat >"$RES/statestore.yaml" <<EOF
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: statestore
spec:
  type: state.redis
  version: v1
  metadata:
  - name: redisHost
    value: "127.0.0.1:$REDIS_PORT"
EOF
NRCONF="$WORK/official-config.yaml"
cat >"$NRCONF" <<EOF
apiVersion: dapr.io/v1alpha1
kind: Configuration
metadata:
  name: official-bench
spec:
  nameResolution:
    component: sqlite
    configuration:
      connectionString: "$WORK/official-nameresolution.db"
EOF
OFFICIAL_ARGS=(--config "$NRCONF" --dapr-listen-addresses 127.0.0.1
  --dapr-internal-grpc-listen-address 127.0.0.1 --metrics-listen-address 127.0.0.1)
export DAPR_HOST_IP=127.0.0.1

start_side() { # ours|official app-id app-port(or 0) -> sets DPID DHTTP
  local bin=$DAPRD extra=() app=() http grpc internal metrics
  if [[ $1 == official ]]; then bin=$OFFICIAL; extra=("${OFFICIAL_ARGS[@]}"); fi
  [[ $3 != 0 ]] && app=(--app-port "$3")
  http=$(free_port); grpc=$(free_port); internal=$(free_port); metrics=$(free_port)
  "$bin" --app-id "$2" "${app[@]}" --dapr-http-port "$http" --dapr-grpc-port "$grpc" \
    --dapr-internal-grpc-port "$internal" --metrics-port "$metrics" --resources-path "$RES" \
    "${extra[@]}" >"$WORK/$1-$2.log" 2>&1 &
  DPID=$!; DHTTP=$http; PIDS+=("$DPID")
  if ! wait_204 "$http" /v1.0/healthz/outbound; then
    echo "--- $WORK/$1-$2.log ---" >&2; tail -20 "$WORK/$1-$2.log" >&2; return 1
  fi
}
rss_kb() { awk "/^$2/ {print \$2}" "/proc/$1/status"; }
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0 && a >= 0) printf "%.2f", a/b; else printf "n/a" }'; }
diff_ms() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", a-b}'; }

APP_PORT=$(free_port)
"$LOADGEN" echo --port "$APP_PORT" >/dev/null &
PIDS+=($!)
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$APP_PORT/" && break; sleep 0.01; done

# 1. Idle RSS: each runtime's callee (app attached, the Redis state store loaded), ready and
# then idle for a second.
declare -A CALLEE CALLER CALLER_HTTP CALLEE_HTTP IDLE
for rt in ours official; do
  start_side "$rt" "callee-$rt" "$APP_PORT"; CALLEE[$rt]=$DPID; CALLEE_HTTP[$rt]=$DHTTP
  wait_204 "$DHTTP" /v1.0/healthz
done
sleep 1
declare -A IDLE_ANON
for rt in ours official; do
  IDLE[$rt]=$(rss_kb "${CALLEE[$rt]}" VmRSS); IDLE_ANON[$rt]=$(rss_kb "${CALLEE[$rt]}" RssAnon)
done
for rt in ours official; do
  start_side "$rt" "caller-$rt" 0; CALLER[$rt]=$DPID; CALLER_HTTP[$rt]=$DHTTP
done
# The official caller finds its callee through the SQLite registry: check the path once.
for rt in ours official; do
  got=$(curl -s -X POST --data ping "http://127.0.0.1:${CALLER_HTTP[$rt]}/v1.0/invoke/callee-$rt/method/echo" || true)
  if [[ $got != ping ]]; then
    echo "invocation through the $rt sidecars does not work (answer: $got); logs:" >&2
    tail -20 "$WORK/$rt-caller-$rt.log" "$WORK/$rt-callee-$rt.log" >&2
    exit 1
  fi
done

# 2. Spawn to /v1.0/healthz/outbound 204 (no app, no components), alternating per round.
declare -A STARTS STARTUP_LINES
for r in $(seq 1 "$ROUNDS"); do
  order=(ours official); (( r % 2 == 0 )) && order=(official ours)
  for rt in "${order[@]}"; do
    if [[ $rt == ours ]]; then
      out=$("$LOADGEN" startup --daprd "$DAPRD" --runs "$RUNS")
    else
      out=$("$LOADGEN" startup --daprd "$OFFICIAL" --runs "$RUNS" --extra "${OFFICIAL_ARGS[*]}")
    fi
    STARTS[$rt]+=" $(field "$out" startup_median_ms)"
    STARTUP_LINES[$rt]+="round $r $rt: $(grep -v '^RESULT' <<<"$out")"$'\n'
  done
done

# 3. Invocation latency: direct, then both runtimes' two-sidecar paths in alternating order.
D50S="" D99S="" ROUND_LINES=""
declare -A V50S V99S CPU_TICKS
# A run with failed requests still reports (its errors are counted per runtime below); only a
# run without figures stops the benchmark.
declare -A ERRORS
load() {
  local out
  out=$("$LOADGEN" load --rate "$RATE" --duration "$DURATION" --connections "$CONNS" --body "$BODY" "$@" 2>&1) || true
  if ! grep -q '^RESULT' <<<"$out"; then echo "load generator failed for $*: $out" >&2; exit 1; fi
  echo "$out"
}
count_errors() { ERRORS[$1]=$(( ${ERRORS[$1]:-0} + $(field "$2" errors) )); }
for r in $(seq 1 "$ROUNDS"); do
  DIRECT=$(load --url "http://127.0.0.1:$APP_PORT/echo")
  D50S+=" $(field "$DIRECT" p50_ms)"; D99S+=" $(field "$DIRECT" p99_ms)"
  ROUND_LINES+="round $r direct: $(grep -v '^RESULT' <<<"$DIRECT")"$'\n'
  order=(ours official); (( r % 2 == 0 )) && order=(official ours)
  for rt in "${order[@]}"; do
    t0=$(( $(cpu_ticks "${CALLEE[$rt]}") + $(cpu_ticks "${CALLER[$rt]}") ))
    VIA=$(load --url "http://127.0.0.1:${CALLER_HTTP[$rt]}/v1.0/invoke/callee-$rt/method/echo")
    CPU_TICKS[$rt]=$(( ${CPU_TICKS[$rt]:-0} + $(cpu_ticks "${CALLEE[$rt]}") + $(cpu_ticks "${CALLER[$rt]}") - t0 ))
    V50S[$rt]+=" $(field "$VIA" p50_ms)"; V99S[$rt]+=" $(field "$VIA" p99_ms)"; count_errors "$rt" "$VIA"
    ROUND_LINES+="round $r $rt via 2 sidecars: $(grep -v '^RESULT' <<<"$VIA")"$'\n'
  done
done
declare -A HWM_CALLEE HWM_CALLER
for rt in ours official; do
  HWM_CALLEE[$rt]=$(rss_kb "${CALLEE[$rt]}" VmHWM); HWM_CALLER[$rt]=$(rss_kb "${CALLER[$rt]}" VmHWM)
done

# 4. State through each runtime's callee sidecar into the one Redis: saves of 100 keys (values
# of --body bytes), then gets of the same keys, alternating runtimes per round.
declare -A S50S S99S G50S G99S
for r in $(seq 1 "$ROUNDS"); do
  order=(ours official); (( r % 2 == 0 )) && order=(official ours)
  for rt in "${order[@]}"; do
    SAVE=$(load --url "http://127.0.0.1:${CALLEE_HTTP[$rt]}/v1.0/state/statestore" --ids 100 \
      --json "[{\"key\":\"$rt-{id}\",\"value\":\"{pad}\"}]")
    S50S[$rt]+=" $(field "$SAVE" p50_ms)"; S99S[$rt]+=" $(field "$SAVE" p99_ms)"; count_errors "$rt" "$SAVE"
    ROUND_LINES+="round $r $rt state save: $(grep -v '^RESULT' <<<"$SAVE")"$'\n'
  done
  for rt in "${order[@]}"; do
    GET=$(load --url "http://127.0.0.1:${CALLEE_HTTP[$rt]}/v1.0/state/statestore/$rt-{id}" --ids 100 --method GET)
    G50S[$rt]+=" $(field "$GET" p50_ms)"; G99S[$rt]+=" $(field "$GET" p99_ms)"; count_errors "$rt" "$GET"
    ROUND_LINES+="round $r $rt state get: $(grep -v '^RESULT' <<<"$GET")"$'\n'
  done
done
# The saved values really are in Redis (a get that answered 204 would also have counted).
for rt in ours official; do
  len=$(curl -s "http://127.0.0.1:${CALLEE_HTTP[$rt]}/v1.0/state/statestore/$rt-7" | wc -c)
  if (( len < BODY )); then echo "state get through $rt returned $len bytes, expected the saved value" >&2; exit 1; fi
done

# 5. The table.
D50=$(median $D50S); D99=$(median $D99S)
declare -A ROW
for rt in ours official; do
  v50=$(median ${V50S[$rt]}); v99=$(median ${V99S[$rt]})
  ROW[$rt,idle]=$(mb "${IDLE[$rt]}"); ROW[$rt,idle_anon]=$(mb "${IDLE_ANON[$rt]}")
  ROW[$rt,hwm_callee]=$(mb "${HWM_CALLEE[$rt]}")
  ROW[$rt,hwm_caller]=$(mb "${HWM_CALLER[$rt]}")
  ROW[$rt,start]=$(median ${STARTS[$rt]})
  ROW[$rt,p50]=$v50; ROW[$rt,p99]=$v99
  ROW[$rt,add50]=$(diff_ms "$v50" "$D50"); ROW[$rt,add99]=$(diff_ms "$v99" "$D99")
  ROW[$rt,save50]=$(median ${S50S[$rt]}); ROW[$rt,save99]=$(median ${S99S[$rt]})
  ROW[$rt,get50]=$(median ${G50S[$rt]}); ROW[$rt,get99]=$(median ${G99S[$rt]})
  ROW[$rt,cpu]=$(awk -v t="${CPU_TICKS[$rt]}" -v hz="$(getconf CLK_TCK)" -v s="$((ROUNDS * DURATION))" 'BEGIN{printf "%.3f", t/hz/s}')
done
line() { # label key unit
  printf '%-58s %10s %10s %8s\n' "$1" "${ROW[ours,$2]}" "${ROW[official,$2]}" "$(ratio "${ROW[ours,$2]}" "${ROW[official,$2]}")"
}
TABLE=$(
  printf '%-58s %10s %10s %8s\n' "" ours official ours/off
  line "idle RSS, callee with app + redis state store (MB)" idle
  line "  of which anonymous (RssAnon: heap, stacks) (MB)" idle_anon
  line "peak RSS after the invocation load, callee (MB)" hwm_callee
  line "peak RSS after the invocation load, caller (MB)" hwm_caller
  line "spawn to /v1.0/healthz/outbound 204, median (ms)" start
  line "added by two sidecars at $RATE req/s, p50 (ms)" add50
  line "added by two sidecars at $RATE req/s, p99 (ms)" add99
  line "through two sidecars, p50 (ms)" p50
  line "through two sidecars, p99 (ms)" p99
  line "state save via Redis at $RATE req/s, p50 (ms)" save50
  line "state save via Redis at $RATE req/s, p99 (ms)" save99
  line "state get via Redis at $RATE req/s, p50 (ms)" get50
  line "state get via Redis at $RATE req/s, p99 (ms)" get99
  line "CPU of both sidecars under the invocation load (vCPU)" cpu
)

REPORT=$(cat <<EOF
ours: $OURS_VERSION ($DAPRD); official: daprd $OFFICIAL_VERSION ($OFFICIAL)
load: $RATE req/s, $CONNS connections, ${DURATION}s per run, ${BODY} B bodies, $ROUNDS rounds alternating ours/official; the median round is reported
direct to the app (median of rounds, ms): p50 $D50 p99 $D99; redis-server $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
$TABLE
failed requests over all runs: ours ${ERRORS[ours]:-0}, official ${ERRORS[official]:-0}
${STARTUP_LINES[ours]}${STARTUP_LINES[official]}${ROUND_LINES%$'\n'}
load average (1/5/15 min) before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)
EOF
)
echo "$REPORT"

if [[ $RECORD == 1 ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — \`bench/sidecar.sh ${ARGS_SEEN//$REAL_HOME/\~}\` (git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')), ours vs official side by side"
    echo
    echo '```'
    echo "$REPORT"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md" >&2
fi
