"""The gRPC front end (ganserve.v1, see proto/ganserve/v1/ganserve.proto): a grpc.aio server in
the gateway process, sharing its models, caches, store and limits with HTTP.

    server.py        start and stop, health (grpc.health.v1), reflection, message sizes
    servicer.py      one method per RPC: translate, call ganserve.operations, encode
    convert.py       protobuf messages <-> the request models and arrays of the HTTP API
    interceptors.py  errors -> status codes naming the field; per-method metrics
"""
