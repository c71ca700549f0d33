"""`python -m ganserve_bench training`: images/s of `ganserve train`'s step (G and D forward and
backward, batch 32, lazy R1 amortised over its interval) at the sizes of the demo model's budget table
(issue 12: NVlabs' own step measured on a machine of this kind at the same sizes).

Steps without and with R1 are timed apart and combined as the loop runs them: (interval - 1) plain
steps for each R1 step. The images are the emoji dataset where it exists (speed does not depend on
what they show), else random images of the same shape.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ganserve.training.dataset import CATEGORIES, EmojiDataset, load_dataset
from ganserve.training.loop import Trainer
from ganserve.training.options import TrainingOptions
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.report import contention, header, write_results

SCHEMA = "ganserve-bench-training/1"
# (resolution, channel_max) -> NVlabs' images/s in issue 12's table (2-core AVX2 EPYC, batch 32).
NVLABS_TABLE = {(32, 64): 19.8, (32, 128): 6.7, (64, 64): 10.3, (64, 128): 3.0}


def random_dataset(resolution: int, n: int = 256) -> EmojiDataset:
    rng = np.random.default_rng(0)
    return EmojiDataset(
        images=rng.integers(0, 256, (n, resolution, resolution, 3), dtype=np.uint8),
        labels=rng.integers(0, len(CATEGORIES), n),
        class_names=CATEGORIES,
        vendors=np.array(["random"] * n),
        names=np.array([f"{i}.png" for i in range(n)]),
    )


def time_steps(trainer: Trainer, steps: int, r1: bool) -> float:
    """Seconds per step, R1 steps or plain ones (the loop does R1 when step % interval == 0)."""
    interval = trainer.options.r1_interval
    total = 0.0
    for i in range(steps + 1):  # the first is a warm-up
        trainer.step = 0 if r1 else 1 + i % (interval - 1)
        start = time.perf_counter()
        trainer.train_step()
        if i:
            total += time.perf_counter() - start
    return total / steps


def measure(resolution: int, channel_max: int, dataset: EmojiDataset | None, steps: int) -> dict:
    options = TrainingOptions(resolution=resolution, channel_max=channel_max, channel_base=channel_max * resolution)
    data = dataset if dataset is not None and dataset.images.shape[1] >= resolution else random_dataset(resolution)
    with tempfile.TemporaryDirectory() as run_dir:
        trainer = Trainer(options, data, Path(run_dir), log=lambda record: None)
        params_G = sum(p.numel() for p in trainer.nets.G.parameters())
        params_D = sum(p.numel() for p in trainer.nets.D.parameters())
        plain, with_r1 = time_steps(trainer, steps, r1=False), time_steps(trainer, max(1, steps // 4), r1=True)
    interval = options.r1_interval
    per_step = ((interval - 1) * plain + with_r1) / interval
    images_per_s = options.batch / per_step
    nvlabs = NVLABS_TABLE.get((resolution, channel_max))
    return {
        "resolution": resolution,
        "channel_max": channel_max,
        "params_G": params_G,
        "params_D": params_D,
        "batch": options.batch,
        "seconds_per_plain_step": round(plain, 4),
        "seconds_per_r1_step": round(with_r1, 4),
        "images_per_s": round(images_per_s, 2),
        "kimg_per_hour": round(images_per_s * 3.6, 1),
        "nvlabs_images_per_s_issue_table": nvlabs,
        "ratio_to_nvlabs_table": round(images_per_s / nvlabs, 2) if nvlabs else None,
        "data": "emoji" if data is dataset else "random",
    }


def run_training_benchmark(out: Path, data: Path | None, steps: int, sizes: list[tuple[int, int]], threads: int, log=print) -> Path:
    created, started = datetime.now(UTC), time.perf_counter()
    if threads:
        torch.set_num_threads(threads)
    cpu, machine = measure_machine(log)
    dataset = load_dataset(data) if data is not None and data.exists() else None
    runs = []
    for resolution, channel_max in sizes:
        runs.append(measure(resolution, channel_max, dataset, steps))
        log(f"  {resolution}x{resolution} channel_max {channel_max}: {runs[-1]['images_per_s']} images/s")
    finish_machine(cpu, machine)
    result = header(SCHEMA, created, started) | {"machine": machine, "torch_threads": torch.get_num_threads(), "runs": runs}
    result["note"] = (
        "NVlabs' figures are from issue 12's table (another run on a machine of this kind), not measured here: compare with care."
    )
    commit = (machine["git_commit"] or "unknown")[:12]
    lines = [f"ganserve_bench training on {machine['cpu_model']}, {machine['usable_cpus']} cpus, commit {commit}", *contention(machine)]
    lines += [
        f"  {r['resolution']}² ch{r['channel_max']}: {r['images_per_s']} img/s ({r['ratio_to_nvlabs_table']}x NVlabs' table)" for r in runs
    ]
    return write_results(out, "bench-training", created, result, "\n".join(lines), log)
