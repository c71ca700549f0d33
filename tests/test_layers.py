"""The gateway's layers (pyproject.toml, [tool.importlinter]) hold, and a deliberate bad import of
each kind breaks them: lint-imports runs on a copy of the packages with that one import added."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ganserve.settings import REPO_ROOT

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = {"ganserve": REPO_ROOT / "server" / "ganserve", "ganserve_client": REPO_ROOT / "clients" / "python" / "ganserve_client"}


def lint_imports(pythonpath: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if pythonpath is not None:  # ahead of the editable install's finder, so these copies are the ones analysed
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run([LINT_IMPORTS, "--no-cache"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_layers_hold():
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("module", "bad_import", "broken"),
    [
        ("ganserve/operations/generate.py", "from ganserve.api import schemas", "ganserve.operations.generate -> ganserve.api.schemas"),
        ("ganserve/pipeline.py", "from ganserve.operations import generate", "ganserve.pipeline -> ganserve.operations.generate"),
        ("ganserve/protocol.py", "from ganserve import pipeline", "ganserve.protocol -> ganserve.pipeline"),
        ("ganserve/rpc/convert.py", "from ganserve.api import deps", "ganserve.rpc.convert -> ganserve.api.deps"),
        ("ganserve/rpc/servicer.py", "import ganserve_client", "ganserve.rpc.servicer -> ganserve_client"),
    ],
)
def test_a_bad_import_breaks_them(tmp_path, module, bad_import, broken):
    for name, source in PACKAGES.items():
        shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    with (tmp_path / module).open("a") as file:
        file.write(f"\n{bad_import}  # deliberately against the layers\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout, result.stdout
