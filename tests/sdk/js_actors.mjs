// The official JS SDK's actors against our daprd: a `DaprServer` hosting an actor type
// (`server.actor.init()`, `server.actor.registerActor`, a class extending `AbstractActor`)
// and an `ActorProxyBuilder` client. PROTOCOL (`http`, the default, or `grpc`) is the
// protocol of the proxy's client and of the server's own client, which the actor uses for
// its state, timers and reminders; the app itself is always served over HTTP (the JS SDK
// hosts actors over HTTP only).
//
// PART=basic (the default): calls with and without arguments, an actor error, turns (calls
// of one actor never overlap, calls of different actors do), state through
// `getStateManager()` (read back through the actor, through daprd's
// `GET /v1.0/actors/{type}/{id}/state/{key}` and in Redis under `appid||type||id||key`),
// removal, idle deactivation (`onDeactivate`) and the state surviving reactivation.
//
// PART=timers: `registerActorTimer` from inside the actor fires the callback with its data at
// its period; after `unregisterActorTimer` it stops.
// PART=reminders: `registerActorReminder` from inside the actor fires `receiveReminder` with
// its data; after `unregisterActorReminder` it stops; a one-shot reminder due after the
// actor's idle deactivation fires once and activates it again.
// Over gRPC the sidecar JSON-encodes the bytes it was given for timers and reminders, so the
// app sees them base64-encoded, as with the official daprd.
//
// Run by tests/it/sidecar_sdk_actors.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a
// daprd (app id APP_ID, `--app-port $APP_PORT`, a Redis state store marked
// `actorStateStore: "true"` on REDIS_PORT). Exits 0 when every check passed, 1 otherwise.
import { execFileSync } from "node:child_process";
import {
  AbstractActor,
  ActorId,
  ActorProxyBuilder,
  CommunicationProtocolEnum,
  DaprClient,
  DaprServer,
  Temporal,
} from "@dapr/dapr";

const failures = [];
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function wait(cond, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

const grpc = process.env.PROTOCOL === "grpc";
const part = process.env.PART ?? "basic";
const protocol = grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP;
const daprPort = grpc ? process.env.DAPR_GRPC_PORT : process.env.DAPR_HTTP_PORT;
const daprHttp = `http://127.0.0.1:${process.env.DAPR_HTTP_PORT}`;
const appId = process.env.APP_ID;
const logger = { level: 0 };
const redis = (...args) =>
  execFileSync("redis-cli", ["-p", process.env.REDIS_PORT, ...args], { encoding: "utf8" }).trim();
// What the sidecar hands the app for data registered through this protocol.
const delivered = (s) => (grpc ? Buffer.from(s).toString("base64") : s);

// What the app saw.
const events = [];
const record = (kind, id, detail) => events.push({ kind, id, detail, at: Date.now() });
const seen = (kind, id) => events.filter((e) => e.kind === kind && (id === undefined || e.id === id));
const busy = new Map();
let sameOverlaps = 0;
let maxTotal = 0;

class Counter extends AbstractActor {
  me() {
    return this.getActorId().getId();
  }
  async onActivate() {
    record("activate", this.me());
  }
  async onDeactivate() {
    record("deactivate", this.me());
  }
  async ping() {
    return { pong: this.me() };
  }
  async echo(data, more) {
    return { echo: data, more, id: this.me() };
  }
  async fail() {
    throw new Error("boom from the actor");
  }
  async slow() {
    const me = this.me();
    if ((busy.get(me) ?? 0) > 0) sameOverlaps++;
    busy.set(me, (busy.get(me) ?? 0) + 1);
    maxTotal = Math.max(maxTotal, [...busy.values()].reduce((a, b) => a + b, 0));
    await sleep(300);
    busy.set(me, busy.get(me) - 1);
  }
  // State methods take no arguments (see `echo` over gRPC below) and keep strings that are
  // not JSON: the SDK reads a value back only when it has a length, and its gRPC client
  // stores values as their string form.
  async step() {
    const sm = this.getStateManager();
    const [has, log] = await sm.tryGetState("log");
    const next = has ? `${log},s${log.split(",").length + 1}` : "s1";
    await sm.setState("log", next);
    return { log: next };
  }
  async getLog() {
    const [has, log] = await this.getStateManager().tryGetState("log");
    return { has, log };
  }
  async greet() {
    await this.getStateManager().setState("greeting", `hello ${this.me()}`);
    return {};
  }
  async removeGreeting() {
    await this.getStateManager().removeState("greeting");
    return {};
  }
  async startTimer() {
    const s = Temporal.Duration.from({ seconds: 1 });
    await this.registerActorTimer("tick", "onTick", s, s, undefined, "tick-data");
    return {};
  }
  async stopTimer() {
    await this.unregisterActorTimer("tick");
    return {};
  }
  async onTick(data) {
    record("timer", this.me(), data);
  }
  async startReminder() {
    const s = Temporal.Duration.from({ seconds: 1 });
    await this.registerActorReminder("every", s, s, undefined, "rem-data");
    return {};
  }
  async startOnce() {
    const due = Temporal.Duration.from({ seconds: 3 });
    await this.registerActorReminder("once", due, undefined, undefined, "once-data");
    return {};
  }
  async stopReminder() {
    await this.unregisterActorReminder("every");
    return {};
  }
  async receiveReminder(data) {
    record("reminder", this.me(), data);
  }
}

const server = new DaprServer({
  serverHost: "127.0.0.1",
  serverPort: process.env.APP_PORT,
  communicationProtocol: CommunicationProtocolEnum.HTTP,
  clientOptions: {
    daprHost: "127.0.0.1",
    daprPort,
    communicationProtocol: protocol,
    logger,
    // A timer keeps its actor busy for longer than 1 s in PART=timers.
    actor:
      part === "timers"
        ? { actorIdleTimeout: "1h", actorScanInterval: "30s" }
        : { actorIdleTimeout: "1s", actorScanInterval: "200ms" },
  },
  logger,
});
await server.actor.init();
server.actor.registerActor(Counter);
await server.start();
// The sidecar reports healthy once it has read the app's /dapr/config.
async function healthy() {
  const r = await fetch(`${daprHttp}/v1.0/healthz`).catch(() => null);
  return r?.status === 204;
}
let ready = false;
for (const end = Date.now() + 30000; !ready && Date.now() < end; await sleep(50)) ready = await healthy();
check(ready, "daprd is ready");

const client = new DaprClient({ daprHost: "127.0.0.1", daprPort, communicationProtocol: protocol, logger });
const builder = new ActorProxyBuilder(Counter, client);
const proxy = (id) => builder.build(new ActorId(id));
const stateOf = async (id, key) => {
  const r = await fetch(`${daprHttp}/v1.0/actors/Counter/${id}/state/${key}`);
  return { status: r.status, body: await r.text() };
};

async function basic() {
  const a1 = proxy("a1");
  check(JSON.stringify(await a1.ping()) === '{"pong":"a1"}', "a call without arguments");
  const r = await a1.echo({ n: 1, text: "héllo" }, [1, 2]);
  // The gRPC client sends the arguments as JSON bytes without a content type; the
  // official daprd calls the app without one either, so the SDK's express app parses
  // no body and the actor gets `{}` (upstream `InvokeActorRequest.ToInternalInvokeRequest`
  // and the HTTP app channel drop the content-type header when there is none).
  const expected = grpc
    ? { echo: {}, id: "a1" }
    : { echo: { n: 1, text: "héllo" }, more: [1, 2], id: "a1" };
  check(JSON.stringify(r) === JSON.stringify(expected), `a call with two arguments: ${JSON.stringify(r)}`);
  check(seen("activate", "a1").length === 1, `one activation for two calls: ${JSON.stringify(seen("activate"))}`);
  try {
    await a1.fail();
    check(false, "an actor error reaches the caller");
  } catch (e) {
    check(/ERR_ACTOR_INVOKE_METHOD|error from actor service/.test(String(e?.message ?? e)), `actor error: ${e}`);
  }

  await Promise.all([0, 1, 2, 3, 4].map(() => a1.slow()));
  check(sameOverlaps === 0, `calls of one actor never overlap (${sameOverlaps})`);
  maxTotal = 0;
  await Promise.all([0, 1, 2].map((i) => proxy(`p${i}`).slow()));
  check(maxTotal >= 2, `calls of different actors run side by side (${maxTotal})`);

  check((await a1.step()).log === "s1", "the first step");
  check((await a1.step()).log === "s1,s2", "the second step reads the saved state");
  // The HTTP client's values are JSON; the gRPC client's are stored as given.
  const stored = grpc ? "s1,s2" : '"s1,s2"';
  const got = await stateOf("a1", "log");
  check(got.status === 200 && got.body === stored, `daprd GET state/log: ${JSON.stringify(got)}`);
  const key = `${appId}||Counter||a1||log`;
  check(redis("HGET", key, "data") === stored, `Redis ${key}: ${redis("HGET", key, "data")}`);
  await a1.greet();
  const g = await stateOf("a1", "greeting");
  check(g.status === 200 && g.body === (grpc ? "hello a1" : '"hello a1"'), `greeting: ${JSON.stringify(g)}`);
  await a1.removeGreeting();
  const removed = await stateOf("a1", "greeting");
  check(removed.status === 204 && removed.body === "", `removed state: ${JSON.stringify(removed)}`);
  check(redis("EXISTS", `${appId}||Counter||a1||greeting`) === "0", "the Redis key is gone");

  check(await wait(() => seen("deactivate", "a1").length >= 1), "a1 deactivated after its idle timeout");
  const back = await a1.getLog();
  check(back.has && back.log === "s1,s2", `the log is read back after reactivation: ${JSON.stringify(back)}`);
  check(seen("activate", "a1").length === 2, `a1 activated again: ${seen("activate", "a1").length}`);
}

async function timers() {
  const t1 = proxy("t1");
  const started = Date.now();
  await t1.startTimer();
  check(await wait(() => seen("timer", "t1").length >= 2), "the timer fired twice");
  const ticks = seen("timer", "t1").map((e) => e.detail);
  check(ticks.every((d) => d === delivered("tick-data")), `timer data: ${JSON.stringify(ticks)}`);
  // Due after 1 s, then every 1 s: the second tick comes 2 s after registration.
  const second = seen("timer", "t1")[1].at - started;
  check(second >= 1800, `the period is kept: second tick after ${second} ms`);
  await t1.stopTimer();
  // A firing already waiting for the actor's turn may still run.
  await sleep(300);
  const before = seen("timer", "t1").length;
  await sleep(1500);
  check(seen("timer", "t1").length === before, `no tick after unregisterActorTimer (${before})`);
}

async function reminders() {
  const r1 = proxy("r1");
  const r2 = proxy("r2");
  await r1.startReminder();
  await r2.startOnce();
  check(await wait(() => seen("reminder", "r1").length >= 2), "the reminder fired twice");
  const got = seen("reminder", "r1").map((e) => e.detail);
  check(got.every((d) => d === delivered("rem-data")), `reminder data: ${JSON.stringify(got)}`);
  await r1.stopReminder();
  await sleep(300);
  const before = seen("reminder", "r1").length;
  await sleep(1500);
  check(seen("reminder", "r1").length === before, `no reminder after unregisterActorReminder (${before})`);

  // A one-shot reminder due after the actor's idle deactivation fires once and activates it
  // again.
  check(await wait(() => seen("deactivate", "r2").length >= 1), "r2 deactivated before its reminder is due");
  check(await wait(() => seen("reminder", "r2").length >= 1), "the one-shot reminder fired");
  const once = seen("reminder", "r2").map((e) => e.detail);
  check(JSON.stringify(once) === JSON.stringify([delivered("once-data")]), `one-shot data: ${JSON.stringify(once)}`);
  check(seen("activate", "r2").length === 2, `the reminder activated r2 again: ${seen("activate", "r2").length}`);
  await sleep(1500);
  check(seen("reminder", "r2").length === 1, "a one-shot reminder fires once");
}

await { basic, timers, reminders }[part]();

if (failures.length) {
  console.log(`${failures.length} checks failed`);
  process.exit(1);
}
console.log("all checks passed");
process.exit(0);
