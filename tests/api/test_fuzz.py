"""Schemathesis over the OpenAPI description, against a real server process: no input may cause a 5xx."""

import subprocess
import sys
from pathlib import Path

import pytest

from ganserve_bench.processes import gateway


@pytest.fixture(scope="module")
def server_url(model_dirs, tmp_path_factory):
    models, repository = model_dirs
    env = {"GANSERVE_MODELS_DIR": str(models), "GANSERVE_MODEL_REPOSITORY": str(repository)}
    workdir = tmp_path_factory.mktemp("fuzz-server")
    with gateway(env, workdir, "demo64") as (server, _):
        yield server.base_url


def test_no_input_causes_a_server_error(server_url, tmp_path):
    """Generated valid and invalid inputs for every operation; any 5xx fails the run."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{server_url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--max-examples",
        "30",
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "1",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-6000:]
