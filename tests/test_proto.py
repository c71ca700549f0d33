"""The committed gRPC stubs are what grpcio-tools makes of the committed .proto (make proto)."""

from __future__ import annotations

import importlib.util

from ganserve.settings import REPO_ROOT


def test_generated_stubs_are_up_to_date(tmp_path):
    spec = importlib.util.spec_from_file_location("generate_stubs", REPO_ROOT / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh = {p.relative_to(tmp_path): p.read_bytes() for p in module.generate(tmp_path)}
    committed_root = REPO_ROOT / "clients" / "python"
    committed = {p.relative_to(committed_root): p.read_bytes() for p in (committed_root / module.PACKAGE_PATH).rglob("*") if p.is_file()}
    committed = {path: data for path, data in committed.items() if "__pycache__" not in path.parts}
    assert sorted(fresh) == sorted(committed)
    stale = [str(path) for path in fresh if fresh[path] != committed[path]]
    assert not stale, f"regenerate with `make proto`: {stale}"
