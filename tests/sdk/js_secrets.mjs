// The official JS SDK's secrets API (`client.secret.get`, `getBulk`) against our daprd, over
// HTTP and gRPC. Run by tests/it/sidecar_secrets.rs (see tests/sdk/python_secrets.py for the
// store). Exits 0 when every check passed; otherwise prints what differed and exits 1.
import { CommunicationProtocolEnum, DaprClient } from "@dapr/dapr";

const failures = [];
const check = (what, got, want) => {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    failures.push(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
};

for (const protocol of ["http", "grpc"]) {
  const client = new DaprClient({
    daprHost: "127.0.0.1",
    daprPort: protocol === "http" ? process.env.DAPR_HTTP_PORT : process.env.DAPR_GRPC_PORT,
    communicationProtocol:
      protocol === "http" ? CommunicationProtocolEnum.HTTP : CommunicationProtocolEnum.GRPC,
  });
  check(`${protocol} get api`, await client.secret.get("localsecrets", "api"), { api: "k3y" });
  const bulk = await client.secret.getBulk("localsecrets");
  check(`${protocol} bulk keys`, Object.keys(bulk).sort(), ["api", "db"]);
  let denied = null;
  try {
    await client.secret.get("localsecrets", "hidden");
  } catch (e) {
    denied = String(e?.message ?? e);
  }
  if (denied === null) failures.push(`${protocol} get hidden: no error`);
  else if (!denied.includes("access denied by policy")) {
    failures.push(`${protocol} get hidden: unexpected error ${denied}`);
  }
  await client.stop();
}

for (const f of failures) console.log(f);
process.exit(failures.length ? 1 : 0);
