"""Schemathesis over the OpenAPI description, against a real server process: no input may cause a 5xx."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url(model_dirs, tmp_path_factory):
    models, repository = model_dirs
    log_path = tmp_path_factory.mktemp("fuzz-server") / "server.log"
    port = free_port()
    env = {
        **os.environ,
        "GANSERVE_MODELS_DIR": str(models),
        "GANSERVE_MODEL_REPOSITORY": str(repository),
        "GANSERVE_LATENTS_PATH": str(log_path.parent / "latents.sqlite3"),
    }
    command = [sys.executable, "-c", "from ganserve.cli import app; app()", "serve", "--port", str(port)]
    log = log_path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        else:
            pytest.fail(f"server did not become ready: {log_path.read_text()[-3000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


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
