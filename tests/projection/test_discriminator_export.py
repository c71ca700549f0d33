"""`ganserve export-run` keeps the run's latest D beside the exported G_ema (for projection), or not."""

from __future__ import annotations

import json

import numpy as np
import torch
from safetensors.numpy import load_file
from safetensors.torch import save_file
from typer.testing import CliRunner

from ganserve.artifacts import DISCRIMINATOR_CONFIG_FILE, DISCRIMINATOR_WEIGHTS_FILE, Artifact
from ganserve.cli import app
from ganserve.generator.networks import Generator
from ganserve.training.checkpoint import STATE_FILE, TENSORS_FILE
from ganserve.training.dataset import EmojiDataset, save_dataset
from ganserve.training.discriminator import Discriminator
from ganserve.training.export import MODEL_CARD, export_snapshot
from ganserve.training.loop import OPTIONS_FILE
from ganserve.training.options import TrainingOptions

CLASSES = ["red", "green", "blue"]
OPTIONS = TrainingOptions(name="tiny16", resolution=16, z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)


def fake_run(run_dir, checkpoint: bool = True) -> tuple[Discriminator, object]:
    """A run directory as `ganserve train` leaves it: options, a G_ema snapshot, a resume checkpoint (D at 12 kimg)."""
    torch.manual_seed(0)
    (run_dir / "snapshots").mkdir(parents=True)
    (run_dir / OPTIONS_FILE).write_text(OPTIONS.model_dump_json())
    G = Generator(OPTIONS.generator_config(CLASSES))
    save_file({k: v.contiguous() for k, v in G.state_dict().items()}, run_dir / "snapshots" / "kimg-000008.safetensors")
    D = Discriminator(16, len(CLASSES), OPTIONS.channel_base, OPTIONS.channel_max)
    if checkpoint:
        tensors = {f"D.{k}": v.contiguous() for k, v in D.state_dict().items()}
        tensors |= {f"G.{k}": v.contiguous() for k, v in G.state_dict().items()}
        save_file(tensors, run_dir / TENSORS_FILE)
        (run_dir / STATE_FILE).write_text(json.dumps({"progress": {"nimg": 12_000}, "optimizers": {}}))
    return D, G


def test_export_keeps_the_checkpoints_discriminator(tmp_path):
    run_dir = tmp_path / "run"
    D, _ = fake_run(run_dir)
    artifact = export_snapshot(run_dir, run_dir / "snapshots" / "kimg-000008.safetensors", tmp_path / "models", CLASSES)
    config = artifact.discriminator
    assert config is not None and (config.resolution, config.c_dim, config.channel_max) == (16, 3, 16)
    assert config.source.details == {"checkpoint": "resume.safetensors", "kimg": 12.0}
    kept = load_file(artifact.discriminator_weights_path)
    assert set(kept) == set(D.state_dict()) and all(np.array_equal(kept[k], v.numpy()) for k, v in D.state_dict().items())
    assert "discriminator at 12 kimg" in (artifact.directory / MODEL_CARD).read_text()
    assert artifact.config.source.details["kimg"] == 8  # the generator is the snapshot's, D the run's latest


def test_export_without_discriminator_removes_an_old_one(tmp_path):
    run_dir = tmp_path / "run"
    fake_run(run_dir)
    snapshot = run_dir / "snapshots" / "kimg-000008.safetensors"
    first = export_snapshot(run_dir, snapshot, tmp_path / "models", CLASSES)
    digest = first.digest
    again = export_snapshot(run_dir, snapshot, tmp_path / "models", CLASSES, discriminator=False)
    assert again.discriminator is None
    assert not (again.directory / DISCRIMINATOR_CONFIG_FILE).exists() and not (again.directory / DISCRIMINATOR_WEIGHTS_FILE).exists()
    assert again.digest == digest  # D is not part of the model version


def test_a_run_without_checkpoint_exports_without_discriminator(tmp_path):
    run_dir = tmp_path / "run"
    fake_run(run_dir, checkpoint=False)
    artifact = export_snapshot(run_dir, run_dir / "snapshots" / "kimg-000008.safetensors", tmp_path / "models", CLASSES)
    assert artifact.discriminator is None and Artifact(artifact.directory).config.name == "tiny16"


def test_the_export_run_command(tmp_path):
    run_dir = tmp_path / "run"
    fake_run(run_dir)
    data = tmp_path / "data.npz"
    n = 3
    save_dataset(
        EmojiDataset(
            np.zeros((n, 16, 16, 3), np.uint8),
            np.arange(n),
            tuple(CLASSES),
            np.array(["test"] * n),
            np.array([f"{i}.png" for i in range(n)]),
        ),
        data,
    )
    args = ["export-run", "--run-dir", str(run_dir), "--data", str(data), "--models-dir", str(tmp_path / "models")]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    assert "kept the discriminator at 12 kimg" in done.output
    assert Artifact(tmp_path / "models" / "tiny16").discriminator is not None
    done = CliRunner().invoke(app, [*args, "--no-discriminator"])
    assert done.exit_code == 0, done.output
    assert Artifact(tmp_path / "models" / "tiny16").discriminator is None
