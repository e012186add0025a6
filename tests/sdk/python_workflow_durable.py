"""A workflow of 20 sequential activities run by the official Python SDK worker, for the
durability test (tests/it/sidecar_workflow_durability.rs).

  python_workflow_durable.py start <log> <instance-id>   start the worker, schedule the
                                                          instance, then keep working
  python_workflow_durable.py resume <log> <instance-id>  start the worker and wait for the
                                                          instance to complete; print its
                                                          output

Each activity appends its step number to <log> when it is done, so the test sees which
activities ran and how often."""

import sys
import time

import dapr.ext.workflow as wf

mode, log_path, instance_id = sys.argv[1], sys.argv[2], sys.argv[3]
rt = wf.WorkflowRuntime()


@rt.activity(name="step")
def step(ctx, n):
    time.sleep(0.15)
    with open(log_path, "a") as f:
        f.write(f"{n}\n")
    return n * 10


@rt.workflow(name="twenty")
def twenty(ctx, _):
    total = 0
    for n in range(1, 21):
        total += yield ctx.call_activity(step, input=n)
    return total


rt.start()
client = wf.DaprWorkflowClient()
if mode == "start":
    client.schedule_new_workflow(workflow=twenty, instance_id=instance_id)
    while True:
        time.sleep(1)
else:
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)
    print(state.runtime_status.name, state.serialized_output, flush=True)
    rt.shutdown()
