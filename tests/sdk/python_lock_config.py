"""The official Python SDK's lock and configuration APIs against our daprd.

Run by tests/it/sidecar_sdk_lock_config.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a
daprd that has a `lockstore` (lock.redis) and a `configstore` (configuration.redis) on the
Redis at REDIS_PORT, which this script changes with `redis-cli`. Exits 0 when every check
passed; otherwise prints what differed and exits 1.
"""

import os
import subprocess
import sys
import threading
import time
import warnings

try:
    from dapr.clients import DaprClient
    from dapr.clients.grpc._response import UnlockResponseStatus
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'the Python Dapr SDK is not importable ({e}); run: python3 -m pip install "dapr==1.19.*"')
    sys.exit(3)

warnings.simplefilter('ignore')

LOCKS = 'lockstore'
CONFIG = 'configstore'
failures = []


def check(cond, what):
    print(f'{"ok  " if cond else "FAIL"} {what}')
    if not cond:
        failures.append(what)


def redis(*args):
    subprocess.run(['redis-cli', '-p', os.environ['REDIS_PORT'], *args], check=True,
                   capture_output=True)


with DaprClient() as d:
    # Locks.
    first = d.try_lock(LOCKS, 'py-res', 'alice', 30)
    check(first.success, 'alice takes the lock')
    check(not d.try_lock(LOCKS, 'py-res', 'bob', 30).success, 'bob cannot take it')
    check(d.unlock(LOCKS, 'py-res', 'bob').status == UnlockResponseStatus.lock_belongs_to_others,
          'bob cannot unlock it')
    check(d.unlock(LOCKS, 'py-res', 'alice').status == UnlockResponseStatus.success,
          'alice unlocks it')
    check(d.unlock(LOCKS, 'py-res', 'alice').status == UnlockResponseStatus.lock_does_not_exist,
          'a released lock does not exist')
    with d.try_lock(LOCKS, 'py-ctx', 'carol', 30) as lock:
        check(bool(lock), 'context-managed lock taken')
        check(not d.try_lock(LOCKS, 'py-ctx', 'dave', 30), 'held inside the with block')
    check(bool(d.try_lock(LOCKS, 'py-ctx', 'dave', 30)), 'released by the with block')
    check(bool(d.try_lock(LOCKS, 'py-exp', 'erin', 1)), 'short lock taken')
    time.sleep(1.2)
    check(bool(d.try_lock(LOCKS, 'py-exp', 'frank', 5)), 'taken by another owner after expiry')
    try:
        d.try_lock('nosuch', 'r', 'o', 5)
        check(False, 'unknown lock store refused')
    except Exception as e:  # noqa: BLE001 - DaprGrpcError or grpc.RpcError
        check('lock nosuch is not found' in str(e), f'unknown lock store refused: {e}')

    # Configuration reads.
    redis('SET', 'py-color', 'blue||1')
    redis('SET', 'py-size', 'large')
    got = d.get_configuration(CONFIG, ['py-color', 'py-size', 'py-missing'])
    check(set(got.items) == {'py-color', 'py-size'}, f'items {sorted(got.items)}')
    check(got.items['py-color'].value == 'blue' and got.items['py-color'].version == '1',
          'value and version')
    check(got.items['py-size'].value == 'large' and got.items['py-size'].version == '',
          'value without version')

    # A subscription: a change made with redis-cli reaches the handler within a second.
    changes = []
    arrived = threading.Event()

    def handler(sub_id, resp):
        changes.append((sub_id, {k: (v.value, v.version) for k, v in resp.items.items()}))
        arrived.set()

    sub_id = d.subscribe_configuration(CONFIG, ['py-color'], handler)
    check(bool(sub_id), f'subscription id {sub_id!r}')
    t0 = time.monotonic()
    redis('SET', 'py-color', 'red||2')
    check(arrived.wait(1.0), f'change within 1 s ({time.monotonic() - t0:.3f}s)')
    check(changes[:1] == [(sub_id, {'py-color': ('red', '2')})], f'change {changes}')
    check(d.unsubscribe_configuration(CONFIG, sub_id), 'unsubscribed')
    arrived.clear()
    redis('SET', 'py-color', 'green')
    check(not arrived.wait(0.5), 'no change after unsubscribing')
    check(not d.unsubscribe_configuration(CONFIG, sub_id), 'unsubscribing twice is not ok')

if failures:
    print(f'{len(failures)} check(s) failed')
    sys.exit(1)
print('all checks passed')
