"""ganserve-client, the CLI, against a running server over both transports."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from ganserve_client import Client
from ganserve_client.cli import app, parse_ints

runner = CliRunner()


@pytest.fixture(scope="module", params=["http", "grpc"])
def url(request, live_server) -> str:
    return live_server.base_url if request.param == "http" else f"grpc://{live_server.grpc_target}"


def run(url: str, *args: str):
    result = runner.invoke(app, ["--url", url, *args])
    return result


def test_parse_ints():
    assert parse_ints("1-4,7, 9-10") == [1, 2, 3, 4, 7, 9, 10]


def test_generate_writes_one_image_per_seed(url, tmp_path):
    result = run(url, "generate", "--model", "demo64", "--seeds", "1-3,8", "--psi", "0.7", "--out", str(tmp_path), "--batch", "2")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seed0001.png", "seed0002.png", "seed0003.png", "seed0008.png"]
    with Client(url) as client:
        (expected,) = client.generate("demo64", [8], psi=0.7)
    assert (tmp_path / "seed0008.png").read_bytes() == expected.data


def test_generate_with_a_stylegan3_view(url, tmp_path):
    result = run(url, "generate", "--model", "sg3t", "--seeds", "5", "--translate", "0.1,-0.2", "--rotate", "12", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    with Client(url) as client:
        (expected,) = client.generate("sg3t", [5], translate=(0.1, -0.2), rotate=12)
    assert (tmp_path / "seed0005.png").read_bytes() == expected.data
    bad = run(url, "generate", "--model", "sg3t", "--seeds", "5", "--translate", "0.1", "--out", str(tmp_path))
    assert bad.exit_code != 0 and "--translate" in bad.output


def test_interpolate_writes_every_frame(url, tmp_path):
    result = run(url, "interpolate", "--model", "demo64", "--keyframes", "1,2", "--frames", "6", "--loop", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"frame{i:04d}.png" for i in range(6)]


def test_mix_writes_cells_or_a_grid(url, tmp_path):
    result = run(url, "mix", "--model", "demo64", "--rows", "1,2", "--columns", "3", "--layers", "0-3", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["row1-col3.png", "row2-col3.png"]
    result = run(url, "mix", "--model", "demo64", "--rows", "1,2", "--columns", "3", "--grid", "--out", str(tmp_path / "g"))
    assert result.exit_code == 0 and (tmp_path / "g" / "grid.png").exists()


def test_raw_format_writes_arrays_over_grpc(live_server, tmp_path):
    url = f"grpc://{live_server.grpc_target}"
    result = run(url, "generate", "--model", "demo64", "--seeds", "5", "--format", "raw", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "seed0005.npy").shape == (64, 64, 3)


def test_errors_are_one_line_and_exit_1(url, tmp_path):
    result = run(url, "generate", "--model", "demo64", "--seeds", "1", "--class", "dog", "--out", str(tmp_path))
    assert result.exit_code == 1 and "InvalidInput" in result.output and "class" in result.output
    result = run(url, "models")
    assert result.exit_code == 0 and "demo64" in result.output and "cond16" in result.output
    result = run(url, "generate", "--seeds", "1", "--out", str(tmp_path))  # two models: --model is needed
    assert result.exit_code == 2 and "--model" in result.output
