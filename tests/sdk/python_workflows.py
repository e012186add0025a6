"""The official Python SDK's workflows (`dapr.ext.workflow`) against our daprd.

Started by tests/it/sidecar_workflows.rs with DAPR_GRPC_PORT/DAPR_HTTP_PORT of a daprd whose
actor state store is Redis. A `WorkflowRuntime` (the worker, on the Durable Task gRPC stream)
and a `DaprWorkflowClient` run in this process; each scenario prints one `ok ...` line:
task chaining, a fan-out/fan-in of 100 activities, a monitor with durable timers and
continue_as_new, an external approval event (arrives / times out), a child workflow, an
activity retried by the SDK's RetryPolicy (attempts counted) and one that fails for good,
terminate and purge; then the Dapr HTTP workflow API on a running instance (start, GET
shape, raiseEvent, pause/resume, terminate, purge and its errors). SCENARIOS (comma
separated) runs a subset. Exits 0 when every check passed. With WORKER_ONLY set it only
serves the workflows (`echo`, `waiter`, ...) until stdin closes, for tests that drive them
through the CLI or the gRPC API.
"""

import json
import os
import sys
import threading
import time
import traceback
import urllib.error
import urllib.request
from datetime import timedelta

try:
    import dapr.ext.workflow as wf
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'the Python SDK is not importable ({e}); run: python3 -m pip install "dapr==1.19.*"')
    sys.exit(3)

HTTP = f"http://127.0.0.1:{os.environ['DAPR_HTTP_PORT']}"
TIMEOUT = 30

lock = threading.Lock()
attempts = {}


def bump(key):
    with lock:
        attempts[key] = attempts.get(key, 0) + 1
        return attempts[key]


# ---- activities ----


def add_one(ctx, x):
    return x + 1


def double(ctx, x):
    return x * 2


def square(ctx, x):
    return x * x


def flaky(ctx, key):
    n = bump(key)
    if n < 3:
        raise ValueError(f'flaky attempt {n}')
    return n


def always_fails(ctx, _):
    raise ValueError('boom for good')


# ---- workflows ----


def chain(ctx: wf.DaprWorkflowContext, x):
    a = yield ctx.call_activity(add_one, input=x)
    ctx.set_custom_status('after add_one')
    b = yield ctx.call_activity(double, input=a)
    c = yield ctx.call_activity(add_one, input=b)
    return c


def fan_out(ctx: wf.DaprWorkflowContext, n):
    tasks = [ctx.call_activity(square, input=i) for i in range(n)]
    results = yield wf.when_all(tasks)
    return sum(results)


def monitor(ctx: wf.DaprWorkflowContext, state):
    yield ctx.create_timer(timedelta(milliseconds=200))
    count = state['count'] + 1
    if count < state['limit']:
        ctx.continue_as_new({'count': count, 'limit': state['limit']})
        return None
    return count


def approval(ctx: wf.DaprWorkflowContext, timeout_s):
    event = ctx.wait_for_external_event('approval')
    timer = ctx.create_timer(timedelta(seconds=timeout_s))
    winner = yield wf.when_any([event, timer])
    if winner == timer:
        return 'timed out'
    return f'approved by {event.get_result()}'


def parent(ctx: wf.DaprWorkflowContext, x):
    r = yield ctx.call_child_workflow(chain, input=x)
    return r * 10


def retried(ctx: wf.DaprWorkflowContext, key):
    policy = wf.RetryPolicy(
        first_retry_interval=timedelta(milliseconds=100), max_number_of_attempts=5
    )
    n = yield ctx.call_activity(flaky, input=key, retry_policy=policy)
    return n


def doomed(ctx: wf.DaprWorkflowContext, _):
    yield ctx.call_activity(always_fails, input=None)
    return 'unreachable'


def echo(ctx: wf.DaprWorkflowContext, x):
    return x


def waiter(ctx: wf.DaprWorkflowContext, _):
    got = yield ctx.wait_for_external_event('go')
    ctx.set_custom_status(f'got {got}')
    second = yield ctx.wait_for_external_event('go2')
    return {'first': got, 'second': second}


# ---- checks ----


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def done(client, iid, status=wf.WorkflowStatus.COMPLETED):
    st = client.wait_for_workflow_completion(iid, timeout_in_seconds=TIMEOUT)
    expect(st is not None, f'{iid}: no state')
    expect(
        st.runtime_status == status,
        f'{iid}: status {st.runtime_status} (want {status}); failure: {st.failure_details and st.failure_details.message}',
    )
    return st


def output(st):
    return json.loads(st.serialized_output) if st.serialized_output else None


def s_chaining(client):
    iid = client.schedule_new_workflow(chain, input=1, instance_id='py-chain')
    expect(iid == 'py-chain', f'instance id {iid}')
    st = done(client, iid)
    expect(output(st) == 5, f'chain output {st.serialized_output}')
    expect(st.name == 'chain', f'name {st.name}')
    expect(json.loads(st.serialized_input) == 1, f'input {st.serialized_input}')
    expect(st.serialized_custom_status == 'after add_one', f'custom status {st.serialized_custom_status!r}')
    # ListInstanceIDs and GetInstanceHistory through the SDK.
    expect('py-chain' in set(client.iter_workflow_instance_ids()), 'py-chain not listed')
    kinds = [e.event_type for e in client.get_workflow_history('py-chain')]
    T = wf.WorkflowHistoryEventType
    expect(kinds.count(T.TASK_SCHEDULED) == 3 and kinds.count(T.TASK_COMPLETED) == 3, f'history {kinds}')
    expect(kinds.count(T.EXECUTION_STARTED) == 1 and kinds[-1] == T.EXECUTION_COMPLETED, f'history {kinds}')
    scheduled = [e for e in client.get_workflow_history('py-chain') if e.event_type == T.TASK_SCHEDULED]
    expect([e.name for e in scheduled] == ['add_one', 'double', 'add_one'], f'scheduled {scheduled}')
    expect([e.event_id for e in scheduled] == [1, 2, 3], f'event ids {[e.event_id for e in scheduled]}')


def s_fan_out(client):
    t = time.monotonic()
    iid = client.schedule_new_workflow(fan_out, input=100)
    st = done(client, iid)
    expect(output(st) == sum(i * i for i in range(100)), f'fan-out output {st.serialized_output}')
    print(f'  fan-out of 100 took {time.monotonic() - t:.2f}s')


def s_monitor(client):
    iid = client.schedule_new_workflow(monitor, input={'count': 0, 'limit': 3})
    t = time.monotonic()
    st = done(client, iid)
    took = time.monotonic() - t
    expect(output(st) == 3, f'monitor output {st.serialized_output}')
    # The input is the last continue_as_new input.
    expect(json.loads(st.serialized_input) == {'count': 2, 'limit': 3}, f'monitor input {st.serialized_input}')
    expect(took >= 0.5, f'three 200 ms timers took only {took:.2f}s')


def s_approval(client):
    yes = client.schedule_new_workflow(approval, input=30, instance_id='py-approve-yes')
    client.raise_workflow_event(yes, 'approval', data='alice')
    expect(output(done(client, yes)) == 'approved by alice', 'approval event')
    no = client.schedule_new_workflow(approval, input=1, instance_id='py-approve-timeout')
    t = time.monotonic()
    expect(output(done(client, no)) == 'timed out', 'approval timeout')
    expect(time.monotonic() - t >= 0.8, 'timeout fired too early')


def s_child(client):
    iid = client.schedule_new_workflow(parent, input=1)
    expect(output(done(client, iid)) == 50, 'child workflow output')


def s_retry(client):
    iid = client.schedule_new_workflow(retried, input='py-retry-key')
    st = done(client, iid)
    expect(output(st) == 3, f'retried output {st.serialized_output}')
    expect(attempts.get('py-retry-key') == 3, f'attempts {attempts.get("py-retry-key")}')
    bad = client.schedule_new_workflow(doomed, input=None)
    st = done(client, bad, wf.WorkflowStatus.FAILED)
    expect(st.failure_details is not None, 'failure details')
    expect('boom for good' in st.failure_details.message, f'failure message {st.failure_details.message}')


def s_terminate_purge(client):
    iid = client.schedule_new_workflow(waiter, input=None, instance_id='py-term')
    client.wait_for_workflow_start(iid, timeout_in_seconds=TIMEOUT)
    client.pause_workflow(iid)
    st = client.get_workflow_state(iid)
    expect(st.runtime_status == wf.WorkflowStatus.SUSPENDED, f'paused status {st.runtime_status}')
    client.resume_workflow(iid)
    st = client.get_workflow_state(iid)
    expect(st.runtime_status == wf.WorkflowStatus.RUNNING, f'resumed status {st.runtime_status}')
    client.terminate_workflow(iid, output='stopped')
    st = done(client, iid, wf.WorkflowStatus.TERMINATED)
    expect(output(st) == 'stopped', f'terminate output {st.serialized_output}')
    client.purge_workflow(iid)
    expect(client.get_workflow_state(iid) is None, 'purged instance still there')
    # The id can be used again once purged.
    again = client.schedule_new_workflow(chain, input=2, instance_id='py-term')
    expect(output(done(client, again)) == 7, 'reused instance id')


def http(method, path, body=None):
    data = None if body is None else body.encode()
    req = urllib.request.Request(HTTP + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_state(iid, version='v1.0'):
    code, body = http('GET', f'/{version}/workflows/dapr/{iid}')
    expect(code == 200, f'GET {iid}: {code} {body}')
    return json.loads(body)


def wait_http(iid, status):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        doc = http_state(iid)
        if doc['runtimeStatus'] == status:
            return doc
        time.sleep(0.05)
    raise AssertionError(f'{iid}: never {status} (last {doc})')


def s_http(client):
    code, body = http('POST', '/v1.0-beta1/workflows/dapr/waiter/start?instanceID=py-http', '{"n": 1}')
    expect(code == 202, f'start: {code} {body}')
    expect(json.loads(body) == {'instanceID': 'py-http'}, f'start body {body}')
    doc = http_state('py-http', 'v1.0-alpha1')
    expect(
        set(doc) == {'instanceID', 'workflowName', 'createdAt', 'lastUpdatedAt', 'runtimeStatus', 'properties'},
        f'GET keys {sorted(doc)}',
    )
    expect(doc['instanceID'] == 'py-http' and doc['workflowName'] == 'waiter', f'GET {doc}')
    expect(doc['runtimeStatus'] == 'RUNNING', f'GET status {doc}')
    expect(doc['properties'].get('dapr.workflow.input') == '{"n": 1}', f'GET properties {doc}')
    expect(doc['createdAt'].endswith('Z') and 'T' in doc['createdAt'], f'createdAt {doc["createdAt"]}')
    code, body = http('POST', '/v1.0/workflows/dapr/py-http/raiseEvent/go', '"first"')
    expect(code == 202 and body == '', f'raiseEvent: {code} {body}')
    doc = wait_http('py-http', 'RUNNING')
    deadline = time.monotonic() + TIMEOUT
    while doc['properties'].get('dapr.workflow.custom_status') != 'got first':
        expect(time.monotonic() < deadline, f'custom status never set: {doc}')
        time.sleep(0.05)
        doc = http_state('py-http')
    code, _ = http('POST', '/v1.0/workflows/dapr/py-http/pause')
    expect(code == 202, f'pause: {code}')
    wait_http('py-http', 'SUSPENDED')
    code, _ = http('POST', '/v1.0/workflows/dapr/py-http/resume')
    expect(code == 202, f'resume: {code}')
    wait_http('py-http', 'RUNNING')
    code, _ = http('POST', '/v1.0/workflows/dapr/py-http/raiseEvent/go2', '{"x": 2}')
    expect(code == 202, f'raiseEvent 2: {code}')
    doc = wait_http('py-http', 'COMPLETED')
    expect(
        json.loads(doc['properties']['dapr.workflow.output']) == {'first': 'first', 'second': {'x': 2}},
        f'output {doc}',
    )
    code, _ = http('POST', '/v1.0/workflows/dapr/py-http/purge')
    expect(code == 202, f'purge: {code}')
    code, body = http('GET', '/v1.0/workflows/dapr/py-http')
    expect(code == 404 and json.loads(body)['errorCode'] == 'ERR_INSTANCE_ID_NOT_FOUND', f'GET purged: {code} {body}')
    # Terminate over HTTP, then the SDK sees it.
    code, _ = http('POST', '/v1.0/workflows/dapr/waiter/start?instanceID=py-http-term')
    expect(code == 202, f'start 2: {code}')
    code, _ = http('POST', '/v1.0/workflows/dapr/py-http-term/terminate')
    expect(code == 202, f'terminate: {code}')
    done(client, 'py-http-term', wf.WorkflowStatus.TERMINATED)
    # Errors.
    code, body = http('POST', '/v1.0/workflows/dapr/waiter/start?instanceID=bad.id')
    expect(code == 400 and json.loads(body)['errorCode'] == 'ERR_INSTANCE_ID_INVALID', f'bad id: {code} {body}')
    code, body = http('POST', '/v1.0/workflows/dapr/nope/terminate')
    expect(code == 404 and json.loads(body)['errorCode'] == 'ERR_INSTANCE_ID_NOT_FOUND', f'terminate unknown: {code} {body}')
    code, body = http('POST', '/v1.0/workflows/dapr/nope/purge')
    expect(code == 404, f'purge unknown: {code} {body}')


SCENARIOS = {
    'chaining': s_chaining,
    'fan_out': s_fan_out,
    'monitor': s_monitor,
    'approval': s_approval,
    'child': s_child,
    'retry': s_retry,
    'terminate_purge': s_terminate_purge,
    'http': s_http,
}


def main():
    rt = wf.WorkflowRuntime()
    for w in (chain, fan_out, monitor, approval, parent, retried, doomed, echo, waiter):
        rt.register_workflow(w)
    for a in (add_one, double, square, flaky, always_fails):
        rt.register_activity(a)
    rt.start()
    if os.environ.get('WORKER_ONLY'):
        # A worker for tests that drive the workflows themselves (CLI, gRPC API): serve
        # until stdin closes.
        print('worker ready', flush=True)
        sys.stdin.read()
        rt.shutdown()
        return
    client = wf.DaprWorkflowClient()
    wanted = [s for s in os.environ.get('SCENARIOS', '').split(',') if s] or list(SCENARIOS)
    failed = []
    try:
        for name in wanted:
            t = time.monotonic()
            try:
                SCENARIOS[name](client)
                print(f'ok {name} ({time.monotonic() - t:.2f}s)', flush=True)
            except Exception:
                failed.append(name)
                print(f'FAILED {name}:', flush=True)
                traceback.print_exc()
    finally:
        rt.shutdown()
    if failed:
        print('failed scenarios: ' + ', '.join(failed))
        sys.exit(1)


if __name__ == '__main__':
    main()
