"""The official Python SDK's actors against our daprd: an actor type hosted by a Flask app
through the official extension (`dapr.ext.flask.DaprActor`) and called through `ActorProxy`
with an `ActorInterface`.

PART=basic (the default): calls with and without data (RPC style and `invoke_method`), an
actor error, turns (calls of one actor never overlap, calls of different actors do), state
through the actor's StateManager (read back through the actor, through daprd's
`GET /v1.0/actors/{type}/{id}/state/{key}` and in Redis under `appid||type||id||key`),
removal, idle deactivation (`_on_deactivate`) and the state surviving reactivation.

PART=timers: a timer registered from inside the actor (`register_timer`) fires its callback
with its data at its period, and stops after `unregister_timer`.

PART=reminders: reminders registered from inside the actor (`register_reminder`,
`Remindable.receive_reminder`) fire with their name and state, `GET .../reminders/{name}`
returns them, they stop after `unregister_reminder`, and a one-shot reminder fires once, after
the actor's idle deactivation, activating it again.

Run by tests/it/sidecar_sdk_actors.rs with DAPR_HTTP_PORT pointing at a daprd (app id in
APP_ID, `--app-port $APP_PORT`, a Redis state store marked `actorStateStore: "true"` on
REDIS_PORT). This script serves the Flask app on APP_PORT first, as an app started by
`dapr run` would. Exits 0 when every check passed, 1 otherwise, 3 when a package is missing.
"""

import asyncio
import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from datetime import timedelta

try:
    from dapr.actor import (
        Actor,
        ActorId,
        ActorInterface,
        ActorProxy,
        ActorRuntime,
        Remindable,
        actormethod,
    )
    from dapr.actor.runtime.config import ActorRuntimeConfig
    from dapr.ext.flask import DaprActor
    from flask import Flask
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'a package is missing ({e}); run: python3 -m pip install "dapr[flask]==1.19.*"')
    sys.exit(3)

warnings.simplefilter('ignore', DeprecationWarning)
logging.getLogger('werkzeug').setLevel(logging.ERROR)

APP_ID = os.environ['APP_ID']
DAPR = f'http://127.0.0.1:{os.environ["DAPR_HTTP_PORT"]}'
PART = os.environ.get('PART', 'basic')
failures = []


def check(cond, what):
    print(f'{"ok  " if cond else "FAIL"} {what}', flush=True)
    if not cond:
        failures.append(what)


# What the app saw, shared by the Flask threads and the client below.
lock = threading.Lock()
events = []  # (kind, actor id, detail, time)
busy = {}  # actor id -> calls in progress
overlap = {'same': 0, 'max_total': 0}


def record(kind, actor_id, detail=None):
    with lock:
        events.append((kind, actor_id, detail, time.time()))


def seen(kind, actor_id=None):
    with lock:
        return [e for e in events if e[0] == kind and (actor_id is None or e[1] == actor_id)]


class CounterInterface(ActorInterface):
    @actormethod(name='Ping')
    async def ping(self) -> str: ...

    @actormethod(name='Echo')
    async def echo(self, data: object) -> object: ...

    @actormethod(name='Add')
    async def add(self, n: int) -> int: ...

    @actormethod(name='GetCount')
    async def get_count(self) -> int: ...

    @actormethod(name='SetProfile')
    async def set_profile(self, profile: object) -> None: ...

    @actormethod(name='RemoveProfile')
    async def remove_profile(self) -> None: ...

    @actormethod(name='Slow')
    async def slow(self) -> None: ...

    @actormethod(name='Fail')
    async def fail(self) -> None: ...

    @actormethod(name='StartTimer')
    async def start_timer(self, data: object) -> None: ...

    @actormethod(name='StopTimer')
    async def stop_timer(self) -> None: ...

    @actormethod(name='StartReminder')
    async def start_reminder(self, spec: object) -> None: ...

    @actormethod(name='StopReminder')
    async def stop_reminder(self, name: str) -> None: ...


class Counter(Actor, CounterInterface, Remindable):
    async def _on_activate(self) -> None:
        record('activate', self.id.id)

    async def _on_deactivate(self) -> None:
        record('deactivate', self.id.id)

    async def ping(self) -> str:
        return f'pong from {self.id.id}'

    async def echo(self, data: object) -> object:
        return {'echo': data, 'id': self.id.id}

    async def add(self, n: int) -> int:
        _, count = await self._state_manager.try_get_state('count')
        count = (count or 0) + n
        await self._state_manager.set_state('count', count)
        return count

    async def get_count(self) -> int:
        _, count = await self._state_manager.try_get_state('count')
        return count or 0

    async def set_profile(self, profile: object) -> None:
        await self._state_manager.set_state('profile', profile)

    async def remove_profile(self) -> None:
        await self._state_manager.remove_state('profile')

    async def slow(self) -> None:
        me = self.id.id
        with lock:
            if busy.get(me, 0) > 0:
                overlap['same'] += 1
            busy[me] = busy.get(me, 0) + 1
            overlap['max_total'] = max(overlap['max_total'], sum(busy.values()))
        await asyncio.sleep(0.3)
        with lock:
            busy[me] -= 1

    async def fail(self) -> None:
        raise ValueError('boom from the actor')

    async def start_timer(self, data: object) -> None:
        await self.register_timer(
            'tick',
            self.on_tick,
            data,
            due_time=timedelta(milliseconds=100),
            period=timedelta(milliseconds=300),
        )

    async def stop_timer(self) -> None:
        await self.unregister_timer('tick')

    async def on_tick(self, data) -> None:
        record('timer', self.id.id, data)

    async def start_reminder(self, spec: object) -> None:
        period = spec.get('period_ms')
        await self.register_reminder(
            spec['name'],
            spec['state'].encode('utf-8'),
            due_time=timedelta(milliseconds=spec['due_ms']),
            period=timedelta(milliseconds=period) if period else None,
        )

    async def stop_reminder(self, name: str) -> None:
        await self.unregister_reminder(name)

    async def receive_reminder(self, name, state, due_time, period, ttl=None) -> None:
        record('reminder', self.id.id, (name, state))


app = Flask(__name__)
ActorRuntime.set_actor_config(
    ActorRuntimeConfig(
        actor_idle_timeout=timedelta(seconds=1), actor_scan_interval=timedelta(milliseconds=200)
    )
)
actors = DaprActor(app)
actors.register_actor(Counter)
threading.Thread(
    target=lambda: app.run(host='127.0.0.1', port=int(os.environ['APP_PORT'])), daemon=True
).start()


def http(method, path):
    req = urllib.request.Request(f'{DAPR}{path}', method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def redis_cli(*args):
    out = subprocess.run(
        ['redis-cli', '-p', os.environ['REDIS_PORT'], *args],
        capture_output=True,
        text=True,
        timeout=10,
    )
    return out.stdout.strip()


def wait(cond, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def proxy(actor_id):
    return ActorProxy.create('Counter', ActorId(actor_id), CounterInterface)


async def basic():
    a1 = proxy('a1')
    # Calls without and with data, RPC style and raw.
    check(await a1.Ping() == 'pong from a1', 'a call without data')
    r = await a1.Echo({'n': 1, 'text': 'héllo', 'list': [1, 2]})
    check(r == {'echo': {'n': 1, 'text': 'héllo', 'list': [1, 2]}, 'id': 'a1'}, f'a call with data: {r}')
    raw = await a1.invoke_method('Echo', b'"raw"')
    check(json.loads(raw) == {'echo': 'raw', 'id': 'a1'}, f'invoke_method with raw bytes: {raw}')
    check(len(seen('activate', 'a1')) == 1, f'one activation for three calls: {seen("activate", "a1")}')
    try:
        await a1.Fail()
        check(False, 'an actor error reaches the caller')
    except Exception as e:  # noqa: BLE001 - the SDK raises its own error types
        check('boom from the actor' in str(e), f'the actor error reaches the caller: {e}')

    # Turns: five calls of one actor in sequence, three actors side by side.
    await asyncio.gather(*(a1.Slow() for _ in range(5)))
    check(overlap['same'] == 0, f'calls of one actor never overlap ({overlap})')
    overlap['max_total'] = 0
    await asyncio.gather(*(proxy(f'p{i}').Slow() for i in range(3)))
    check(overlap['max_total'] >= 2, f'calls of different actors run side by side ({overlap})')

    # State through the StateManager, saved by the SDK's transaction after each call.
    check(await a1.Add(2) == 2, 'Add(2)')
    check(await a1.Add(3) == 5, 'Add(3) reads the saved count')
    check(await a1.GetCount() == 5, 'GetCount')
    status, body = http('GET', '/v1.0/actors/Counter/a1/state/count')
    check(status == 200 and json.loads(body) == 5, f'daprd GET state/count: {status} {body!r}')
    key = f'{APP_ID}||Counter||a1||count'
    check(redis_cli('HGET', key, 'data') == '5', f'Redis {key} data: {redis_cli("HGET", key, "data")!r}')
    profile = {'name': 'ada', 'tags': ['x', 'y'], 'age': 36}
    await a1.SetProfile(profile)
    status, body = http('GET', '/v1.0/actors/Counter/a1/state/profile')
    check(status == 200 and json.loads(body) == profile, f'daprd GET state/profile: {status} {body!r}')
    pkey = f'{APP_ID}||Counter||a1||profile'
    stored = redis_cli('HGET', pkey, 'data')
    check(stored != '' and json.loads(stored) == profile, f'Redis {pkey}: {stored!r}')
    await a1.RemoveProfile()
    status, body = http('GET', '/v1.0/actors/Counter/a1/state/profile')
    check(status == 204 and body == b'', f'removed state: {status} {body!r}')
    check(redis_cli('EXISTS', pkey) == '0', 'the Redis key is gone')
    status, _ = http('GET', '/v1.0/actors/Counter/other/state/count')
    check(status == 204, f'another actor has no state: {status}')

    # Idle deactivation after 1 s, then the state outlives it.
    check(
        await asyncio.to_thread(wait, lambda: len(seen('deactivate', 'a1')) >= 1, 10),
        f'a1 deactivated after its idle timeout: {seen("deactivate")}',
    )
    check(await a1.GetCount() == 5, 'the count is read back from the store after reactivation')
    check(len(seen('activate', 'a1')) == 2, f'a1 activated again: {seen("activate", "a1")}')


async def timers():
    # A timer due after 100 ms, every 300 ms, with JSON data, fired on the actor's callback.
    t1 = proxy('t1')
    started = time.time()
    await t1.StartTimer({'tick': 'data', 'n': 7})
    check(await asyncio.to_thread(wait, lambda: len(seen('timer', 't1')) >= 3), 'the timer fired 3 times')
    ticks = [e[2] for e in seen('timer', 't1')]
    check(all(t == {'tick': 'data', 'n': 7} for t in ticks), f'timer data: {ticks}')
    # Due after 100 ms, then every 300 ms: the third tick comes 700 ms after registration.
    third = seen('timer', 't1')[2][3] - started
    check(third >= 0.6, f'the period is kept: third tick after {third:.3f} s')
    await t1.StopTimer()
    # A firing already waiting for the actor's turn may still run.
    await asyncio.sleep(0.3)
    before = len(seen('timer', 't1'))
    await asyncio.sleep(1.0)
    check(len(seen('timer', 't1')) == before, f'no tick after unregister_timer ({before})')


async def reminders():
    # A periodic reminder with bytes state (the SDK sends it base64-encoded) and a one-shot
    # reminder due after the actor's idle deactivation.
    r1, r2 = proxy('r1'), proxy('r2')
    await r1.StartReminder({'name': 'every', 'state': 'reminder-data', 'due_ms': 100, 'period_ms': 300})
    await r2.StartReminder({'name': 'once', 'state': 'later', 'due_ms': 2500})
    check(await asyncio.to_thread(wait, lambda: len(seen('reminder', 'r1')) >= 2), 'the reminder fired twice')
    got = [e[2] for e in seen('reminder', 'r1')]
    check(all(g == ('every', b'reminder-data') for g in got), f'reminder name and state: {got}')
    status, body = http('GET', '/v1.0/actors/Counter/r1/reminders/every')
    doc = json.loads(body) if status == 200 else {}
    check(
        status == 200 and doc.get('data') == base64.b64encode(b'reminder-data').decode(),
        f'GET the reminder: {status} {body!r}',
    )
    await r1.StopReminder('every')
    await asyncio.sleep(0.3)
    before = len(seen('reminder', 'r1'))
    await asyncio.sleep(1.0)
    check(len(seen('reminder', 'r1')) == before, f'no reminder after unregister_reminder ({before})')
    status, _ = http('GET', '/v1.0/actors/Counter/r1/reminders/every')
    check(status == 404, f'GET the unregistered reminder: {status}')

    check(
        await asyncio.to_thread(wait, lambda: len(seen('deactivate', 'r2')) >= 1),
        'r2 deactivated before its reminder is due',
    )
    check(await asyncio.to_thread(wait, lambda: len(seen('reminder', 'r2')) >= 1), 'the one-shot reminder fired')
    check([e[2] for e in seen('reminder', 'r2')] == [('once', b'later')], f'once: {seen("reminder", "r2")}')
    check(len(seen('activate', 'r2')) == 2, f'the reminder activated r2 again: {seen("activate", "r2")}')
    await asyncio.sleep(1.0)
    check(len(seen('reminder', 'r2')) == 1, 'a one-shot reminder fires once')


# The sidecar reports healthy once it has read the app's /dapr/config.
check(wait(lambda: http('GET', '/v1.0/healthz')[0] == 204, 30), 'daprd is ready')
asyncio.run({'basic': basic, 'timers': timers, 'reminders': reminders}[PART]())

if failures:
    print(f'{len(failures)} checks failed')
    sys.exit(1)
print('all checks passed')
