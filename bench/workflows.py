"""Driver of bench/workflows.sh: the official Python SDK's worker and client against one
daprd. A workflow is a chain of three activities (each returns at once).

  throughput: N workflows scheduled at once (from C client threads), until all completed;
              workflows per second = N / elapsed
  latency:    M workflows one after the other; start (schedule call) to completion
              (wait_for_workflow_completion returns) — median and p90

Prints one `RESULT key=value ...` line."""

import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import dapr.ext.workflow as wf

N, M, C = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rt = wf.WorkflowRuntime()


@rt.activity(name="step")
def step(ctx, x):
    return x + 1


@rt.workflow(name="chain3")
def chain3(ctx, x):
    x = yield ctx.call_activity(step, input=x)
    x = yield ctx.call_activity(step, input=x)
    x = yield ctx.call_activity(step, input=x)
    return x


rt.start()
client = wf.DaprWorkflowClient()
# Warm-up.
i = client.schedule_new_workflow(workflow=chain3, input=0)
assert client.wait_for_workflow_completion(i, timeout_in_seconds=60).serialized_output == "3"


def one(k):
    iid = client.schedule_new_workflow(workflow=chain3, input=k, instance_id=f"t-{k}")
    return iid


t0 = time.perf_counter()
with ThreadPoolExecutor(C) as pool:
    ids = list(pool.map(one, range(N)))


def done(iid):
    s = client.wait_for_workflow_completion(iid, timeout_in_seconds=300)
    return s.runtime_status.name


with ThreadPoolExecutor(C) as pool:
    statuses = list(pool.map(done, ids))
elapsed = time.perf_counter() - t0
completed = statuses.count("COMPLETED")

lat = []
for k in range(M):
    s = time.perf_counter()
    iid = client.schedule_new_workflow(workflow=chain3, input=k, instance_id=f"l-{k}")
    client.wait_for_workflow_completion(iid, timeout_in_seconds=60)
    lat.append((time.perf_counter() - s) * 1000)
lat.sort()
print(
    f"RESULT n={N} completed={completed} elapsed_s={elapsed:.2f} wf_per_s={N / elapsed:.1f} "
    f"m={M} p50_ms={statistics.median(lat):.1f} p90_ms={lat[int(len(lat) * 0.9) - 1]:.1f} "
    f"min_ms={lat[0]:.1f}",
    flush=True,
)
rt.shutdown()
