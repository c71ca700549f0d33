"""Model artifacts: weights as safetensors plus a JSON config. Nothing is ever unpickled.

A model lives in `<models_dir>/<name>/` as `generator.json` (this module's `ModelConfig`) and
`generator.safetensors` (NVlabs state-dict names). Compiled graphs live in the Triton-style model
repository (see `ganserve.compile`). This module is numpy-only: the serving path imports it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

import numpy as np
from pydantic import BaseModel, Field, computed_field, field_validator
from safetensors.numpy import load_file

CONFIG_FILE = "generator.json"
WEIGHTS_FILE = "generator.safetensors"

# Paper convention for named style-mixing groups: ws index i drives resolution 4 * 2**(i // 2).
LAYER_GROUP_RESOLUTIONS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


class MappingConfig(BaseModel):
    num_layers: int = 8  # 8 in the paper configs, 2 in ADA --cfg=auto
    lr_multiplier: float = 0.01


class SynthesisConfig(BaseModel):
    channel_base: int = 32768  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    conv_clamp: float | None = None


class Source(BaseModel):
    kind: str  # "random-init", "nvlabs-pickle", "trained"
    detail: str = ""


class ModelConfig(BaseModel):
    format: str = "ganserve-generator/1"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    architecture: str = "stylegan2"
    resolution: int
    img_channels: int = 3
    z_dim: int
    w_dim: int
    c_dim: int = 0
    num_ws: int
    class_names: list[str] = []
    mapping: MappingConfig = MappingConfig()
    synthesis: SynthesisConfig = SynthesisConfig()
    source: Source

    @field_validator("resolution")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 4 or value & (value - 1):
            raise ValueError("resolution must be a power of two >= 4")
        return value

    @computed_field
    @property
    def layer_groups(self) -> dict[str, list[int]]:
        """Named ws index groups; groups with no layer at this resolution are left out."""
        groups = {}
        for name, (low, high) in LAYER_GROUP_RESOLUTIONS.items():
            indices = [i for i in range(self.num_ws) if low <= 4 * 2 ** (i // 2) <= high]
            if indices:
                groups[name] = indices
        return groups

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        """One noise map per conv layer: one at 4x4, then two per resolution."""
        shapes = [(4, 4)]
        res = 8
        while res <= self.resolution:
            shapes += [(res, res), (res, res)]
            res *= 2
        return shapes


class Artifact:
    """A model directory: config, weights and the digest that versions everything derived from it."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.config = ModelConfig.model_validate_json((self.directory / CONFIG_FILE).read_text())

    @property
    def weights_path(self) -> Path:
        return self.directory / WEIGHTS_FILE

    @cached_property
    def digest(self) -> str:
        """sha256 of config and weights: the model version used by ETags, caches and compiled graphs."""
        h = hashlib.sha256((self.directory / CONFIG_FILE).read_bytes())
        with self.weights_path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()

    def load_weights(self) -> dict[str, np.ndarray]:
        return load_file(self.weights_path)

    def load_w_avg(self) -> np.ndarray:
        return self.load_weights()["mapping.w_avg"].astype(np.float32)


def save_artifact(directory: Path, config: ModelConfig, state: dict[str, np.ndarray]) -> Artifact:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in state.items()}, directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps(config.model_dump(), indent=2) + "\n")
    return Artifact(directory)


def discover(models_dir: Path) -> list[Artifact]:
    return [Artifact(path.parent) for path in sorted(Path(models_dir).glob(f"*/{CONFIG_FILE}"))]


def find_artifact(models_dir: Path, name: str) -> Artifact:
    """The model called `name`, or a ValueError that lists the models there are."""
    known = {artifact.config.name: artifact for artifact in discover(models_dir)}
    if name not in known:
        raise ValueError(f"unknown model {name!r} in {models_dir}; models: {', '.join(known) or 'none'}")
    return known[name]
