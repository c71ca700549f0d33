"""ganserve-client, the CLI, against a running server over both transports."""

from __future__ import annotations

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from ganserve_client import Client, Edit, Latent
from ganserve_client.cli import app, parse_edit, parse_ints

runner = CliRunner()


@pytest.fixture(scope="module", params=["http", "grpc"])
def url(request, live_server) -> str:
    return live_server.base_url if request.param == "http" else f"grpc://{live_server.grpc_target}"


def run(url: str, *args: str):
    result = runner.invoke(app, ["--url", url, *args])
    return result


def test_parse_ints():
    assert parse_ints("1-4,7, 9-10") == [1, 2, 3, 4, 7, 9, 10]


def test_parse_edit():
    assert parse_edit("ganspace-3:2.5") == Edit("ganspace-3", 2.5)
    assert parse_edit(" sefa-coarse-0:-1e-1@0-3,5 ") == Edit("sefa-coarse-0", -0.1, "0-3,5")
    for bad in ("ganspace-3", "ganspace-3:", ":2", "ganspace-3:two", "ganspace-3:nan", "ganspace-3:2@"):
        with pytest.raises(typer.BadParameter, match="DIRECTION:STRENGTH"):
            parse_edit(bad)


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
    # Without --model: the server's default model (demo64 in the tests), the same bytes as naming it.
    result = run(url, "generate", "--seeds", "1", "--out", str(tmp_path / "default"))
    assert result.exit_code == 0, result.output
    named = run(url, "generate", "--model", "demo64", "--seeds", "1", "--out", str(tmp_path / "named"))
    assert (
        named.exit_code == 0 and (tmp_path / "default" / "seed0001.png").read_bytes() == (tmp_path / "named" / "seed0001.png").read_bytes()
    )


def test_directions_lists_them(url):
    result = run(url, "directions", "demo64")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["id", "method", "layers"]
    assert any(line.split()[:3] == ["ganspace-0", "ganspace", "all"] for line in lines[1:])
    assert any(line.startswith("sefa-") for line in lines) and not any(line.startswith("class-") for line in lines)
    result = run(url, "directions", "cond16")
    assert result.exit_code == 0 and any(line.startswith("class-0-1 ") for line in result.output.splitlines())
    result = run(url, "directions", "nope")
    assert result.exit_code == 1 and "NotFound" in result.output


def test_generate_with_edits(url, tmp_path):
    args = ["generate", "--model", "demo64", "--seeds", "3,4", "--psi", "0.8"]
    result = run(url, *args, "--edit", "ganspace-0:3", "--edit", "ganspace-1:-2@coarse", "--out", str(tmp_path / "edited"))
    assert result.exit_code == 0, result.output
    assert run(url, *args, "--out", str(tmp_path / "plain")).exit_code == 0
    edited = Latent.seed(4).edited("ganspace-0", 3).edited("ganspace-1", -2, "coarse")
    with Client(url) as client:
        (expected,) = client.generate("demo64", [edited], psi=0.8)
    for name in ("seed0003.png", "seed0004.png"):
        assert (tmp_path / "edited" / name).read_bytes() != (tmp_path / "plain" / name).read_bytes()
    assert (tmp_path / "edited" / "seed0004.png").read_bytes() == expected.data


def test_children_writes_each_child_or_a_grid(url, tmp_path):
    args = ["children", "--model", "demo64", "--parent", "5", "--count", "3", "--spread", "0.8", "--layers", "0-5", "--seed", "2"]
    result = run(url, *args, "--include-parent", "--edit", "ganspace-0:1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["child0000.png", "child0001.png", "child0002.png", "parent.png"]
    with Client(url) as client:
        expected = client.children("demo64", Latent.seed(5).edited("ganspace-0", 1), count=3, spread=0.8, layers="0-5", seed=2)
        (parent,) = client.generate("demo64", [Latent.seed(5).edited("ganspace-0", 1)])
    assert [(tmp_path / f"child{k:04d}.png").read_bytes() for k in range(3)] == [image.data for image in expected.images]
    assert (tmp_path / "parent.png").read_bytes() == parent.data
    result = run(url, *args, "--grid", "--columns", "3", "--format", "webp", "--out", str(tmp_path / "g"))
    assert result.exit_code == 0, result.output
    assert [p.name for p in (tmp_path / "g").iterdir()] == ["grid.webp"]


def test_bad_edits_exit_with_a_message(url, tmp_path):
    result = run(url, "generate", "--model", "demo64", "--seeds", "1", "--edit", "ganspace-0=2", "--out", str(tmp_path))
    assert result.exit_code == 2 and "--edit" in result.output and "DIRECTION:STRENGTH" in result.output
    result = run(url, "children", "--model", "demo64", "--parent", "1", "--edit", "ganspace-0:x", "--out", str(tmp_path))
    assert result.exit_code == 2 and "DIRECTION:STRENGTH" in result.output
    result = run(url, "generate", "--model", "demo64", "--seeds", "1", "--edit", "nope-0:2", "--out", str(tmp_path))
    assert result.exit_code == 1 and "InvalidInput" in result.output and "latents[0].edits[0].direction" in result.output
    assert not list(tmp_path.iterdir())
