"""The official Python SDK's Jobs API client and gRPC app against our daprd.

Started by tests/it/sidecar_jobs.rs before its daprd (`--app-protocol grpc --app-port
APP_PORT`): serves a `dapr.ext.grpc.App` with a job event handler on APP_PORT, then, once
`DaprClient()` finds the sidecar, schedules, reads, overwrites and deletes jobs with
`schedule_job` / `get_job` / `delete_job` (and the deprecated `*_alpha1` aliases), checks the
errors, and waits for a one-shot job to reach the app with its payload. Exits 0 when every
check passed.
"""

import os
import sys
import threading
import warnings

try:
    import grpc
    from dapr.clients import DaprClient
    from dapr.clients.exceptions import DaprGrpcError
    from dapr.clients.grpc._jobs import ConstantFailurePolicy, DropFailurePolicy, Job
    from dapr.ext.grpc import App, JobEvent
    from google.protobuf.any_pb2 import Any as GrpcAny
    from google.protobuf.wrappers_pb2 import StringValue
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'the Python SDK is not importable ({e}); run: python3 -m pip install "dapr[grpc]==1.19.*"')
    sys.exit(3)

warnings.simplefilter('ignore', DeprecationWarning)

app = App()
fired = []
got_event = threading.Event()


@app.job_event('py-once')
def on_once(event: JobEvent) -> None:
    fired.append((event.name, event.data))
    got_event.set()


threading.Thread(
    target=lambda: app.run(int(os.environ['APP_PORT']), listen_address='127.0.0.1'),
    daemon=True,
).start()


def packed(text: str) -> GrpcAny:
    a = GrpcAny()
    a.Pack(StringValue(value=text))
    return a


def expect_error(what, fn, code, reason):
    try:
        fn()
    except DaprGrpcError as e:
        assert e.code() == code, f'{what}: {e.code()} {e.details()}'
        assert e.error_code() == reason, f'{what}: reason {e.error_code()}'
        return
    raise AssertionError(f'{what}: no error')


with DaprClient() as d:
    job = Job(
        name='py-daily',
        schedule='@daily',
        repeats=2,
        ttl='1h',
        data=packed('hello'),
        failure_policy=ConstantFailurePolicy(max_retries=2, interval_seconds=5),
    )
    d.schedule_job(job)
    got = d.get_job('py-daily')
    assert (got.name, got.schedule, got.repeats, got.ttl, got.due_time) == (
        'py-daily', '@daily', 2, '1h', None,
    ), got
    assert isinstance(got.failure_policy, ConstantFailurePolicy), got.failure_policy
    assert (got.failure_policy.max_retries, got.failure_policy.interval_seconds) == (2, 5)
    value = StringValue()
    assert got.data.Unpack(value) and value.value == 'hello', got.data

    # A second job of the same name needs overwrite.
    expect_error(
        'duplicate', lambda: d.schedule_job(job), grpc.StatusCode.ALREADY_EXISTS,
        'DAPR_SCHEDULER_SCHEDULE_JOB',
    )
    d.schedule_job(Job(name='py-daily', due_time='1h', failure_policy=DropFailurePolicy()), overwrite=True)
    got = d.get_job_alpha1('py-daily')
    assert (got.schedule, got.due_time) == (None, '1h'), got
    assert isinstance(got.failure_policy, DropFailurePolicy), got.failure_policy

    # A job the scheduler refuses.
    expect_error(
        'bad schedule', lambda: d.schedule_job(Job(name='bad', schedule='* * * * *')),
        grpc.StatusCode.INTERNAL, 'DAPR_SCHEDULER_SCHEDULE_JOB',
    )

    d.delete_job('py-daily')
    d.delete_job_alpha1('py-daily')  # deleting a missing job succeeds
    expect_error(
        'get deleted', lambda: d.get_job('py-daily'), grpc.StatusCode.INTERNAL,
        'DAPR_SCHEDULER_GET_JOB',
    )

    # A one-shot job reaches the app's handler with its payload.
    d.schedule_job(Job(name='py-once', due_time='1s', data=packed('for the app')))
    assert got_event.wait(15), 'the job never reached the app'
    name, data = fired[0]
    assert name == 'py-once', fired
    assert StringValue.FromString(data).value == 'for the app', data

print('python jobs: ok', flush=True)
os._exit(0)
