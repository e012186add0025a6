"""The official Python SDK's gRPC app (`dapr.ext.grpc.App`, `pip install "dapr[grpc]"`).

Started by tests/it/sidecar_grpc_app.rs on APP_PORT before a daprd with
`--app-protocol grpc`, which then invokes it: `echo` answers what it received as JSON (with a
response header `x-py: yes`), `proto` answers a typed protobuf message, `fail` raises.
Serves until killed.
"""

import json
import os
import sys

try:
    from dapr.clients.grpc._response import InvokeMethodResponse
    from dapr.ext.grpc import App, InvokeMethodRequest
    from google.protobuf.wrappers_pb2 import StringValue
except ImportError as e:  # pragma: no cover - reported by the Rust test
    print(f'dapr.ext.grpc is not importable ({e}); run: python3 -m pip install "dapr[grpc]==1.19.*"')
    sys.exit(3)

app = App()


@app.method(name='echo')
def echo(request: InvokeMethodRequest) -> InvokeMethodResponse:
    body = {
        'text': request.text(),
        'content_type': request.content_type,
        'metadata': request.metadata,
    }
    return InvokeMethodResponse(
        json.dumps(body).encode(), 'application/json', headers=(('x-py', 'yes'),)
    )


@app.method(name='proto')
def proto(request: InvokeMethodRequest) -> StringValue:
    return StringValue(value='from-py')


@app.method(name='fail')
def fail(request: InvokeMethodRequest) -> str:
    raise ValueError('boom')


app.register_health_check(lambda: None)
print(f'serving on {os.environ["APP_PORT"]}', flush=True)
app.run(int(os.environ['APP_PORT']), listen_address='127.0.0.1')
