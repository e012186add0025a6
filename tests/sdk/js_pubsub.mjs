// The official JS SDK's pub/sub against our daprd: `DaprClient.pubsub.publish` and a
// `DaprServer` subscribed with `server.pubsub.subscribe`, in the protocol given by
// PROTOCOL (`http`, the default, or `grpc`; the sidecar must then run with
// `--app-protocol grpc`).
//
// Run by tests/it/sidecar_sdk_pubsub.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a
// daprd (app id APP_ID, `--app-port $APP_PORT`, a `pubsub` component). Exits 0 when every
// check passed, 1 otherwise.
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
await server.pubsub.subscribe("pubsub", "js-orders", async (data, headers) => {
  received.push({ data, headers });
});
await server.start();

const c = new DaprClient({ daprHost: "127.0.0.1", daprPort, communicationProtocol: protocol, logger });
// The sidecar asks the app for its subscriptions once the app port answers.
await sleep(500);
for (let i = 0; i < 3; i++) {
  const r = await c.pubsub.publish("pubsub", "js-orders", { orderId: i });
  check(!r.error, `publish ${i}: ${JSON.stringify(r)}`);
}
check(await wait(() => received.length >= 3), `3 events arrived: ${JSON.stringify(received)}`);
const ids = received.map((r) => r.data?.orderId).sort();
check(JSON.stringify(ids) === "[0,1,2]", `data as published: ${JSON.stringify(ids)}`);

// A gRPC server stops only once its clients hang up, and the sidecar keeps its connection.
if (!grpc) await server.stop();
if (failures.length) {
  console.log(`${failures.length} checks failed`);
  process.exit(1);
}
console.log("all checks passed");
process.exit(0);
