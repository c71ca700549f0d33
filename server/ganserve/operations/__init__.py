"""The API's operations, shared by the HTTP and gRPC front ends so that the same request gives the
same result on both: contract requests (ganserve.protocol) in, numpy arrays or bytes out. Each
route and each RPC parses its request, calls one operation, and encodes what comes back."""
