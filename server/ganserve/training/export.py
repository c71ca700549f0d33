"""A training snapshot -> a served model: G_ema's weights as safetensors + JSON, with a model card;
and, from the run's resume checkpoint, its discriminator beside them (projection's feature network only:
the gateway never loads it, and it is not part of the model's digest)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from safetensors.numpy import load_file

from ganserve.artifacts import Artifact, DiscriminatorConfig, Source, remove_discriminator, save_artifact, save_discriminator
from ganserve.training.checkpoint import STATE_FILE, TENSORS_FILE
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


def read_checkpoint_discriminator(run_dir: Path) -> tuple[dict, float]:
    """(D's state dict, the checkpoint's kimg) from the resume checkpoint. It is replaced atomically
    while a run trains (tensors, then the JSON): the JSON is read before and after the tensors, and
    read again if a checkpoint landed in between, so that the kimg is the tensors' own."""
    for _ in range(5):
        before = (run_dir / STATE_FILE).read_text()
        tensors = load_file(run_dir / TENSORS_FILE)
        after = (run_dir / STATE_FILE).read_text()
        if before == after:
            break
    state = {k.removeprefix("D."): v for k, v in tensors.items() if k.startswith("D.")}
    if not state:
        raise ValueError(f"{run_dir / TENSORS_FILE} has no discriminator (no D.* tensors)")
    return state, json.loads(after)["progress"]["nimg"] / 1000


def export_discriminator(run_dir: Path, directory: Path, options: TrainingOptions, c_dim: int) -> DiscriminatorConfig:
    """The run's latest D (its resume checkpoint) into a model directory, for projection's features."""
    state, kimg = read_checkpoint_discriminator(run_dir)
    config = DiscriminatorConfig(
        resolution=options.resolution,
        c_dim=c_dim,
        channel_base=options.channel_base,
        channel_max=options.channel_max,
        source=Source(
            kind="trained",
            detail=f"ganserve train: the run's discriminator at {kimg:g} kimg, from its resume checkpoint; a feature extractor",
            details={"checkpoint": TENSORS_FILE, "kimg": kimg},
        ),
    )
    save_discriminator(directory, config, state)
    return config


def export_snapshot(run_dir: Path, snapshot: Path, models_dir: Path, class_names: list[str], discriminator: bool = True) -> Artifact:
    """discriminator: also write the run's latest D (where the run has a resume checkpoint); without
    it, a D left in the model directory by an earlier export is removed."""
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
    remove_discriminator(artifact.directory)
    kept = None
    if discriminator and (run_dir / TENSORS_FILE).exists():
        kept = export_discriminator(run_dir, artifact.directory, options, len(class_names))
    (artifact.directory / MODEL_CARD).write_text(model_card(config.name, options, class_names, details, kept))
    return Artifact(artifact.directory)


def model_card(
    name: str, options: TrainingOptions, class_names: list[str], details: dict, discriminator: DiscriminatorConfig | None = None
) -> str:
    ev = details["evaluation"]
    kept_d = (
        f"\n- The run's discriminator at {discriminator.source.details['kimg']:g} kimg is kept beside the weights "
        "(`discriminator.safetensors`): image projection's feature network only; the server never loads it."
        if discriminator
        else ""
    )
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
  adaptive DiffAugment, batch {options.batch}. Options: `source.details.training_options` in generator.json.{kept_d}

## Metrics
{metrics}
"""
