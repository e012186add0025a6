// The official JS SDK (`@dapr/dapr`) in its DEFAULT mode (HTTP) against our daprd, on both
// sides: a `DaprClient` calling the HTTP API, and a `DaprServer` (express) being the app
// that daprd invokes.
//
// Run by tests/it/sidecar_grpc.rs with DAPR_HTTP_PORT pointing at a daprd (app id in
// APP_ID) that has a `statestore` component and `--app-port $APP_PORT`; this script serves
// that app port itself, as an app started by `dapr run` would. Exits 0 when every check
// passed, 1 otherwise.
import { DaprClient, DaprServer, HttpMethod } from "@dapr/dapr";

const failures = [];
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}
async function error(fn) {
  try {
    await fn();
  } catch (e) {
    return String(e?.message ?? e);
  }
  return "";
}

const appId = process.env.APP_ID;
const S = "statestore";
const logger = { level: 0 };

// The app side: DaprServer listens on APP_PORT before the client waits for the sidecar.
const server = new DaprServer({
  serverHost: "127.0.0.1",
  serverPort: process.env.APP_PORT,
  clientOptions: { daprHost: "127.0.0.1", daprPort: process.env.DAPR_HTTP_PORT, logger },
  logger,
});
await server.invoker.listen(
  "hello",
  async (data) => ({ got: data.body, query: data.query, caller: data.headers["dapr-caller-app-id"] }),
  { method: HttpMethod.POST },
);
await server.invoker.listen("ping", async (data) => ({ pong: true, query: data.query }));
await server.invoker.listen("gone", async () => ({ deleted: true }), { method: HttpMethod.DELETE });
await server.start();

const c = new DaprClient({ daprHost: "127.0.0.1", daprPort: process.env.DAPR_HTTP_PORT, logger });

// State: save (values of every JSON kind), get, missing key.
await c.state.save(S, [
  { key: "js-obj", value: { a: 1, b: [true, null], c: { d: "e" } } },
  { key: "js-str", value: "text" },
  { key: "js-num", value: 42 },
]);
check(
  JSON.stringify(await c.state.get(S, "js-obj")) === '{"a":1,"b":[true,null],"c":{"d":"e"}}',
  "get object",
);
check((await c.state.get(S, "js-str")) === "text", "get string");
check((await c.state.get(S, "js-num")) === 42, "get number");
check((await c.state.get(S, "js-none")) === "", "missing key is empty");

// Metadata given as SDK options travels as `metadata.*` query parameters.
await c.state.save(S, [{ key: "js-ttl", value: "short" }], { metadata: { ttlInSeconds: "100" } });
check((await c.state.get(S, "js-ttl")) === "short", "save with metadata option");

// Bulk get: one entry per key, a missing key has no data.
const bulk = await c.state.getBulk(S, ["js-obj", "js-none", "js-str"]);
check(bulk.length === 3, `bulk length ${bulk.length}`);
check(bulk[0].key === "js-obj" && bulk[0].data?.c?.d === "e" && bulk[0].etag, `bulk[0] ${JSON.stringify(bulk[0])}`);
check(bulk[1].key === "js-none" && bulk[1].data === undefined, `bulk[1] ${JSON.stringify(bulk[1])}`);
check(bulk[2].data === "text", `bulk[2] ${JSON.stringify(bulk[2])}`);

// ETag-guarded delete: a wrong one is refused (the SDK only logs the 409), the right one works.
const etag = bulk[2].etag;
await c.state.delete(S, "js-str", { etag: "999999" });
check((await c.state.get(S, "js-str")) === "text", "value survives a stale delete");
await c.state.delete(S, "js-str", { etag });
check((await c.state.get(S, "js-str")) === "", "delete with etag");

// Transaction.
await c.state.transaction(S, [
  { operation: "upsert", request: { key: "js-tx", value: { in: "tx" } } },
  { operation: "delete", request: { key: "js-num" } },
]);
check(JSON.stringify(await c.state.get(S, "js-tx")) === '{"in":"tx"}', "transaction upsert");
check((await c.state.get(S, "js-num")) === "", "transaction delete");

// Errors: an unknown store is a 400 with the official message.
const storeErr = await error(() => c.state.get("nope", "k"));
check(storeErr.includes("400") && storeErr.includes("state store nope is not found"), `unknown store: ${storeErr.slice(0, 160)}`);

// Metadata API.
await c.metadata.set("jsKey", "jsVal");
const md = await c.metadata.get();
check(md.id === appId, `metadata id ${md.id}`);
check(md.extended?.jsKey === "jsVal", `metadata extended ${JSON.stringify(md.extended)}`);
check(md.components?.some((x) => x.name === S), `metadata components ${JSON.stringify(md.components)}`);

// Invocation through the sidecar to the DaprServer app (self-invocation by app id).
const hello = await c.invoker.invoke(appId, "hello?x=1", HttpMethod.POST, { hello: "world" });
check(hello?.got === '{"hello":"world"}', `invoke POST body ${JSON.stringify(hello)}`);
check(hello?.query === "/hello?x=1", `invoke POST query ${JSON.stringify(hello)}`);
check(hello?.caller === appId, `invoke POST caller ${JSON.stringify(hello)}`);
const ping = await c.invoker.invoke(appId, "ping");
check(ping?.pong === true, `invoke default GET ${JSON.stringify(ping)}`);
const gone = await c.invoker.invoke(appId, "gone", HttpMethod.DELETE);
check(gone?.deleted === true, `invoke DELETE ${JSON.stringify(gone)}`);
const missing = await error(() => c.invoker.invoke(appId, "nothing-here", HttpMethod.GET));
check(missing.includes("404"), `invoke of an unknown route passes the 404 through: ${missing.slice(0, 160)}`);
const noApp = await error(() => c.invoker.invoke("no-such-app", "x", HttpMethod.GET));
check(noApp.includes("500") && noApp.includes("ERR_DIRECT_INVOKE"), `invoke unknown app: ${noApp.slice(0, 200)}`);

check((await c.health.isHealthy()) === true, "health.isHealthy");

// Last: ask the sidecar to shut down (the Rust test checks it exits 0).
await c.sidecar.shutdown();
await c.stop();
await server.stop();
if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
process.exit(0);
