"""The official Python SDK's secrets API against our daprd.

Run by tests/it/sidecar_secrets.rs with DAPR_GRPC_PORT / DAPR_HTTP_PORT pointing at a daprd
with a secret store `localsecrets` (`multiValued`: secrets `api` = k3y, `db` = {user, password}, `hidden`)
and a Configuration whose `secrets.scopes` deny `hidden`. Exits 0 when every check passed;
otherwise prints what differed and exits 1.
"""

import sys

import grpc
from dapr.clients import DaprClient

failures = []


def check(what, got, want):
    if got != want:
        failures.append(f'{what}: got {got!r}, want {want!r}')


with DaprClient() as d:
    check('get_secret api', dict(d.get_secret('localsecrets', 'api').secret), {'api': 'k3y'})
    check(
        'get_secret db',
        dict(d.get_secret('localsecrets', 'db').secret),
        {'user': 'u', 'password': 'pw'},
    )
    bulk = d.get_bulk_secret('localsecrets').secrets
    check('bulk keys', sorted(bulk), ['api', 'db'])
    check('bulk api', dict(bulk.get('api', {})), {'api': 'k3y'})
    try:
        d.get_secret('localsecrets', 'hidden')
        failures.append('get_secret hidden: no error')
    except grpc.RpcError as e:  # the SDK raises gRPC's own error here
        check('denied code', e.code(), grpc.StatusCode.PERMISSION_DENIED)
        check('denied message', e.details(), 'access denied by policy to get "hidden" from "localsecrets"')
    try:
        d.get_secret('nosuch', 'api')
        failures.append('get_secret nosuch: no error')
    except grpc.RpcError as e:  # the SDK raises gRPC's own error here
        check('unknown store code', e.code(), grpc.StatusCode.INVALID_ARGUMENT)

for f in failures:
    print(f)
sys.exit(1 if failures else 0)
