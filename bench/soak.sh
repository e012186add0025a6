#!/usr/bin/env bash
# Soak and fault run (not a test): two daprd sidecars sharing one Redis state store, and an
# echo app behind the second, under mixed load for a fixed time while Redis, the first
# sidecar and the app are killed and restarted. Then checks that
#   - every acknowledged write (204) is readable with its last acknowledged value, through
#     the first sidecar and directly in Redis (`HGET soak-caller||<key> data`);
#   - the load recovered after the faults (every kind of operation succeeded in the last
#     tenth of the run) and no read saw a value that was never written or was overwritten
#     by an acknowledged write;
#   - RSS and open descriptors of the sidecar that was never restarted (the callee's) are
#     within 10 % of their baseline (taken after a warm-up load and the settling pause);
#   - no process the script started is left behind.
# Prints a summary and exits 1 if a check fails.
#
# Usage: bench/soak.sh [--duration 600] [--warmup 20] [--settle 30] [--workers 4]
#                      [--invokers 2] [--burst 32] [--keys 50] [--redis-down 3] [--seed 1]
#                      [--keep] [--record]
#   --duration    seconds of load with faults (faults at 25 %, 50 % and 75 % of it)
#   --warmup      seconds of the same load (bursts included) before the baseline, so that the
#                 baseline is a warmed-up process (allocator arenas and pools grown once)
#   --settle      idle seconds before each RSS/descriptor reading; to pass, idle pooled
#                 connections must be closed within it
#   --workers     state load threads (each owns --keys keys); --invokers: invocation threads
#   --burst       concurrent invocations, each on its own connection, fired at 3.5 %,
#                 13.5 %, ..., 93.5 % of the run (0: none)
#   --redis-down  seconds Redis stays down after its SIGKILL
#   --keep        keep the work directory (logs, acknowledgement records) and print its path
#   --record      append the summary to bench/RESULTS.md
# Needs: cargo, python3, redis-server, redis-cli, curl. Uses only loopback and free ports; every
# process it starts is stopped, and their absence is checked.
set -euo pipefail

DURATION=600 WARMUP=20 SETTLE=30 WORKERS=4 INVOKERS=2 BURST=32 KEYS=50 REDIS_DOWN=3 SEED=1 KEEP=0 RECORD=0
ARGS="$*"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --invokers) INVOKERS=$2; shift 2 ;;
    --burst) BURST=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --redis-down) REDIS_DOWN=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --record) RECORD=1; shift ;;
    *) echo "unknown option $1 (valid: --duration --warmup --settle --workers --invokers --burst --keys --redis-down --seed --keep --record)" >&2; exit 2 ;;
  esac
done
if (( DURATION < 20 )); then echo "--duration must be at least 20 seconds" >&2; exit 2; fi

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
echo "building daprd (release)..." >&2
cargo build --release --quiet --bin daprd
TARGET=$(cargo metadata --format-version 1 --no-deps 2>/dev/null | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
DAPRD="$TARGET/release/daprd"

WORK=$(mktemp -d -t dapr-soak.XXXXXX)
declare -A PID=()   # role -> pid of the running instance
STARTED=()          # every pid this script started, for the left-behind check
FORCED=()           # processes that did not exit within 10 s of SIGTERM
stop_pid() { # pid: SIGTERM, then SIGKILL after 10 s
  local p=$1
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if kill -9 "$p" 2>/dev/null; then FORCED+=("$p"); fi
  wait "$p" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  if [[ $rc != 0 && -z ${REPORT:-} ]]; then # failed before the summary: show the logs' ends
    for log in "$WORK"/*.log; do
      if [[ -s $log ]]; then echo "--- ${log##*/}" >&2; tail -n 15 "$log" >&2; fi
    done
  fi
  for p in "${STARTED[@]}"; do if kill -0 "$p" 2>/dev/null; then stop_pid "$p"; fi; done
  if [[ $KEEP == 1 ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
export HOME="$WORK"   # the sidecars' shared name-resolution registry lives in $HOME/.dapr

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
sleep_until() { # epoch seconds
  local d; d=$(awk -v t="$1" -v n="$(now)" 'BEGIN{d=t-n; print (d>0)?d:0}')
  sleep "$d"
}
wait_for() { # seconds description command...
  local until; until=$(awk -v n="$(now)" -v s="$1" 'BEGIN{printf "%.3f", n+s}')
  local what=$2; shift 2
  while ! "$@" >/dev/null 2>&1; do
    if awk -v n="$(now)" -v u="$until" 'BEGIN{exit !(n>u)}'; then echo "timed out waiting for $what" >&2; return 1; fi
    sleep 0.05
  done
}
redis_up() { [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]]; }
http_204() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$1$2") == 204 ]]; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
sockets() { # pid: the process's TCP sockets by peer, e.g. "3 listening, 32 to the app, ..."
  python3 - "$1" "$APP_PORT" "$REDIS_PORT" <<'PY'
import os, sys
pid, app, redis = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if link.startswith("socket:["):
        inodes.add(link[8:-1])
socks = []
for table in ("tcp", "tcp6"):
    with open(f"/proc/{pid}/net/{table}") as f:
        for line in list(f)[1:]:
            c = line.split()
            if c[9] in inodes:
                socks.append((int(c[1].rsplit(":", 1)[1], 16), int(c[2].rsplit(":", 1)[1], 16), c[3]))
listening = {l for l, _, st in socks if st == "0A"}
kinds = {}
for local, remote, st in socks:
    kind = ("listening" if st == "0A" else "to the app" if remote == app else "to redis" if remote == redis
            else "inbound" if local in listening else "to other sidecars")
    kinds[kind] = kinds.get(kind, 0) + 1
print(", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none")
PY
}

# ---- the pieces ----
REDIS_PORT=$(free_port) APP_PORT=$(free_port)
mkdir -p "$WORK/redis" "$WORK/res-caller" "$WORK/res-callee"
start_redis() {
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$WORK/redis" --save "" \
    --appendonly yes --appendfsync always >>"$WORK/redis.log" 2>&1 &
  PID[redis]=$!; STARTED+=("$!")
  wait_for 60 "redis on :$REDIS_PORT" redis_up
}
for side in caller callee; do
  cat >"$WORK/res-$side/statestore.yaml" <<EOF
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
  - name: redisPassword
    value: ""
  - name: actorStateStore
    value: "true"
EOF
done

cat >"$WORK/app.py" <<'EOF'
# The callee: echoes POST bodies over keep-alive HTTP/1.1, answers "ok" to GET.
import sys
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    return out
                out += chunk
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def reply(self, data):
        self.send_response(200)
        self.send_header("content-type", "application/octet-stream")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        self.reply(self.body())

    def do_GET(self):
        self.reply(b"ok")

    def log_message(self, *args):
        pass

ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo).serve_forever()
EOF
app_up() { curl -s -m 1 "http://127.0.0.1:$APP_PORT/" | grep -q ok; }
start_app() {
  python3 "$WORK/app.py" "$APP_PORT" >>"$WORK/app.log" 2>&1 &
  PID[app]=$!; STARTED+=("$!")
  wait_for 30 "the app on :$APP_PORT" app_up
}

declare -A DFLAGS=() DHTTP=()
start_daprd() { # role (caller|callee); flags are chosen once and reused on restart
  local role=$1
  if [[ -z ${DFLAGS[$role]:-} ]]; then
    DHTTP[$role]=$(free_port)
    local app=""
    [[ $role == callee ]] && app="--app-port $APP_PORT"
    DFLAGS[$role]="--app-id soak-$role $app --dapr-http-port ${DHTTP[$role]} --dapr-grpc-port $(free_port) --dapr-internal-grpc-port $(free_port) --metrics-port $(free_port) --resources-path $WORK/res-$role"
  fi
  # shellcheck disable=SC2086 # the flags are words
  "$DAPRD" ${DFLAGS[$role]} >>"$WORK/daprd-$role.log" 2>&1 &
  PID[$role]=$!; STARTED+=("$!")
  wait_for 60 "daprd $role" http_204 "${DHTTP[$role]}" /v1.0/healthz/outbound
}

cat >"$WORK/load.py" <<'EOF'
# Mixed load through the caller sidecar, with a record of every acknowledged write.
#   load.py run --seconds S ...   state saves/gets/transactions and invocations; the record
#                                 (JSON, --record) is read first and written back at the end
#   load.py verify ...            reads every recorded key through the sidecar and in Redis
# Each state worker owns its keys and works on them one request at a time, so the last
# acknowledged value of a key is well defined. A write answered with an error may or may not
# have been applied ("pending" until the next acknowledged write of the key); a write that
# got no answer at all (connection reset, timeout) may land at any time later ("in doubt"
# for good). A read or final value is correct when it is the last acknowledged value or
# one of those.
import argparse, http.client, json, random, socket, sys, threading, time

def client(port, timeout=15):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

class Conn:
    def __init__(self, port):
        self.port, self.c = port, None

    def request(self, method, path, body=None):
        """(status, body bytes), or None when no answer came."""
        try:
            if self.c is None:
                self.c = client(self.port)
            headers = {"content-type": "application/json"} if body is not None else {}
            self.c.request(method, path, body=body, headers=headers)
            r = self.c.getresponse()
            data = r.read()
            if r.getheader("connection", "").lower() == "close":
                self.c.close(); self.c = None
            return r.status, data
        except (OSError, http.client.HTTPException):
            if self.c is not None:
                self.c.close()
            self.c = None
            return None

def key_record(rec, k):
    return rec["keys"].setdefault(k, {"acked": None, "ever_acked": False, "pending": [], "doubt": []})

class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.ops = {}          # kind -> [ok, answered error, no answer]
        self.seconds = {}      # second -> [ok, errors]
        self.anomalies = []

    def add(self, kind, outcome, t):
        with self.lock:
            v = self.ops.setdefault(kind, [0, 0, 0])
            v[outcome] += 1
            s = self.seconds.setdefault(int(t), [0, 0, {}])
            s[0 if outcome == 0 else 1] += 1
            if outcome == 0:
                s[2][kind] = s[2].get(kind, 0) + 1

def state_worker(i, args, rec, stats, t0, stop):
    rnd = random.Random(f"{args.seed}-{args.phase}-{i}")
    conn = Conn(args.http)
    keys = [f"w{i}-k{j}" for j in range(args.keys)]
    base = "/v1.0/state/statestore"
    seq = 0
    def value(k):
        nonlocal seq
        seq += 1
        return f"{k}#{args.phase}-{seq}"
    def outcome(res):
        return 0 if res is not None and res[0] == 204 else (1 if res is not None else 2)
    def record(writes, res):
        o = outcome(res)
        for k, v in writes:
            r = key_record(rec, k)
            if o == 0:
                r["acked"], r["ever_acked"], r["pending"] = v, True, []
            elif o == 1:
                r["pending"].append(v)
            else:
                r["doubt"].append(v)
        return o
    while not stop.is_set():
        t = time.time() - t0
        x = rnd.random()
        if x < 0.4:
            ks = rnd.sample(keys, rnd.choice([1, 1, 2]))
            writes = [(k, value(k)) for k in ks]
            body = json.dumps([{"key": k, "value": v} for k, v in writes])
            o = record(writes, conn.request("POST", base, body))
            stats.add("save", o, t)
        elif x < 0.75:
            k = rnd.choice(keys)
            res = conn.request("GET", f"{base}/{k}")
            if res is None or res[0] not in (200, 204):
                o = 1 if res else 2
            else:
                o = 0
                got = json.loads(res[1]) if res[0] == 200 else None
                r = key_record(rec, k)
                if got != r["acked"] and got not in r["pending"] and got not in r["doubt"]:
                    stats.anomalies.append(f"t={t:.1f}s GET {k}: {got!r}, last acknowledged {r['acked']!r}")
            stats.add("get", o, t)
        else:
            k1, k2 = rnd.sample(keys, 2)
            v = value(k1)
            body = json.dumps({"operations": [
                {"operation": "upsert", "request": {"key": k1, "value": v}},
                {"operation": "delete", "request": {"key": k2}}]})
            o = record([(k1, v), (k2, None)], conn.request("POST", f"{base}/transaction", body))
            stats.add("transaction", o, t)
        if o != 0:
            time.sleep(0.05)  # back off while a fault lasts

def burst_worker(args, stats, t0, stop):
    # Bursts of concurrent invocations, each on a new connection, at 3.5 %, 13.5 %, ...
    # 93.5 % of the run (clear of the faults): the sidecars' connection pools grow, and
    # must shrink again when idle.
    every = args.seconds / 10
    for k in range(10):
        if stop.wait(max(0, t0 + (k + 0.35) * every - time.time())):
            return
        def one(n):
            conn = Conn(args.http)
            payload = json.dumps({"burst": k, "n": n})
            res = conn.request("POST", f"/v1.0/invoke/{args.callee}/method/echo", payload)
            if conn.c is not None:
                conn.c.close()
            o = 0 if res is not None and res[0] == 200 and res[1] == payload.encode() else (1 if res else 2)
            stats.add("burst", o, time.time() - t0)
        threads = [threading.Thread(target=one, args=(n,)) for n in range(args.burst)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

def invoke_worker(i, args, stats, t0, stop):
    rnd = random.Random(f"{args.seed}-{args.phase}-inv-{i}")
    conn = Conn(args.http)
    while not stop.is_set():
        t = time.time() - t0
        payload = json.dumps({"n": rnd.randrange(1 << 30), "pad": "x" * rnd.randrange(1, 512)})
        res = conn.request("POST", f"/v1.0/invoke/{args.callee}/method/echo", payload)
        if res is None:
            o = 2
        elif res[0] != 200:
            o = 1
        elif res[1] != payload.encode():
            stats.anomalies.append(f"t={t:.1f}s invoke echoed {res[1][:80]!r} for {payload[:40]!r}...")
            o = 1
        else:
            o = 0
        stats.add("invoke", o, t)
        if o != 0:
            time.sleep(0.05)  # back off while a fault lasts

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"keys": {}, "phases": []}

def run(args):
    rec = load(args.record)
    stats = Stats()
    stop = threading.Event()
    t0 = args.t0 or time.time()
    threads = [threading.Thread(target=state_worker, args=(i, args, rec, stats, t0, stop)) for i in range(args.workers)]
    threads += [threading.Thread(target=invoke_worker, args=(i, args, stats, t0, stop)) for i in range(args.invokers)]
    if args.burst:
        threads.append(threading.Thread(target=burst_worker, args=(args, stats, t0, stop)))
    for t in threads:
        t.start()
    time.sleep(max(0, t0 + args.seconds - time.time()))
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    # Recovery: in the last tenth of the run, every kind of operation succeeded.
    tail_from = int(args.seconds * 0.9)
    tail_ok = {}
    error_seconds = []
    for s, (ok, err, kinds) in sorted(stats.seconds.items()):
        if s >= tail_from:
            for k, n in kinds.items():
                tail_ok[k] = tail_ok.get(k, 0) + n
        if err:
            error_seconds.append(s)
    rec["phases"].append({
        "phase": args.phase, "seconds": round(elapsed, 1), "ops": stats.ops,
        "anomalies": stats.anomalies, "error_seconds": ranges(error_seconds),
        "recovered": sorted(k for k in stats.ops if tail_ok.get(k, 0) > 0 or k == "burst"),
    })
    with open(args.record, "w") as f:
        json.dump(rec, f)
    total = sum(sum(v) for v in stats.ops.values())
    print(f"{args.phase}: {total} requests in {elapsed:.1f}s ({total / elapsed:.0f}/s)", file=sys.stderr)

def ranges(seconds):
    out = []
    for s in seconds:
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return ", ".join(f"{a}" if a == b else f"{a}-{b}" for a, b in out)

class Redis:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        line = self.f.readline()
        if line.startswith(b"$"):
            n = int(line[1:])
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if line.startswith(b"-"):
            raise RuntimeError(line.decode().strip())
        return line.strip()

def verify(args):
    rec = load(args.record)
    conn = Conn(args.http)
    redis = Redis(args.redis)
    keys = rec["keys"]
    acked = sum(1 for r in keys.values() if r["ever_acked"])
    result = {"keys": len(keys), "acked_keys": acked, "sidecar_lost": [], "redis_lost": [],
              "sidecar_errors": 0, "exact": 0, "in_doubt_values": 0}
    for k, r in sorted(keys.items()):
        allowed = [r["acked"]] + r["pending"] + r["doubt"]
        res = None
        for _ in range(3):
            res = conn.request("GET", f"/v1.0/state/statestore/{k}")
            if res is not None and res[0] in (200, 204):
                break
            time.sleep(0.5)
        if res is None or res[0] not in (200, 204):
            result["sidecar_errors"] += 1
            result["sidecar_lost"].append(f"{k}: read failed ({res and res[0]})")
        else:
            got = json.loads(res[1]) if res[0] == 200 else None
            if got not in allowed:
                result["sidecar_lost"].append(f"{k}: sidecar reads {got!r}, last acknowledged {r['acked']!r}")
        raw = redis.cmd("HGET", f"{args.app_id}||{k}", "data")
        got = json.loads(raw) if raw is not None else None
        if got not in allowed:
            result["redis_lost"].append(f"{k}: redis holds {got!r}, last acknowledged {r['acked']!r}")
        elif got == r["acked"]:
            result["exact"] += 1
        else:
            result["in_doubt_values"] += 1
    result["phases"] = rec["phases"]
    print(json.dumps(result))

def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["run", "verify"])
    p.add_argument("--http", type=int, required=True)
    p.add_argument("--record", required=True)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--phase", default="load")
    p.add_argument("--workers", type=int, default=4)
    p.add_argument("--invokers", type=int, default=2)
    p.add_argument("--keys", type=int, default=50)
    p.add_argument("--seed", default="1")
    p.add_argument("--burst", type=int, default=0)
    p.add_argument("--t0", type=float, default=0)
    p.add_argument("--callee", default="soak-callee")
    p.add_argument("--redis", type=int)
    p.add_argument("--app-id", default="soak-caller")
    args = p.parse_args()
    run(args) if args.mode == "run" else verify(args)

main()
EOF

# ---- start, warm up, baseline ----
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
start_redis
start_app
start_daprd callee
start_daprd caller
CALLEE=${PID[callee]}
LOADGEN=(python3 "$WORK/load.py" run --http "${DHTTP[caller]}" --record "$WORK/acks.json"
  --workers "$WORKERS" --invokers "$INVOKERS" --keys "$KEYS" --seed "$SEED")
echo "warm-up: ${WARMUP}s of load, then ${SETTLE}s idle..." >&2
"${LOADGEN[@]}" --seconds "$WARMUP" --phase warmup --burst "$BURST"
sleep "$SETTLE"
BASE_RSS=$(rss_kb "$CALLEE") BASE_FDS=$(fds "$CALLEE") BASE_SOCKETS=$(sockets "$CALLEE")
CALLER_BASE_RSS=$(rss_kb "${PID[caller]}") CALLER_BASE_FDS=$(fds "${PID[caller]}")

# ---- the run, with faults at 25 %, 50 % and 75 % ----
echo "soak: ${DURATION}s of load with faults..." >&2
T0=$(now)
"${LOADGEN[@]}" --seconds "$DURATION" --phase soak --t0 "$T0" --burst "$BURST" &
LOAD_PID=$!; STARTED+=("$LOAD_PID")
at() { awk -v t="$T0" -v d="$DURATION" -v f="$1" 'BEGIN{printf "%.3f", t+d*f}'; }
since() { awk -v t="$T0" -v n="$(now)" 'BEGIN{printf "%.1f", n-t}'; }
FAULTS=() FORCED_ROLES=()

sleep_until "$(at 0.25)"
T=$(since); kill -9 "${PID[redis]}"; wait "${PID[redis]}" 2>/dev/null || true
sleep "$REDIS_DOWN"
start_redis
FAULTS+=("t=${T}s redis SIGKILL, restarted on :$REDIS_PORT (AOF) after ${REDIS_DOWN}s, answering at t=$(since)s")

sleep_until "$(at 0.50)"
T=$(since); kill -9 "${PID[caller]}"; wait "${PID[caller]}" 2>/dev/null || true
start_daprd caller
FAULTS+=("t=${T}s caller daprd SIGKILL, restarted with the same flags, ready at t=$(since)s")

sleep_until "$(at 0.75)"
T=$(since); stop_pid "${PID[app]}"
start_app
FAULTS+=("t=${T}s callee app stopped (SIGTERM) and restarted, serving at t=$(since)s")

wait "$LOAD_PID"
echo "load done; ${SETTLE}s idle before the final readings..." >&2
sleep "$SETTLE"
END_RSS=$(rss_kb "$CALLEE") END_FDS=$(fds "$CALLEE") END_SOCKETS=$(sockets "$CALLEE")
CALLER_END_RSS=$(rss_kb "${PID[caller]}") CALLER_END_FDS=$(fds "${PID[caller]}")
VERIFY=$(python3 "$WORK/load.py" verify --http "${DHTTP[caller]}" --redis "$REDIS_PORT" --record "$WORK/acks.json")

# ---- stop everything, then look for anything left behind ----
for role in caller callee app redis; do
  stop_pid "${PID[$role]}"
  if [[ " ${FORCED[*]} " == *" ${PID[$role]} "* ]]; then FORCED_ROLES+=("$role"); fi
done
sleep 1
LEFT=()
for p in "${STARTED[@]}"; do if kill -0 "$p" 2>/dev/null; then LEFT+=("$p"); fi; done
while read -r p; do if [[ -n $p ]]; then LEFT+=("$p"); fi; done < <(pgrep -f -- "$WORK" || true)

# ---- summary ----
SUMMARY=$(python3 - "$VERIFY" "$BASE_RSS" "$END_RSS" "$BASE_FDS" "$END_FDS" "${#LEFT[@]}" "${FORCED_ROLES[*]}" <<'EOF'
import json, sys
v = json.loads(sys.argv[1])
base_rss, end_rss, base_fds, end_fds, left = map(int, sys.argv[2:7])
forced = sys.argv[7].split()
fails = []
for p in v["phases"]:
    ops = ", ".join(f"{k} {o[0]} ok/{o[1]} err/{o[2]} no answer" for k, o in sorted(p["ops"].items()))
    print(f"{p['phase']} ({p['seconds']}s): {ops}")
    if p["error_seconds"]:
        print(f"  seconds with errors: {p['error_seconds']}")
    for a in p["anomalies"][:10]:
        print(f"  anomaly: {a}")
    if p["anomalies"]:
        fails.append(f"{len(p['anomalies'])} wrong reads or echoes in {p['phase']}")
    missing = sorted(set(p["ops"]) - set(p["recovered"]))
    if p["phase"] == "soak" and missing:
        fails.append("no successful " + ", ".join(missing) + " in the last tenth of the run")
lost_s, lost_r = v["sidecar_lost"], v["redis_lost"]
print(f"acknowledged writes: {v['acked_keys']} keys acknowledged of {v['keys']} written; "
      f"final value = last acknowledged in {v['exact']}, = a write in doubt (error or no answer) in {v['in_doubt_values']}; "
      f"lost via sidecar {len(lost_s)}, lost in redis {len(lost_r)}")
for l in (lost_s + lost_r)[:10]:
    print(f"  lost: {l}")
if lost_s or lost_r:
    fails.append(f"{len(lost_s)} keys wrong through the sidecar, {len(lost_r)} in redis")
def within(base, end):
    return end * 10 <= base * 11
def pct(base, end):
    return f"{(end - base) * 100 / base:+.1f} %"
print(f"callee daprd (never restarted): RSS {base_rss} kB -> {end_rss} kB ({pct(base_rss, end_rss)}), "
      f"descriptors {base_fds} -> {end_fds} ({pct(base_fds, end_fds)}); limit +10 %")
if not within(base_rss, end_rss):
    fails.append(f"callee RSS grew {pct(base_rss, end_rss)}")
if not within(base_fds, end_fds):
    fails.append(f"callee descriptors grew {pct(base_fds, end_fds)}")
print(f"stopped by SIGTERM within 10 s: {'all' if not forced else 'all but ' + ', '.join(forced) + ' (SIGKILLed)'}; processes left behind: {left}")
if forced:
    fails.append(", ".join(forced) + " ignored SIGTERM for 10 s")
if left:
    fails.append(f"{left} processes left behind")
print("result: " + ("PASS" if not fails else "FAIL: " + "; ".join(fails)))
EOF
)
REPORT=$(cat <<EOF
soak: ${DURATION}s mixed load through soak-caller's daprd ($WORKERS state workers x $KEYS keys: saves, gets, transactions; $INVOKERS invocation workers and 10 bursts of $BURST concurrent invocations to soak-callee's echo app), after ${WARMUP}s warm-up; readings after ${SETTLE}s idle
$(printf '%s\n' "${FAULTS[@]}")
$SUMMARY
callee daprd TCP sockets: baseline $BASE_SOCKETS; final $END_SOCKETS
caller daprd (restarted at 50 %, for information): RSS $CALLER_BASE_RSS kB -> $CALLER_END_RSS kB, descriptors $CALLER_BASE_FDS -> $CALLER_END_FDS
load average (1/5/15 min) before/after: $LOAD_BEFORE / $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; $(uname -r)
EOF
)
echo "$REPORT"
if [[ ${#LEFT[@]} -gt 0 ]]; then
  echo "left behind:" >&2; ps -o pid,args -p "$(IFS=,; echo "${LEFT[*]}")" >&2 || true
fi

if [[ $RECORD == 1 ]]; then
  {
    echo
    echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — \`bench/soak.sh${ARGS:+ $ARGS}\` (git $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
    echo
    echo '```'
    echo "$REPORT"
    echo '```'
  } >>"$ROOT/bench/RESULTS.md"
  echo "appended to bench/RESULTS.md" >&2
fi
grep -q '^result: PASS' <<<"$SUMMARY"
