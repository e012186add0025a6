"""The official Python SDK (`pip install dapr`) against our daprd.

Run by tests/it/sidecar_grpc.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a daprd
that has a `statestore` component. Optional: H7_INVOKE_APP names an app id whose app answers
`POST /echo` by echoing the body (invoked over HTTP, or over gRPC `InvokeService` when
DAPR_API_METHOD_INVOCATION_PROTOCOL=grpc). Exits 0 when every check passed; otherwise prints
what differed and exits 1. Exit 3 means the `dapr` package is not installed.
"""

import json
import os
import sys
import urllib.request
import warnings

try:
    import grpc
    from dapr.clients import DaprClient
    from dapr.clients.exceptions import DaprGrpcError
    from dapr.clients.grpc._request import TransactionalStateOperation, TransactionOperationType
    from dapr.clients.grpc._state import Concurrency, StateItem, StateOptions
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'the Python Dapr SDK is not importable ({e}); run: python3 -m pip install "dapr==1.19.*"')
    sys.exit(3)

warnings.simplefilter('ignore', DeprecationWarning)

STORE = 'statestore'
failures = []


def check(cond, what):
    if cond:
        print(f'ok   {what}')
    else:
        print(f'FAIL {what}')
        failures.append(what)


def expect_error(fn, code, what, reason=None):
    try:
        fn()
    except DaprGrpcError as e:
        ok = e.code() == code and (reason is None or e.error_code() == reason)
        check(ok, f'{what}: got {e.code()} / {e.error_code()} / {e.details()!r}')
        return e
    except grpc.RpcError as e:  # older SDK paths raise the raw error
        check(e.code() == code, f'{what}: got {e.code()} / {e.details()!r}')
        return e
    check(False, f'{what}: no error raised')
    return None


def http_get(path):
    port = os.environ['DAPR_HTTP_PORT']
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=5) as r:
        return r.status, r.read()


with DaprClient() as d:
    # Save / get: bytes are stored verbatim (no JSON re-encoding on gRPC).
    d.save_state(STORE, 'py-k1', 'hello world')
    got = d.get_state(STORE, 'py-k1')
    check(got.data == b'hello world', f'get_state value {got.data!r}')
    check(got.etag != '', f'get_state etag {got.etag!r}')
    status, body = http_get('/v1.0/state/statestore/py-k1')
    check((status, body) == (200, b'hello world'), f'HTTP sees the same bytes {body!r}')

    # A JSON value declared as such is re-encoded compactly, as upstream.
    d.save_state(STORE, 'py-json', '{ "a" : [1, 2] }', state_metadata={'contentType': 'application/json'})
    check(d.get_state(STORE, 'py-json').data == b'{"a":[1,2]}', 'contentType=application/json value')

    # Missing key: empty response, not an error.
    missing = d.get_state(STORE, 'py-missing')
    check((missing.data, missing.etag) == (b'', ''), f'missing key {missing.data!r} {missing.etag!r}')

    # ETag: the right one works, a stale one fails with ABORTED and the value survives.
    etag = got.etag
    expect_error(
        lambda: d.save_state(STORE, 'py-k1', 'stale', etag='999999'),
        grpc.StatusCode.ABORTED,
        'stale etag on save',
    )
    d.save_state(
        STORE, 'py-k1', 'second', etag=etag, options=StateOptions(concurrency=Concurrency.first_write)
    )
    second = d.get_state(STORE, 'py-k1')
    check(second.data == b'second' and second.etag != etag, 'save with the right etag')
    expect_error(
        lambda: d.delete_state(STORE, 'py-k1', etag=etag),
        grpc.StatusCode.ABORTED,
        'stale etag on delete',
    )
    d.delete_state(STORE, 'py-k1', etag=second.etag)
    check(d.get_state(STORE, 'py-k1').data == b'', 'deleted')

    # Errors with upstream codes.
    expect_error(
        lambda: d.save_state('nope', 'k', 'v'),
        grpc.StatusCode.INVALID_ARGUMENT,
        'unknown store',
        reason='DAPR_STATE_NOT_FOUND',
    )
    expect_error(
        lambda: d.get_state(STORE, 'a||b'),
        grpc.StatusCode.INVALID_ARGUMENT,
        'illegal key',
        reason='DAPR_STATE_ILLEGAL_KEY',
    )

    # Bulk save / bulk get / transaction.
    d.save_bulk_state(STORE, [StateItem(key='py-b1', value='one'), StateItem(key='py-b2', value='two')])
    items = d.get_bulk_state(STORE, ['py-b1', 'py-b2', 'py-none']).items
    check(
        [(i.key, i.data) for i in items] == [('py-b1', b'one'), ('py-b2', b'two'), ('py-none', b'')],
        f'bulk get {[(i.key, i.data) for i in items]}',
    )
    d.execute_state_transaction(
        STORE,
        [
            TransactionalStateOperation(key='py-t1', data='t1'),
            TransactionalStateOperation(key='py-b1', operation_type=TransactionOperationType.delete),
        ],
    )
    check(d.get_state(STORE, 'py-t1').data == b't1', 'transaction upsert')
    check(d.get_state(STORE, 'py-b1').data == b'', 'transaction delete')

    # Metadata.
    d.set_metadata('pyAttr', 'pyValue')
    md = d.get_metadata()
    check(md.application_id == os.environ.get('H7_APP_ID', md.application_id), f'app id {md.application_id}')
    check(md.extended_metadata.get('pyAttr') == 'pyValue', f'extended {md.extended_metadata}')
    comps = {c.name: c for c in md.registered_components}
    check(STORE in comps and 'ETAG' in comps[STORE].capabilities, f'components {list(comps)}')
    status, body = http_get('/v1.0/metadata')
    check(json.loads(body)['extended'].get('pyAttr') == 'pyValue', 'HTTP metadata sees SetMetadata')

    # Pub/sub is not available: the official "not found" answer.
    expect_error(
        lambda: d.publish_event('pubsub', 'orders', b'x'),
        grpc.StatusCode.INVALID_ARGUMENT,
        'publish without pubsub',
    )

    app = os.environ.get('H7_INVOKE_APP')
    if app:
        res = d.invoke_method(app, 'echo', data=b'ping', content_type='text/plain', http_verb='POST')
        check(res.data == b'echo:ping', f'invoke_method {res.data!r}')

        def header(res, name):
            v = dict(res.headers or {}).get(name)
            return v[0] if isinstance(v, (list, tuple)) else v

        # Every verb reaches the app as sent, with the query string (`http_verb` is only a
        # name: the SDK sends it as the HTTP method, or as the gRPC HTTPExtension verb).
        for verb in ['GET', 'PUT', 'DELETE', 'PATCH']:
            res = d.invoke_method(
                app,
                'echo',
                data=b'' if verb == 'GET' else b'v',
                http_verb=verb,
                http_querystring=(('q', '1'), ('r', 'two')),
            )
            got = (header(res, 'x-echo-method'), header(res, 'x-echo-query'))
            check(got == (verb, 'q=1&r=two'), f'invoke_method {verb}: {got} {res.data!r}')

if failures:
    print(f'{len(failures)} check(s) failed')
    sys.exit(1)
print('all checks passed')
