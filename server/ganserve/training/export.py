"""A training snapshot -> a served model: G_ema's weights as safetensors + JSON, with a model card."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from safetensors.numpy import load_file

from ganserve.artifacts import Artifact, save_artifact
from ganserve.training.dataset import ATTRIBUTION, EMOJI_VERSION
from ganserve.training.evaluate import EVALUATION_FILE
from ganserve.training.loop import METRICS_FILE, OPTIONS_FILE
from ganserve.training.options import TrainingOptions

MODEL_CARD = "MODEL_CARD.md"


def latest_snapshot(run_dir: Path) -> Path:
    snapshots = sorted((run_dir / "snapshots").glob("kimg-*.safetensors"))
    if not snapshots:
        raise FileNotFoundError(f"{run_dir} has no snapshots yet (one is written at every checkpoint)")
    return snapshots[-1]


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def export_snapshot(run_dir: Path, snapshot: Path, models_dir: Path, class_names: list[str]) -> Artifact:
    options = TrainingOptions.model_validate_json((run_dir / OPTIONS_FILE).read_text())
    kimg = int(snapshot.stem.split("-")[1])
    ticks = [r for r in _records(run_dir / METRICS_FILE) if r["event"] == "tick" and r["kimg"] <= kimg + 1]
    train_hours = ticks[-1]["train_hours"] if ticks else 0.0
    evaluation = next((r for r in _records(run_dir / EVALUATION_FILE) if r["snapshot"] == f"snapshots/{snapshot.name}"), None)
    details = {
        "dataset": f"emoji-datasource-google and emoji-datasource-twitter {EMOJI_VERSION} (npm), 64x64 on white, by category",
        "attribution": list(ATTRIBUTION.values()),
        "kimg": kimg,
        "train_hours": train_hours,
        "hardware": platform.processor() or platform.machine(),
        "training_options": json.loads(options.model_dump_json()),
        "evaluation": evaluation,
    }
    config = options.generator_config(class_names, detail=f"ganserve train: conditional StyleGAN2 on emoji, {kimg} kimg")
    config.source.details = details
    state = {k: v for k, v in load_file(snapshot).items()}
    artifact = save_artifact(models_dir / options.name, config, state)
    (artifact.directory / MODEL_CARD).write_text(model_card(config.name, options, class_names, details))
    return artifact


def model_card(name: str, options: TrainingOptions, class_names: list[str], details: dict) -> str:
    ev = details["evaluation"]
    metrics = (
        f"- Fréchet distance in the evaluation classifier's features: {ev['fd']:.3f}, against a real-vs-real floor of "
        f"{ev['fd_floor']:.3f} ({ev['fd_ratio']:.2f}x the floor; the bar is 4x).\n"
        f"- Class accuracy of generated images under that classifier: {ev['class_accuracy']:.1%} (chance: {1 / len(class_names):.0%}; "
        "the bar is 60%).\n"
        f"- Measured on {ev['images']} generated images against as many real ones; see docs/training.md."
        if ev
        else "- Not evaluated yet (`ganserve evaluate`)."
    )
    classes = ", ".join(f"{i}: {c}" for i, c in enumerate(class_names))
    return f"""# {name}: a class-conditional StyleGAN2 trained on emoji

## Data and licence
- {details["dataset"]}; skin-tone variants and the Component category left out.
- Artwork: {"; ".join(details["attribution"])}. Generated images are derived from this artwork: keep the attribution.

## Architecture
- StyleGAN2 generator, {options.resolution}x{options.resolution}, z = w = {options.z_dim}, {options.mapping_layers}-layer
  mapping, {options.channel_max} channels at every resolution; conditional on the category.
- Classes: {classes}.

## Training
- {details["kimg"]} kimg (thousands of real images shown), {details["train_hours"]:.2f} hours on {details["hardware"]} (CPU).
- Non-saturating logistic loss, lazy R1 (gamma {options.r1_gamma}), style mixing {options.style_mixing}, G EMA,
  adaptive DiffAugment, batch {options.batch}. Options: `source.details.training_options` in generator.json.

## Metrics
{metrics}
"""
