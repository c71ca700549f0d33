"""A snapshot becomes a model directory that the server loads: same weights, a model card, provenance."""

import json

import pytest
import torch

from ganserve.artifacts import Artifact
from ganserve.generator.networks import Generator
from ganserve.training.evaluate import EVALUATION_FILE
from ganserve.training.export import MODEL_CARD, export_snapshot, latest_snapshot
from ganserve.training.loop import Trainer


def test_exported_model_reproduces_g_ema(tmp_path, tiny_dataset, tiny_options):
    run_dir = tmp_path / "run"
    trainer = Trainer(tiny_options, tiny_dataset, run_dir, log=lambda r: None)
    trainer.run(total_kimg=0.016)
    snapshot = latest_snapshot(run_dir)
    evaluation = {"snapshot": f"snapshots/{snapshot.name}", "fd": 2.0, "fd_floor": 0.5, "fd_ratio": 4.0, "class_accuracy": 0.7}
    (run_dir / EVALUATION_FILE).write_text(json.dumps(evaluation | {"images": 24}) + "\n")

    artifact = export_snapshot(run_dir, snapshot, tmp_path / "models", list(tiny_dataset.class_names))
    loaded = Artifact(artifact.directory)
    assert loaded.config.name == "tiny16" and loaded.config.class_names == ["red", "green", "blue"]
    assert loaded.config.source.kind == "trained" and loaded.config.source.details["kimg"] == 0
    assert "Twemoji" in " ".join(loaded.config.source.details["attribution"])

    G = Generator(loaded.config)
    G.load_numpy_state(loaded.load_weights())  # strict: every tensor of G_ema, nothing else
    ws = torch.randn(2, loaded.config.num_ws, loaded.config.w_dim)
    with torch.no_grad():
        assert torch.equal(G.synthesis(ws), trainer.nets.G_ema.synthesis(ws))

    card = (artifact.directory / MODEL_CARD).read_text()
    assert "Noto Emoji" in card and "Twemoji" in card and "CC-BY 4.0" in card
    assert "4.00x the floor" in card and "70.0%" in card


def test_no_snapshot_is_a_clear_error(tmp_path):
    (tmp_path / "snapshots").mkdir()
    with pytest.raises(FileNotFoundError, match="no snapshots"):
        latest_snapshot(tmp_path)
