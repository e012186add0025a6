"""The official Python SDK's output bindings against our daprd: `DaprClient.invoke_binding`
(gRPC `InvokeBinding`) on a `bindings.localstorage` component named `files`: create, get,
list, delete, and the error for an unknown binding.

Run by tests/it/sidecar_bindings.rs with DAPR_HTTP_PORT / DAPR_GRPC_PORT pointing at a
daprd. Exits 0 when every check passed, 1 otherwise, 3 when a package is missing.
"""

import json
import sys
import warnings

try:
    from dapr.clients import DaprClient
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'a package is missing ({e}); run: python3 -m pip install "dapr==1.19.*"')
    sys.exit(3)

warnings.simplefilter('ignore', DeprecationWarning)
failures = []


def check(cond, what):
    print(('ok   ' if cond else 'FAIL ') + what)
    if not cond:
        failures.append(what)


with DaprClient() as d:
    r = d.invoke_binding('files', 'create', 'from python', binding_metadata={'fileName': 'py.txt'})
    check(json.loads(r.text()) == {'fileName': 'py.txt'}, f'create answers the file name: {r.text()!r}')
    r = d.invoke_binding('files', 'get', binding_metadata={'fileName': 'py.txt'})
    check(r.text() == 'from python', f'get answers the content: {r.text()!r}')
    d.invoke_binding('files', 'create', b'\x00\x01binary', binding_metadata={'fileName': 'tmp.bin'})
    r = d.invoke_binding('files', 'list')
    listed = json.loads(r.text())
    check(any(p.endswith('/py.txt') for p in listed) and len(listed) == 2, f'list: {listed}')
    r = d.invoke_binding('files', 'delete', binding_metadata={'fileName': 'tmp.bin'})
    check(r.data == b'', f'delete answers nothing: {r.data!r}')
    try:
        d.invoke_binding('nosuch', 'get')
        check(False, 'an unknown binding is an error')
    except Exception as e:  # grpc.RpcError or DaprGrpcError
        check('couldn\'t find output binding nosuch' in str(e), f'unknown binding error: {e}')

sys.exit(1 if failures else 0)
