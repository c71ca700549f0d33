"""`ganserve train`: the loop with a progress bar on a terminal, or one line per tick in a log."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganserve.training.dataset import load_dataset
from ganserve.training.loop import OPTIONS_FILE, Trainer
from ganserve.training.options import TrainingOptions


def run_training(data: Path, run_dir: Path, total_kimg: float, checkpoint_minutes: float, threads: int) -> None:
    if threads:
        torch.set_num_threads(threads)
    saved = run_dir / OPTIONS_FILE
    options = TrainingOptions.model_validate_json(saved.read_text()) if saved.exists() else TrainingOptions()
    options = options.model_copy(update={"checkpoint_minutes": checkpoint_minutes})
    if saved.exists():  # checkpoint spacing may change on resume; nothing else does
        saved.write_text(options.model_dump_json(indent=1) + "\n")
    dataset = load_dataset(data)
    if not sys.stdout.isatty():
        trainer = Trainer(options, dataset, run_dir, log=lambda record: print(json.dumps(record), flush=True))
        stop_on_signals(trainer)
        trainer.run(total_kimg)
        return
    last_tick = {"images_per_s": 0.0}
    with Progress(TextColumn("kimg"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[status]}"), TimeElapsedColumn()) as bar:

        def log(record: dict) -> None:  # ticks feed the bar; starts and checkpoints are printed above it
            if record["event"] == "tick":
                last_tick["images_per_s"] = record["images_per_s"]
            else:
                bar.console.print(json.dumps(record))

        trainer = Trainer(options, dataset, run_dir, log=log)
        stop_on_signals(trainer)
        task = bar.add_task("train", total=int(total_kimg), completed=int(trainer.kimg), status="")

        def show(kimg: float, losses: dict) -> None:
            status = f"G {losses['loss_G']:.3f}  D {losses['loss_D']:.3f}  p {trainer.augment.p:.3f}  {last_tick['images_per_s']:.1f} img/s"
            bar.update(task, completed=int(kimg), status=status)

        trainer.run(total_kimg, progress=show)


def stop_on_signals(trainer: Trainer) -> None:
    """Ctrl-C or SIGTERM (a session ending, `kill`): finish the step, write a checkpoint, exit."""

    def request_stop(signum: int, frame: object) -> None:
        trainer.stop_requested = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, request_stop)
