"""Writes the grpc_api seed corpus (fuzz/corpus/grpc_api/) with the official Python SDK's
protobuf classes (pip install dapr): frames [selector u8][len u16 LE][message], selectors in
the order of GRPC_METHODS in src/fuzzing.rs. Run from fuzz/: python3 grpc_seeds.py"""
import os
import struct
from dapr.proto.runtime.v1 import state_pb2, invoke_pb2, secret_pb2, metadata_pb2, pubsub_pb2, dapr_pb2
from dapr.proto.common.v1 import common_pb2 as common
from google.protobuf import any_pb2
class P: pass
pb=P()
for mod in (state_pb2, invoke_pb2, secret_pb2, metadata_pb2, pubsub_pb2, dapr_pb2):
    for k in dir(mod):
        if k[0].isupper() and not hasattr(pb,k): setattr(pb,k,getattr(mod,k))
os.makedirs("corpus/grpc_api", exist_ok=True)
M=["SaveState","GetState","GetBulkState","DeleteState","DeleteBulkState","ExecuteStateTransaction","InvokeService","GetSecret","GetBulkSecret","GetMetadata","SetMetadata","PublishEvent","Shutdown"]
def frame(name,msg):
    b=msg.SerializeToString()
    return bytes([M.index(name)])+struct.pack('<H',len(b))+b
def write(fn,*frames):
    open('corpus/grpc_api/'+fn,'wb').write(b''.join(frames))
SO=common.StateOptions
write('save-get-delete',
  frame("SaveState",pb.SaveStateRequest(store_name="statestore",states=[
      common.StateItem(key="order",value=b'{"id":1}',metadata={"contentType":"application/json"}),
      common.StateItem(key="raw",value=b'\x00\x01binary',etag=common.Etag(value="1"),options=SO(concurrency=SO.CONCURRENCY_FIRST_WRITE,consistency=SO.CONSISTENCY_STRONG))])),
  frame("GetState",pb.GetStateRequest(store_name="statestore",key="order",consistency=SO.CONSISTENCY_STRONG,metadata={"partitionKey":"p"})),
  frame("DeleteState",pb.DeleteStateRequest(store_name="statestore",key="order",etag=common.Etag(value="x"),options=SO(concurrency=SO.CONCURRENCY_LAST_WRITE))),
  frame("GetState",pb.GetStateRequest(store_name="statestore",key="order")))
write('ttl',
  frame("SaveState",pb.SaveStateRequest(store_name="plain",states=[
      common.StateItem(key="t",value=b'"v"',metadata={"ttlInSeconds":"60","contentType":"application/json"}),
      common.StateItem(key="u",value=b'1',metadata={"ttlInSeconds":"-1"})])),
  frame("GetBulkState",pb.GetBulkStateRequest(store_name="plain",keys=["t","u","none"],parallelism=4)))
write('transaction',
  frame("ExecuteStateTransaction",pb.ExecuteStateTransactionRequest(storeName="statestore",operations=[
      pb.TransactionalStateOperation(operationType="upsert",request=common.StateItem(key="a",value=b'1',metadata={"ttlInSeconds":"30"})),
      pb.TransactionalStateOperation(operationType="delete",request=common.StateItem(key="b",etag=common.Etag(value="e"))),
      pb.TransactionalStateOperation(operationType="upsert",request=common.StateItem(key="c",value=b'{}'))],metadata={"partitionKey":"p"})),
  frame("GetBulkState",pb.GetBulkStateRequest(store_name="statestore",keys=["a","b","c"])),
  frame("DeleteBulkState",pb.DeleteBulkStateRequest(store_name="statestore",states=[common.StateItem(key="a"),common.StateItem(key="c",etag=common.Etag(value="z"))])))
write('invoke',
  frame("InvokeService",pb.InvokeServiceRequest(id="nodeapp",message=common.InvokeRequest(method="neworder",data=any_pb2.Any(type_url="",value=b'{"x":1}'),content_type="application/json",http_extension=common.HTTPExtension(verb=common.HTTPExtension.POST,querystring="a=1&b=2")))),
  frame("InvokeService",pb.InvokeServiceRequest(id="other.ns",message=common.InvokeRequest(method="../../etc/passwd"))),
  frame("InvokeService",pb.InvokeServiceRequest(id="")))
write('secrets-metadata',
  frame("GetSecret",pb.GetSecretRequest(store_name="envsecrets",key="HOME",metadata={"namespace":"x"})),
  frame("GetBulkSecret",pb.GetBulkSecretRequest(store_name="envsecrets")),
  frame("GetSecret",pb.GetSecretRequest(store_name="none",key="k")),
  frame("SetMetadata",pb.SetMetadataRequest(key="label",value="v")),
  frame("GetMetadata",pb.GetMetadataRequest()),
  frame("PublishEvent",pb.PublishEventRequest(pubsub_name="pubsub",topic="orders",data=b'{}',data_content_type="application/json",metadata={"rawPayload":"true"})),
  frame("Shutdown",pb.ShutdownRequest()))
write('sqlite',
  frame("SaveState",pb.SaveStateRequest(store_name="fuzzsqlite",states=[
      common.StateItem(key="j",value=b'{"a":[1,2]}',metadata={"contentType":"application/json","ttlInSeconds":"45"}),
      common.StateItem(key="b",value=b'\xff\x00raw'),
      common.StateItem(key="e",value=b'1',etag=common.Etag(value="nope"),options=SO(concurrency=SO.CONCURRENCY_FIRST_WRITE))])),
  frame("ExecuteStateTransaction",pb.ExecuteStateTransactionRequest(storeName="fuzzsqlite",operations=[
      pb.TransactionalStateOperation(operationType="upsert",request=common.StateItem(key="j",value=b'2')),
      pb.TransactionalStateOperation(operationType="delete",request=common.StateItem(key="b"))])),
  frame("GetBulkState",pb.GetBulkStateRequest(store_name="fuzzsqlite",keys=["j","b","e"])),
  frame("DeleteState",pb.DeleteStateRequest(store_name="fuzzsqlite",key="j")))
