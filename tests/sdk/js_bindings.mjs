// The official JS SDK's bindings against our daprd: `DaprClient.binding.send` to a
// `bindings.localstorage` component named `files`, and `DaprServer.binding.receive` for the
// cron input binding `jscron` (every second), in the protocol given by PROTOCOL (`http`,
// the default, or `grpc`; the sidecar must then run with `--app-protocol grpc`).
//
// Run by tests/it/sidecar_bindings.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a
// daprd started with `--app-port $APP_PORT`. Exits 0 when every check passed, 1 otherwise.
import { CommunicationProtocolEnum, DaprClient, DaprServer } from "@dapr/dapr";

const failures = [];
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function wait(cond, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

const grpc = process.env.PROTOCOL === "grpc";
const protocol = grpc ? CommunicationProtocolEnum.GRPC : CommunicationProtocolEnum.HTTP;
const daprPort = grpc ? process.env.DAPR_GRPC_PORT : process.env.DAPR_HTTP_PORT;
const logger = { level: 0 };

const received = [];
const server = new DaprServer({
  serverHost: "127.0.0.1",
  serverPort: process.env.APP_PORT,
  communicationProtocol: protocol,
  clientOptions: { daprHost: "127.0.0.1", daprPort, communicationProtocol: protocol, logger },
  logger,
});
await server.binding.receive("jscron", async (data) => {
  received.push(data);
});
await server.start();

const c = new DaprClient({ daprHost: "127.0.0.1", daprPort, communicationProtocol: protocol, logger });
// Over HTTP the SDK answers the parsed JSON body; over gRPC the response message, whose
// `data` is bytes.
const text = (r) => {
  const data = r?.data ?? r;
  if (data instanceof Uint8Array) return Buffer.from(data).toString();
  return typeof data === "string" ? data : JSON.stringify(data);
};
const created = await c.binding.send("files", "create", { from: "js" }, { fileName: "js.txt" });
check(JSON.parse(text(created)).fileName === "js.txt", `create: ${text(created)}`);
const got = await c.binding.send("files", "get", undefined, { fileName: "js.txt" });
check(JSON.parse(text(got)).from === "js", `get: ${text(got)}`);
check(await wait(() => received.length >= 2), `cron events received: ${received.length}`);

// A gRPC server stops only once its clients hang up, and the sidecar keeps its connection.
if (!grpc) await server.stop();
if (failures.length) {
  console.log(`${failures.length} checks failed`);
  process.exit(1);
}
console.log("all checks passed");
process.exit(0);
