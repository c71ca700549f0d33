"""The gRPC front end (ganserve.v1, see proto/ganserve/v1/ganserve.proto): a grpc.aio server in
the gateway process, sharing its models, caches, store and limits with HTTP.

    server.py        start and stop, health (grpc.health.v1), reflection, message sizes
    servicer.py      one method per RPC: translate, call one of ganserve.operations, encode
    convert.py       protobuf messages <-> the contract's models (ganserve.protocol) and arrays
    interceptors.py  errors -> status codes (ganserve.failures), request ids, per-method metrics
    generated/       the stubs, from proto/ganserve/v1/ganserve.proto (make proto)
"""
