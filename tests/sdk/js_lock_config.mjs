// The official JS SDK (`@dapr/dapr`): locks over HTTP and gRPC, configuration over gRPC (its
// HTTP client has no configuration API).
//
// Run by tests/it/sidecar_sdk_lock_config.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at
// a daprd that has a `lockstore` (lock.redis) and a `configstore` (configuration.redis) on
// the Redis at REDIS_PORT, which this script changes with `redis-cli`. Exits 0 when every
// check passed, 1 otherwise.
import { execFileSync } from "node:child_process";
import { CommunicationProtocolEnum, DaprClient } from "@dapr/dapr";
// The SDK's `LockStatus` enum (types/lock/UnlockResponse), which its index does not export.
const LockStatus = { Success: 0, LockDoesNotExist: 1, LockBelongsToOthers: 2, InternalError: 3 };

const failures = [];
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}
const redis = (...args) => execFileSync("redis-cli", ["-p", process.env.REDIS_PORT, ...args]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const client = (protocol) =>
  new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: protocol === "grpc" ? process.env.DAPR_GRPC_PORT : process.env.DAPR_HTTP_PORT,
    communicationProtocol:
      protocol === "grpc" ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP,
    logger: { level: 0 },
  });

for (const protocol of ["http", "grpc"]) {
  const c = client(protocol);
  const res = `js-${protocol}`;
  check((await c.lock.lock("lockstore", res, "alice", 30)).success === true, `${protocol}: alice locks`);
  check((await c.lock.lock("lockstore", res, "bob", 30)).success === false, `${protocol}: bob cannot`);
  check(
    (await c.lock.unlock("lockstore", res, "bob")).status === LockStatus.LockBelongsToOthers,
    `${protocol}: bob cannot unlock`,
  );
  check((await c.lock.unlock("lockstore", res, "alice")).status === LockStatus.Success, `${protocol}: unlock`);
  check(
    (await c.lock.unlock("lockstore", res, "alice")).status === LockStatus.LockDoesNotExist,
    `${protocol}: released lock does not exist`,
  );
}

const g = client("grpc");
redis("SET", "js-color", "blue||1");
redis("SET", "js-size", "large");
const got = await g.configuration.get("configstore", ["js-color", "js-size", "js-none"]);
check(
  JSON.stringify(Object.keys(got.items).sort()) === '["js-color","js-size"]',
  `get items ${JSON.stringify(got.items)}`,
);
check(got.items["js-color"].value === "blue" && got.items["js-color"].version === "1", "value and version");

// Waits for a callback while re-applying a change until the subscription is live (the SDK
// returns before its stream is established); a change must arrive within 1 s of a SET.
async function expectChange(changes, set, what, want) {
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    const before = changes.length;
    const t0 = Date.now();
    set();
    while (changes.length === before && Date.now() - t0 < 1000) await sleep(20);
    if (changes.length > before) {
      const items = changes[changes.length - 1].items;
      check(want(items), `${what}: ${JSON.stringify(items)} after ${Date.now() - t0} ms`);
      return;
    }
  }
  check(false, `${what}: no change arrived`);
}

const keyed = [];
const subKeyed = await g.configuration.subscribeWithKeys("configstore", ["js-color"], (r) => {
  keyed.push(r);
});
const all = [];
const subAll = await g.configuration.subscribe("configstore", (r) => {
  all.push(r);
});
let n = 1;
await expectChange(
  keyed,
  () => redis("SET", "js-color", `red||${++n}`),
  "subscribeWithKeys",
  (items) => items["js-color"]?.value === "red" && items["js-color"]?.version === String(n),
);
await expectChange(
  all,
  () => redis("SET", "js-size", `small||${++n}`),
  "subscribe (all keys)",
  (items) => items["js-size"]?.value === "small",
);
check(keyed.every((r) => !("js-size" in r.items)), "keyed subscription only sees its keys");
await subKeyed.stop();
await subAll.stop();
await sleep(200);
const seen = keyed.length;
redis("SET", "js-color", "green");
await sleep(500);
check(keyed.length === seen, "no change after stop()");

let storeErr = "";
try {
  await g.configuration.get("nosuch", ["a"]);
} catch (e) {
  storeErr = String(e?.message ?? e);
}
check(storeErr.includes("configuration store nosuch not found"), `unknown store: ${storeErr.slice(0, 120)}`);

if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
process.exit(0);
