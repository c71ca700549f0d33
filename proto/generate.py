"""Generate the Python gRPC stubs (messages, services and .pyi type stubs) from ganserve.proto.

    python proto/generate.py            # into clients/python/ganserve_client/generated/
    python proto/generate.py --out DIR  # elsewhere (the tests compare it with what is committed)

The .proto is mapped to the virtual path ganserve_client/generated/ganserve/v1/, so that the
generated modules import each other as a package (`ganserve_client.generated.ganserve.v1`),
apart from the hand-written client code.
"""

from __future__ import annotations

import argparse
import sys
from importlib.resources import files
from pathlib import Path

PROTO_DIR = Path(__file__).resolve().parent
CLIENT_DIR = PROTO_DIR.parent / "clients" / "python"
PACKAGE_PATH = "ganserve_client/generated"
PROTO_FILES = ["ganserve/v1/ganserve.proto"]


def generate(out: Path) -> list[Path]:
    from grpc_tools import protoc

    out.mkdir(parents=True, exist_ok=True)
    well_known = str(files("grpc_tools") / "_proto")  # google/protobuf/struct.proto
    args = [
        "protoc",
        f"-I{PACKAGE_PATH}={PROTO_DIR}",
        f"-I{well_known}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *[f"{PACKAGE_PATH}/{name}" for name in PROTO_FILES],
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    package = out / PACKAGE_PATH
    for directory in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (directory / "__init__.py").touch()
    return sorted(p for p in package.rglob("*") if p.is_file())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=CLIENT_DIR)
    for path in generate(parser.parse_args().out):
        print(f"wrote {path}", file=sys.stderr)
