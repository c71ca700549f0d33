"""Generate the Python gRPC stubs (messages, services and .pyi type stubs) from ganserve.proto.

    python proto/generate.py            # into the server's and the client's `generated` packages
    python proto/generate.py --out DIR  # elsewhere (the tests compare it with both committed copies)

The gateway (ganserve.rpc.generated) and the client library (ganserve_client.generated) each carry
the same stubs, so that neither imports the other. Both copies may be imported in one process (the
tests do): protobuf's descriptor pool accepts the same file twice only if it is the same file, so
both are generated from the one path ganserve/v1/ganserve.proto, byte for byte alike, and protoc's
absolute import of the messages (`from ganserve.v1 import ...`, which would name the server
package) is made package-relative.
"""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
REPO_ROOT = PROTO_DIR.parent
STUB_PACKAGES = [
    REPO_ROOT / "server" / "ganserve" / "rpc" / "generated",
    REPO_ROOT / "clients" / "python" / "ganserve_client" / "generated",
]
PROTO_FILES = ["ganserve/v1/ganserve.proto"]

# protoc's output -> what is committed: the messages imported from the package the stubs are in,
# and the classes' __module__ set to the module they are really defined in.
REWRITES = {
    "_pb2_grpc.py": ("from ganserve.v1 import ganserve_pb2 as", "from . import ganserve_pb2 as"),
    "_pb2.py": ("'ganserve.v1.ganserve_pb2', _globals)", "__name__, _globals)"),
}


def generate(out: Path) -> list[Path]:
    """The stubs package in `out`: out/ganserve/v1/ganserve_pb2{,_grpc}.py{,i}, with __init__.py files."""
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    well_known = str(files("grpc_tools") / "_proto")  # google/protobuf/struct.proto
    outputs = [f"--python_out={out}", f"--pyi_out={out}", f"--grpc_python_out={out}"]
    args = ["protoc", f"-I{PROTO_DIR}", f"-I{well_known}", *outputs, *PROTO_FILES]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    for path in out.rglob("*.py"):
        for suffix, (old, new) in REWRITES.items():
            if path.name.endswith(suffix):
                text = path.read_text()
                if old not in text:
                    raise SystemExit(f"{path}: protoc's output changed, no {old!r} to rewrite")
                path.write_text(text.replace(old, new))
    for directory in [out, *(p for p in out.rglob("*") if p.is_dir() and p.name != "__pycache__")]:
        (directory / "__init__.py").touch()
    return sorted(p for p in out.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, action="append", help="default: both committed packages")
    for package in parser.parse_args().out or STUB_PACKAGES:
        for path in generate(package):
            print(f"wrote {path}", file=sys.stderr)
