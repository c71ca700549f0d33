"""Model artifacts: weights as safetensors plus a JSON config. Nothing is ever unpickled.

A model lives in `<models_dir>/<name>/` as `generator.json` (this module's `ModelConfig`) and
`generator.safetensors` (NVlabs state-dict names). Compiled graphs live in the Triton-style model
repository (see `ganserve.compile`). This module is numpy-only: the serving path imports it.

A model may also keep its discriminator, `discriminator.json` (`DiscriminatorConfig`) and
`discriminator.safetensors`: used only as a feature extractor by image projection
(`ganserve.projection`). It is not part of the digest, and the gateway never loads it.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field, computed_field, field_validator, model_validator
from safetensors.numpy import load_file

CONFIG_FILE = "generator.json"
WEIGHTS_FILE = "generator.safetensors"
DISCRIMINATOR_CONFIG_FILE = "discriminator.json"
DISCRIMINATOR_WEIGHTS_FILE = "discriminator.safetensors"

# Paper convention for named style-mixing groups: ws index i drives resolution 4 * 2**(i // 2).
LAYER_GROUP_RESOLUTIONS = {"coarse": (4, 8), "middle": (16, 32), "fine": (64, 1 << 30)}


class MappingConfig(BaseModel):
    num_layers: int = 8  # 8 in the paper configs, 2 in ADA --cfg=auto
    lr_multiplier: float = 0.01


class SynthesisConfig(BaseModel):
    channel_base: int = 32768  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 512
    conv_clamp: float | None = None


class StyleGAN3Options(BaseModel):
    """NVlabs networks_stylegan3 SynthesisNetwork/SynthesisLayer arguments (their defaults are config T;
    config R: conv_kernel 1, use_radial_filters, channels doubled). Filters themselves are weights."""

    num_layers: int = 14  # layers, excluding the Fourier input and toRGB
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: float = 2
    use_radial_filters: bool = False

    def layer_geometry(self, resolution: int, img_channels: int, channel_base: int, channel_max: int) -> dict[str, np.ndarray]:
        """Per layer (input first, toRGB last): cutoffs, stopbands, sampling rates, sizes, channels.
        The same arithmetic as NVlabs' SynthesisNetwork.__init__."""
        last_cutoff = resolution / 2
        last_stopband = last_cutoff * self.last_stopband_rel
        exponents = np.minimum(np.arange(self.num_layers + 1) / (self.num_layers - self.num_critical), 1)
        cutoffs = self.first_cutoff * (last_cutoff / self.first_cutoff) ** exponents
        stopbands = self.first_stopband * (last_stopband / self.first_stopband) ** exponents
        sampling_rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, resolution))))
        half_widths = np.maximum(stopbands, sampling_rates / 2) - cutoffs
        sizes = sampling_rates + self.margin_size * 2
        sizes[-2:] = resolution
        channels = np.rint(np.minimum((channel_base / 2) / cutoffs, channel_max))
        channels[-1] = img_channels
        return {
            "cutoffs": cutoffs,
            "stopbands": stopbands,
            "sampling_rates": sampling_rates,
            "half_widths": half_widths,
            "sizes": sizes,
            "channels": channels,
        }


class Source(BaseModel):
    kind: str  # "random-init", "nvlabs-pickle", "nvlabs-reference", "trained"
    detail: str = ""
    # Provenance of an import: file name, sha256, NVlabs class and constructor kwargs.
    details: dict = {}


class ModelConfig(BaseModel):
    format: str = "ganserve-generator/1"
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    architecture: Literal["stylegan2", "stylegan3"] = "stylegan2"
    resolution: int
    img_channels: int = 3
    z_dim: int
    w_dim: int
    c_dim: int = 0
    num_ws: int
    class_names: list[str] = []
    mapping: MappingConfig = MappingConfig()
    synthesis: SynthesisConfig = SynthesisConfig()
    stylegan3: StyleGAN3Options | None = None  # set exactly when architecture is stylegan3
    source: Source

    @model_validator(mode="after")
    def _architecture_options(self) -> ModelConfig:
        if (self.architecture == "stylegan3") != (self.stylegan3 is not None):
            raise ValueError("stylegan3 options are given exactly for architecture stylegan3")
        return self

    @field_validator("resolution")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 4 or value & (value - 1):
            raise ValueError("resolution must be a power of two >= 4")
        return value

    @computed_field  # type: ignore[prop-decorator]  # pydantic's documented form, which mypy cannot follow
    @property
    def layer_groups(self) -> dict[str, list[int]]:
        """Named ws index groups; groups with no layer at this resolution are left out."""
        groups = {}
        for name, (low, high) in self._group_bounds().items():
            indices = [i for i, res in enumerate(self._ws_resolutions()) if low <= res <= high]
            if indices:
                groups[name] = indices
        return groups

    def _ws_resolutions(self) -> list[float]:
        """The resolution each ws index drives: StyleGAN2 blocks, or StyleGAN3 sampling rates
        (ws[0] drives the Fourier input, ws[i] layer i-1)."""
        if self.stylegan3 is None:
            return [4 * 2 ** (i // 2) for i in range(self.num_ws)]
        syn = self.synthesis
        rates = self.stylegan3.layer_geometry(self.resolution, self.img_channels, syn.channel_base, syn.channel_max)["sampling_rates"]
        return [float(rates[0]), *map(float, rates)]

    def _group_bounds(self) -> dict[str, tuple[int, int]]:
        # StyleGAN3 starts at 16 samples: coarse is the Fourier input and the 16-rate layers.
        if self.stylegan3 is None:
            return LAYER_GROUP_RESOLUTIONS
        return {"coarse": (1, 16), "middle": (32, 64), "fine": (128, 1 << 30)}

    @property
    def stylegan3_options(self) -> StyleGAN3Options:
        """The options of a StyleGAN3 model; ValueError for a StyleGAN2 one."""
        if self.stylegan3 is None:
            raise ValueError(f"model {self.name} is {self.architecture}, not stylegan3")
        return self.stylegan3

    @property
    def graph_parts(self) -> tuple[str, ...]:
        """The compiled graphs: StyleGAN3 has no noise inputs, so no explicit-noise graph."""
        return ("mapping", "synthesis") if self.stylegan3 else ("mapping", "synthesis", "synthesis_noise")

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        """One noise map per conv layer: one at 4x4, then two per resolution (none in StyleGAN3)."""
        if self.stylegan3 is not None:
            return []
        shapes = [(4, 4)]
        res = 8
        while res <= self.resolution:
            shapes += [(res, res), (res, res)]
            res *= 2
        return shapes


class DiscriminatorConfig(BaseModel):
    """`ganserve.training.discriminator.Discriminator`'s constructor arguments and where the weights came
    from. Kept beside a generator only for projection's features; its weights need not be from the
    same training step as the generator's (a run's latest D for an earlier G_ema snapshot)."""

    format: str = "ganserve-discriminator/1"
    architecture: Literal["resnet"] = "resnet"  # StyleGAN2 resnet D, minibatch stddev, projection conditioning
    resolution: int
    img_channels: int = 3
    c_dim: int = 0
    channel_base: int
    channel_max: int
    cmap_dim: int | None = None  # None: the channels at 4x4, as the class's default
    source: Source  # e.g. kind "trained", details {"checkpoint", "kimg"}

    @field_validator("resolution")
    @classmethod
    def _power_of_two(cls, value: int) -> int:
        if value < 4 or value & (value - 1):
            raise ValueError("resolution must be a power of two >= 4")
        return value

    def check_matches(self, generator: ModelConfig) -> None:
        """ValueError unless it sees the generator's images and classes."""
        mine = (self.resolution, self.img_channels, self.c_dim)
        theirs = (generator.resolution, generator.img_channels, generator.c_dim)
        if mine != theirs:
            raise ValueError(
                f"the discriminator of {generator.name} takes (resolution, img_channels, c_dim) {mine}, the generator makes {theirs}"
            )


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

    @property
    def discriminator_weights_path(self) -> Path:
        return self.directory / DISCRIMINATOR_WEIGHTS_FILE

    @cached_property
    def discriminator(self) -> DiscriminatorConfig | None:
        """The kept discriminator's config (validated against the generator's), None when there is none."""
        path = self.directory / DISCRIMINATOR_CONFIG_FILE
        if not path.exists():
            return None
        config = DiscriminatorConfig.model_validate_json(path.read_text())
        config.check_matches(self.config)
        if not self.discriminator_weights_path.exists():
            raise ValueError(f"{path} has no {DISCRIMINATOR_WEIGHTS_FILE} beside it")
        return config


def save_artifact(directory: Path, config: ModelConfig, state: dict[str, np.ndarray]) -> Artifact:
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    # np.array, not ascontiguousarray: that turns 0-d tensors (noise_strength, magnitude_ema) into [1].
    save_file({k: np.array(v, dtype=np.float32, order="C") for k, v in state.items()}, directory / WEIGHTS_FILE)
    (directory / CONFIG_FILE).write_text(json.dumps(config.model_dump(), indent=2) + "\n")
    return Artifact(directory)


def save_discriminator(directory: Path, config: DiscriminatorConfig, state: dict[str, np.ndarray]) -> None:
    """Writes the discriminator beside a model's generator (weights first, then the config that names them)."""
    from safetensors.numpy import save_file

    directory.mkdir(parents=True, exist_ok=True)
    save_file({k: np.array(v, dtype=np.float32, order="C") for k, v in state.items()}, directory / DISCRIMINATOR_WEIGHTS_FILE)
    (directory / DISCRIMINATOR_CONFIG_FILE).write_text(json.dumps(config.model_dump(), indent=2) + "\n")


def remove_discriminator(directory: Path) -> None:
    """Drops a kept discriminator (config first, so that no config is left naming missing weights)."""
    for name in (DISCRIMINATOR_CONFIG_FILE, DISCRIMINATOR_WEIGHTS_FILE):
        (Path(directory) / name).unlink(missing_ok=True)


def discover(models_dir: Path) -> list[Artifact]:
    return [Artifact(path.parent) for path in sorted(Path(models_dir).glob(f"*/{CONFIG_FILE}"))]


def find_artifact(models_dir: Path, name: str) -> Artifact:
    """The model called `name`, or a ValueError that lists the models there are."""
    known = {artifact.config.name: artifact for artifact in discover(models_dir)}
    if name not in known:
        raise ValueError(f"unknown model {name!r} in {models_dir}; models: {', '.join(known) or 'none'}")
    return known[name]
