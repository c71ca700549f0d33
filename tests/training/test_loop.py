import json

import numpy as np
import torch
from PIL import Image

from ganserve.training.loop import METRICS_FILE, Trainer, sample_grid

TICK_KEYS = {"event", "kimg", "loss_G", "loss_D", "D_real", "D_fake", "augment_p", "rt", "images_per_s", "train_hours"}


def test_a_short_run_logs_ticks_and_checkpoints_as_documented(tmp_path, tiny_dataset, tiny_options):
    torch.set_num_threads(1)
    run_dir = tmp_path / "run"
    Trainer(tiny_options, tiny_dataset, run_dir, log=lambda r: None).run(total_kimg=0.04)
    records = [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]
    assert [r["event"] for r in records][0] == "start" and records[-1]["event"] == "checkpoint"
    ticks = [r for r in records if r["event"] == "tick"]
    assert len(ticks) >= 2 and all(set(t) >= TICK_KEYS for t in ticks)
    assert any("r1" in t for t in ticks)  # r1_interval 2: every tick has R1 steps
    assert ticks[-1]["kimg"] >= 0.04 and all(np.isfinite(t["loss_G"]) and np.isfinite(t["loss_D"]) for t in ticks)
    checkpoint = records[-1]
    assert (run_dir / checkpoint["snapshot"]).exists() and (run_dir / checkpoint["samples"]).exists()

    # Resuming continues the count rather than starting over.
    Trainer(tiny_options, tiny_dataset, run_dir, log=lambda r: None).run(total_kimg=0.056)
    records = [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]
    starts = [r for r in records if r["event"] == "start"]
    assert len(starts) == 2 and starts[1]["kimg"] >= 0.04


def test_training_tracks_w_avg_and_updates_the_ema(tmp_path, tiny_dataset, tiny_options):
    trainer = Trainer(tiny_options, tiny_dataset, tmp_path / "run")
    before = trainer.nets.G_ema.mapping.fc0.weight.clone()
    for _ in range(3):
        trainer.train_step()
    assert trainer.nets.G.mapping.w_avg.abs().sum() > 0  # starts at zero; follows the mapped w
    assert torch.equal(trainer.nets.G_ema.mapping.w_avg, trainer.nets.G.mapping.w_avg)
    assert not torch.equal(trainer.nets.G_ema.mapping.fc0.weight, before)


def test_sample_grid_has_a_row_per_class(tmp_path, tiny_dataset, tiny_options):
    trainer = Trainer(tiny_options, tiny_dataset, tmp_path / "run")
    grid = sample_grid(trainer.nets.G_ema, c_dim=3, per_class=4)
    assert isinstance(grid, Image.Image) and grid.size == (4 * 16, 3 * 16)
    rows = np.asarray(grid).reshape(3, 16, 4 * 16, 3)
    assert not np.array_equal(rows[0], rows[1])  # the class changes the images


def test_a_stop_request_ends_the_run_with_a_checkpoint(tmp_path, tiny_dataset, tiny_options):
    run_dir = tmp_path / "run"
    trainer = Trainer(tiny_options, tiny_dataset, run_dir, log=lambda r: None)

    def stop_after_two_steps(kimg: float, losses: dict) -> None:
        trainer.stop_requested = trainer.step >= 2

    trainer.run(total_kimg=10, progress=stop_after_two_steps)
    assert trainer.step == 2
    resumed = Trainer(tiny_options, tiny_dataset, run_dir)
    assert resumed.step == 2 and resumed.nimg == 2 * tiny_options.batch
