"""The projection benchmark end to end with tiny numbers: the JSON it writes, not the figures in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import ganserve_bench
from ganserve.training.dataset import EmojiDataset, save_dataset


@pytest.fixture
def quick(monkeypatch):
    """torch's threads restored afterwards (the benchmark sets them), and a small matmul for the machine's figure."""
    from ganserve_bench import machine

    small = machine.matmul_gflops
    monkeypatch.setattr(machine, "matmul_gflops", lambda: small(n=256, repeats=1))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def tiny_dataset(path: Path) -> Path:
    """Four 64x64 images on white, as `ganserve dataset emoji` writes them (the benchmark downsamples to 32)."""
    rng = np.random.default_rng(0)
    images = np.full((4, 64, 64, 3), 255, np.uint8)
    images[:, 16:48, 16:48] = rng.integers(0, 256, (4, 1, 1, 3), dtype=np.uint8)
    save_dataset(EmojiDataset(images, np.arange(4) % 9, tuple(f"c{i}" for i in range(9)), np.array(["t"] * 4), np.array(["n"] * 4)), path)
    return path


def test_run_projection_benchmark_writes_results(tmp_path, quick):
    from ganserve_bench.projection import run_projection_benchmark

    data = tiny_dataset(tmp_path / "emoji.npz")
    path = run_projection_benchmark(
        tmp_path / "results",
        data,
        seeds=1,
        steps=(2, 3),
        real=2,
        real_steps=(2,),
        comparison_steps=2,
        timing_steps=2,
        threads=1,
        log=lambda line: None,
    )
    assert path.name.startswith("bench-projection-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    assert result["schema"] == "ganserve-bench-projection/1" and result["torch_threads"] == 1
    assert result["machine"]["cpu_model"] is not None and "cpu_vector_flags" in result["machine"]
    assert result["model"]["name"] == "emoji32" and result["model"]["discriminator_kimg"] >= 1000
    assert result["real"]["status"] == "ok" and len(result["real"]["indices"]) == 2
    runs = {(r["space"], r["steps"]): r for r in result["runs"]}
    assert set(runs) == {(space, steps) for space in ("w", "w+") for steps in (2, 3)}
    assert set(runs["w", 2]["groups"]) == {"generated psi 1", "generated psi 0.7", "real emoji"}
    assert set(runs["w", 3]["groups"]) == {"generated psi 1", "generated psi 0.7"}  # real targets only at real_steps
    generated = runs["w+", 3]["groups"]["generated psi 0.7"]
    assert generated["psnr"]["mean"] > 0 and generated["w_distance"]["mean"] > 0 and generated["w_distance_relative"] > 0
    assert "w_distance" not in runs["w", 2]["groups"]["real emoji"]
    losses = [row["loss"] for row in result["loss_comparison"]]
    assert losses == ["pixel", "pixel + MS-SSIM", "pixel + D features", "all (default)"]
    assert result["loss_comparison"][-1]["groups"] == runs["w+", 2]["groups"]  # the default is the main run's batch
    assert set(result["timing_one_target"]) == {"default", "without D features", "pixel only"}
    assert all(t["ms_per_step"] > 0 for t in result["timing_one_target"].values())


def test_without_the_dataset_the_real_targets_are_skipped(tmp_path, quick):
    from ganserve_bench.projection import run_projection_benchmark

    path = run_projection_benchmark(
        tmp_path, tmp_path / "absent.npz", seeds=1, steps=(1,), real_steps=(1,), comparison_steps=1, timing_steps=1, log=lambda line: None
    )
    result = json.loads(path.read_text())
    assert result["real"]["status"] == "skipped" and "absent.npz" in result["real"]["reason"]
    assert all(set(r["groups"]) == {"generated psi 1", "generated psi 0.7"} for r in result["runs"])


def test_the_command_is_registered(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(ganserve_bench.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "ganserve_bench", "projection", "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "--real-steps" in done.stdout, done.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "ganserve_bench", "projection", "--steps", "1,x"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "--steps" in bad.stderr, bad.stderr
