// The official JS SDK (`@dapr/dapr`) in gRPC mode against our daprd.
//
// Run by tests/it/sidecar_grpc.rs with DAPR_GRPC_PORT pointing at a daprd that has a
// `statestore` component and H7_INVOKE_APP naming an app id whose app answers `POST /json`
// with `{"echo":"<body>"}`. Exits 0 when every check passed, 1 otherwise.
import { CommunicationProtocolEnum, DaprClient, HttpMethod } from "@dapr/dapr";

const failures = [];
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}

const c = new DaprClient({
  daprHost: "127.0.0.1",
  daprPort: process.env.DAPR_GRPC_PORT,
  communicationProtocol: CommunicationProtocolEnum.GRPC,
  logger: { level: 0 },
});
const S = "statestore";

await c.state.save(S, [
  { key: "js-obj", value: { a: 1, b: [true, null] } },
  { key: "js-str", value: "text" },
]);
const obj = await c.state.get(S, "js-obj");
check(JSON.stringify(obj) === '{"a":1,"b":[true,null]}', `get object ${JSON.stringify(obj)}`);
check((await c.state.get(S, "js-str")) === "text", "get string");
check((await c.state.get(S, "js-none")) === "", "missing key is empty");

const bulk = await c.state.getBulk(S, ["js-obj", "js-none"]);
check(bulk.length === 2 && bulk[0].key === "js-obj" && bulk[0].etag !== "", `bulk ${JSON.stringify(bulk)}`);

await c.state.transaction(S, [
  { operation: "upsert", request: { key: "js-tx", value: "in-tx" } },
  { operation: "delete", request: { key: "js-str" } },
]);
check((await c.state.get(S, "js-tx")) === "in-tx", "transaction upsert");
check((await c.state.get(S, "js-str")) === "", "transaction delete");
await c.state.delete(S, "js-tx");
check((await c.state.get(S, "js-tx")) === "", "delete");

let storeErr = "";
try {
  await c.state.get("nope", "k");
} catch (e) {
  storeErr = String(e?.message ?? e);
}
check(storeErr.includes("state store nope is not found"), `unknown store error: ${storeErr.slice(0, 120)}`);

await c.metadata.set("jsKey", "jsVal");
const md = await c.metadata.get();
check(md.id === process.env.H7_INVOKE_APP, `metadata id ${md.id}`);
check(md.extended?.jsKey === "jsVal", `metadata extended ${JSON.stringify(md.extended)}`);
check(md.components.some((x) => x.name === S && x.type === "state.in-memory"), "metadata components");

const app = process.env.H7_INVOKE_APP;
const res = await c.invoker.invoke(app, "json", HttpMethod.POST, { hello: "world" });
check(JSON.stringify(res) === '{"echo":"{\\"hello\\":\\"world\\"}"}', `invoke ${JSON.stringify(res)}`);

await c.stop();
if (failures.length) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
