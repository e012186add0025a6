// The official JS SDK's `DaprServer` in gRPC mode as the app of our daprd.
//
// Run by tests/it/sidecar_grpc_app.rs before a daprd with `--app-protocol grpc` on APP_PORT
// (DAPR_HTTP_PORT / DAPR_GRPC_PORT are the ports that daprd will use, APP_ID its app id).
// DaprServer.start() waits for the sidecar; then the script invokes its own methods through
// daprd over HTTP (fetch and DaprClient) and over gRPC (DaprClient), and exits 0 when every
// check passed, 1 otherwise.
import { CommunicationProtocolEnum, DaprClient, DaprServer, HttpMethod } from "@dapr/dapr";

const failures = [];
function check(cond, what) {
  console.log(`${cond ? "ok  " : "FAIL"} ${what}`);
  if (!cond) failures.push(what);
}

const appId = process.env.APP_ID;
const host = "127.0.0.1";
const server = new DaprServer({
  serverHost: host,
  serverPort: process.env.APP_PORT,
  communicationProtocol: CommunicationProtocolEnum.GRPC,
  clientOptions: { daprHost: host, daprPort: process.env.DAPR_GRPC_PORT },
  logger: { level: 0 },
});

await server.invoker.listen(
  "hello",
  async (data) => ({ got: data.body, contentType: data.metadata?.contentType ?? "", query: data.query ?? "" }),
  { method: HttpMethod.POST },
);
await server.invoker.listen("orders/list", async () => [1, 2, 3], { method: HttpMethod.GET });

const started = Date.now();
await server.start();
console.log(`server and sidecar up after ${Date.now() - started} ms`);

try {
  const base = `http://${host}:${process.env.DAPR_HTTP_PORT}/v1.0/invoke/${appId}/method`;
  let res = await fetch(`${base}/hello?x=1`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ n: 1 }),
  });
  let text = await res.text();
  check(res.status === 200, `fetch POST hello status ${res.status} ${text}`);
  check(res.headers.get("content-type") === "application/json", `content-type ${res.headers.get("content-type")}`);
  const got = JSON.parse(text || "{}");
  check(got.got === '{"n":1}', `body seen by the app ${JSON.stringify(got)}`);
  check(got.contentType === "application/json", `content type seen by the app ${got.contentType}`);
  check(got.query === "x=1", `query seen by the app ${got.query}`);

  res = await fetch(`${base}/orders/list`);
  text = await res.text();
  check(res.status === 200 && text === "[1,2,3]", `fetch GET orders/list ${res.status} ${text}`);

  for (const protocol of [CommunicationProtocolEnum.HTTP, CommunicationProtocolEnum.GRPC]) {
    const port = protocol === CommunicationProtocolEnum.HTTP ? process.env.DAPR_HTTP_PORT : process.env.DAPR_GRPC_PORT;
    const c = new DaprClient({ daprHost: host, daprPort: port, communicationProtocol: protocol, logger: { level: 0 } });
    const r = await c.invoker.invoke(appId, "hello", HttpMethod.POST, { via: String(protocol) });
    check(
      r?.got === JSON.stringify({ via: String(protocol) }),
      `DaprClient (${protocol === CommunicationProtocolEnum.HTTP ? "HTTP" : "gRPC"}) invoke ${JSON.stringify(r)}`,
    );
  }
} catch (e) {
  check(false, `unexpected error: ${e?.stack ?? e}`);
}

// No server.stop(): an HTTP/2 server closes only once its clients hang up, and the sidecar
// keeps its connection to the app open (as the official one does).
if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("all checks passed");
process.exit(0);
