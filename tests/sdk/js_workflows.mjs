// The official JS SDK's workflows (`@dapr/dapr` WorkflowRuntime, DaprWorkflowClient, and
// DaprClient's HTTP workflow API) against our daprd.
//
// Run by tests/it/sidecar_workflows.rs with DAPR_GRPC_PORT/DAPR_HTTP_PORT of a daprd whose
// actor state store is Redis. Scenarios: task chaining, a fan-out/fan-in of 100 activities,
// a monitor with durable timers and continueAsNew, an external approval event (arrives /
// times out), a child workflow, an activity that fails and is retried (the JS SDK has no
// retry policy: the workflow retries it after a durable timer, attempts counted) and one
// that fails for good, suspend/resume, terminate and purge; then the HTTP workflow API on a
// running instance through DaprClient (start, get, raise, pause/resume, terminate, purge).
// SCENARIOS (comma separated) runs a subset. Exits 0 when every check passed.
import { DaprClient, DaprWorkflowClient, WorkflowRuntime, WorkflowRuntimeStatus } from "@dapr/dapr";

const TIMEOUT = 30;
const logger = { level: 0 };
const grpcOpts = { daprHost: "127.0.0.1", daprPort: process.env.DAPR_GRPC_PORT, logger };
const attempts = new Map();

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

// ---- activities ----
const addOne = async (_ctx, x) => x + 1;
const double = async (_ctx, x) => x * 2;
const square = async (_ctx, x) => x * x;
const flaky = async (_ctx, key) => {
  const n = (attempts.get(key) ?? 0) + 1;
  attempts.set(key, n);
  if (n < 3) throw new Error(`flaky attempt ${n}`);
  return n;
};
const alwaysFails = async () => {
  throw new Error("boom for good");
};

// ---- workflows ----
const chain = async function* (ctx, x) {
  const a = yield ctx.callActivity(addOne, x);
  ctx.setCustomStatus("after addOne");
  const b = yield ctx.callActivity(double, a);
  return yield ctx.callActivity(addOne, b);
};

const fanOut = async function* (ctx, n) {
  // Inputs 1..n: the SDK drops a falsy input.
  const tasks = [];
  for (let i = 1; i <= n; i++) tasks.push(ctx.callActivity(square, i));
  const results = yield ctx.whenAll(tasks);
  return results.reduce((s, v) => s + v, 0);
};

const monitor = async function* (ctx, state) {
  yield ctx.createTimer(0.2);
  const count = state.count + 1;
  if (count < state.limit) {
    ctx.continueAsNew({ count, limit: state.limit }, false);
    return;
  }
  return count;
};

const approval = async function* (ctx, timeoutS) {
  const event = ctx.waitForExternalEvent("approval");
  const timer = ctx.createTimer(timeoutS);
  const winner = yield ctx.whenAny([event, timer]);
  if (winner === timer) return "timed out";
  return `approved by ${event.getResult()}`;
};

const parent = async function* (ctx, x) {
  const r = yield ctx.callChildWorkflow(chain, x);
  return r * 10;
};

const retried = async function* (ctx, key) {
  for (let attempt = 1; ; attempt++) {
    try {
      return yield ctx.callActivity(flaky, key);
    } catch (e) {
      if (attempt >= 5) throw e;
      yield ctx.createTimer(0.1);
    }
  }
};

const doomed = async function* (ctx) {
  yield ctx.callActivity(alwaysFails, "x");
  return "unreachable";
};

const waiter = async function* (ctx) {
  const got = yield ctx.waitForExternalEvent("go");
  ctx.setCustomStatus(`got ${got}`);
  const second = yield ctx.waitForExternalEvent("go2");
  return { first: got, second };
};

// ---- checks ----
async function done(client, id, status = WorkflowRuntimeStatus.COMPLETED) {
  const st = await client.waitForWorkflowCompletion(id, true, TIMEOUT);
  expect(st !== undefined, `${id}: no state`);
  expect(
    st.runtimeStatus === status,
    `${id}: status ${st.runtimeStatus} (want ${status}); failure: ${st.workflowFailureDetails?.getErrorMessage()}`,
  );
  return st;
}
const output = (st) => (st.serializedOutput ? JSON.parse(st.serializedOutput) : undefined);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const scenarios = {
  async chaining(client) {
    const id = await client.scheduleNewWorkflow(chain, 1, "js-chain");
    expect(id === "js-chain", `instance id ${id}`);
    const st = await done(client, id);
    expect(output(st) === 5, `chain output ${st.serializedOutput}`);
    expect(st.name === "chain", `name ${st.name}`);
    expect(st.customStatus === "after addOne", `custom status ${st.customStatus}`);
  },
  async fan_out(client) {
    const t = Date.now();
    const id = await client.scheduleNewWorkflow(fanOut, 100);
    const st = await done(client, id);
    let want = 0;
    for (let i = 1; i <= 100; i++) want += i * i;
    expect(output(st) === want, `fan-out output ${st.serializedOutput}`);
    console.log(`  fan-out of 100 took ${(Date.now() - t) / 1000}s`);
  },
  async monitor(client) {
    const t = Date.now();
    const id = await client.scheduleNewWorkflow(monitor, { count: 0, limit: 3 });
    const st = await done(client, id);
    expect(output(st) === 3, `monitor output ${st.serializedOutput}`);
    expect(JSON.parse(st.serializedInput).count === 2, `monitor input ${st.serializedInput}`);
    expect(Date.now() - t >= 500, "three 200 ms timers were too quick");
  },
  async approval(client) {
    const yes = await client.scheduleNewWorkflow(approval, 30, "js-approve-yes");
    await client.raiseEvent(yes, "approval", "bob");
    expect(output(await done(client, yes)) === "approved by bob", "approval event");
    const t = Date.now();
    const no = await client.scheduleNewWorkflow(approval, 1, "js-approve-timeout");
    expect(output(await done(client, no)) === "timed out", "approval timeout");
    expect(Date.now() - t >= 800, "timeout fired too early");
  },
  async child(client) {
    const id = await client.scheduleNewWorkflow(parent, 1);
    expect(output(await done(client, id)) === 50, "child workflow output");
  },
  async retry(client) {
    const id = await client.scheduleNewWorkflow(retried, "js-retry-key");
    expect(output(await done(client, id)) === 3, "retried output");
    expect(attempts.get("js-retry-key") === 3, `attempts ${attempts.get("js-retry-key")}`);
    const bad = await client.scheduleNewWorkflow(doomed, "x");
    const st = await done(client, bad, WorkflowRuntimeStatus.FAILED);
    const msg = st.workflowFailureDetails?.getErrorMessage() ?? "";
    expect(msg.includes("boom for good"), `failure ${msg}`);
  },
  async terminate_purge(client) {
    const id = await client.scheduleNewWorkflow(waiter, undefined, "js-term");
    await client.waitForWorkflowStart(id, false, TIMEOUT);
    await client.suspendWorkflow(id);
    let st = await client.getWorkflowState(id, true);
    expect(st.runtimeStatus === WorkflowRuntimeStatus.SUSPENDED, `suspended status ${st.runtimeStatus}`);
    await client.resumeWorkflow(id);
    st = await client.getWorkflowState(id, true);
    expect(st.runtimeStatus === WorkflowRuntimeStatus.RUNNING, `resumed status ${st.runtimeStatus}`);
    await client.terminateWorkflow(id, "stopped");
    st = await done(client, id, WorkflowRuntimeStatus.TERMINATED);
    expect(output(st) === "stopped", `terminate output ${st.serializedOutput}`);
    expect((await client.purgeWorkflow(id)) === true, "purge answered false");
    expect((await client.getWorkflowState(id, true)) === undefined, "purged instance still there");
  },
  async http(client) {
    const dc = new DaprClient({ daprHost: "127.0.0.1", daprPort: process.env.DAPR_HTTP_PORT, logger });
    const w = dc.workflow;
    const id = await w.start("waiter", { n: 1 }, "js-http");
    expect(id === "js-http", `start id ${id}`);
    let doc = await w.get(id);
    expect(doc.instanceID === "js-http" && doc.workflowName === "waiter", `get ${JSON.stringify(doc)}`);
    expect(doc.runtimeStatus === "RUNNING", `get status ${doc.runtimeStatus}`);
    expect(doc.properties["dapr.workflow.input"] === '{"n":1}', `get input ${JSON.stringify(doc.properties)}`);
    expect(doc.createdAt instanceof Date && !isNaN(doc.createdAt), "createdAt");
    // The body is the event data as is: a string must be sent as JSON text.
    await w.raise(id, "go", JSON.stringify("first"));
    const until = async (cond, what) => {
      const deadline = Date.now() + TIMEOUT * 1000;
      for (;;) {
        doc = await w.get(id);
        if (cond(doc)) return;
        expect(Date.now() < deadline, `${what}: ${JSON.stringify(doc)}`);
        await sleep(50);
      }
    };
    await until((d) => d.properties["dapr.workflow.custom_status"] === "got first", "custom status");
    await w.pause(id);
    await until((d) => d.runtimeStatus === "SUSPENDED", "suspended");
    await w.resume(id);
    await until((d) => d.runtimeStatus === "RUNNING", "resumed");
    await w.raise(id, "go2", { x: 2 });
    await until((d) => d.runtimeStatus === "COMPLETED", "completed");
    const out = JSON.parse(doc.properties["dapr.workflow.output"]);
    expect(out.first === "first" && out.second.x === 2, `output ${JSON.stringify(out)}`);
    await w.purge(id);
    let gone = "";
    try {
      await w.get(id);
    } catch (e) {
      gone = String(e?.message ?? e);
    }
    expect(gone !== "", "get of a purged instance succeeded");
    const id2 = await w.start("waiter", undefined, "js-http-term");
    await w.terminate(id2);
    await done(client, id2, WorkflowRuntimeStatus.TERMINATED);
  },
};

const runtime = new WorkflowRuntime(grpcOpts);
for (const wf of [chain, fanOut, monitor, approval, parent, retried, doomed, waiter]) runtime.registerWorkflow(wf);
for (const a of [addOne, double, square, flaky, alwaysFails]) runtime.registerActivity(a);
await runtime.start();
const client = new DaprWorkflowClient(grpcOpts);

const wanted = (process.env.SCENARIOS ?? "").split(",").filter(Boolean);
const failed = [];
for (const name of wanted.length ? wanted : Object.keys(scenarios)) {
  const t = Date.now();
  try {
    await scenarios[name](client);
    console.log(`ok ${name} (${(Date.now() - t) / 1000}s)`);
  } catch (e) {
    failed.push(name);
    console.log(`FAILED ${name}: ${e?.stack ?? e}`);
  }
}
await client.stop();
await runtime.stop();
if (failed.length) {
  console.log(`failed scenarios: ${failed.join(", ")}`);
  process.exit(1);
}
process.exit(0);
