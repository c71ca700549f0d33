"""A model's training run, read-only, for the playground's training view: the metrics log that
`ganserve train` appends (docs/training.md), its evaluations, and its checkpoints' sample grids.
The run of model NAME is <GANSERVE_RUNS_DIR>/NAME; a poll passes `after` (a line count) to get
only the lines written since, so a live run costs a few lines per poll."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ganserve.errors import InvalidInput, NotFound
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import TrainingLog
from ganserve.state import AppState

METRICS, EVALUATION, OPTIONS = "metrics.jsonl", "evaluation.jsonl", "options.json"
MAX_RECORDS = 5000  # per response; the next poll goes on from `next`
SAMPLES_FILE = re.compile(r"^kimg-\d{6}\.png$")


def has_training_log(state: AppState, pipeline: ModelPipeline) -> bool:
    return (state.settings.runs_dir / pipeline.config.name / METRICS).is_file()


def run_dir(state: AppState, pipeline: ModelPipeline) -> Path:
    directory = state.settings.runs_dir / pipeline.config.name
    if not (directory / METRICS).is_file():
        raise NotFound("model", f"model {pipeline.config.name} has no training log ({METRICS} in GANSERVE_RUNS_DIR/{pipeline.config.name})")
    return directory


def _json_lines(path: Path, after: int, most: int) -> tuple[list[dict[str, Any]], int]:
    """Complete lines (a line being appended is left for the next poll) from line `after` on; lines
    that are not JSON objects are skipped but counted."""
    records: list[dict[str, Any]] = []
    count = 0
    with path.open("rb") as f:
        for line in f:
            if not line.endswith(b"\n") or (count >= after + most):
                break
            count += 1
            if count <= after:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records, count


def _read(directory: Path, model: str, after: int) -> TrainingLog:
    records, next_line = _json_lines(directory / METRICS, after, MAX_RECORDS)
    for record in records:
        samples = record.get("samples")
        if record.get("event") == "checkpoint" and isinstance(samples, str) and SAMPLES_FILE.match(Path(samples).name):
            record["samples_url"] = f"/v1/models/{model}/training/samples/{Path(samples).name}"
    evaluation = _json_lines(directory / EVALUATION, 0, MAX_RECORDS)[0] if (directory / EVALUATION).is_file() else []
    options = json.loads((directory / OPTIONS).read_text()) if (directory / OPTIONS).is_file() else None
    updated = (directory / METRICS).stat().st_mtime
    return TrainingLog(
        model=model, run=directory.name, records=records, next=next_line, evaluation=evaluation, options=options, updated=updated
    )


async def training_log(state: AppState, pipeline: ModelPipeline, after: int) -> TrainingLog:
    if after < 0:
        raise InvalidInput("after", "a line count, 0 or more")
    directory = run_dir(state, pipeline)
    return await state.run_blocking(_read, directory, pipeline.config.name, after)


def samples_path(state: AppState, pipeline: ModelPipeline, filename: str) -> Path:
    """A checkpoint's sample grid (samples/kimg-NNNNNN.png) of the model's run."""
    directory = run_dir(state, pipeline)
    path = directory / "samples" / filename
    if not SAMPLES_FILE.match(filename) or not path.is_file():
        raise NotFound("filename", f"no sample grid {filename!r} in the run of {pipeline.config.name}")
    return path
