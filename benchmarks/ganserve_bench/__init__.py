"""ganserve's benchmarks, kept out of the server package (the gateway image does not ship them).

Run from the checkout: `make bench`, `make bench-triton`, `make bench-cache`, `make bench-grpc`, or
`PYTHONPATH=benchmarks .venv/bin/python -m ganserve_bench --help`. Each command measures the real
server started as users start it and writes benchmarks/results/<command>-<model>-<UTC time>.json,
which also describes the machine it ran on:

- server (serving.py): the server over HTTP, the bare engine and the eager-torch baseline;
- triton (triton.py): the gateway on Triton against Triton alone, dynamic batching on and off;
- cache (cache.py): cache hits against misses, in-process LRU against Redis;
- grpc (grpc.py): gRPC raw tensors and PNG against HTTP PNG.

processes.py starts what tests and benchmarks both need (a gateway, a redis-server); the tests
import it from here.
"""
