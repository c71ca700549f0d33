"""The demo model: a small randomly initialised StyleGAN2 (64x64) so a fresh clone works end to end.

Initialisation follows NVlabs, then the parameters NVlabs starts at zero or one (w_avg, noise
strengths, biases) are randomised so that truncation, noise modes and biases visibly matter.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ganserve.artifacts import Artifact, MappingConfig, ModelConfig, Source, SynthesisConfig, save_artifact
from ganserve.generator.networks import Generator


def randomize_zero_initialised(generator: Generator, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in generator.state_dict(keep_vars=True).items():
            noise = torch.randn(tensor.shape, generator=gen)
            if name.endswith("w_avg"):
                tensor.copy_(noise * 0.5)
            elif name.endswith("noise_strength"):
                tensor.copy_(noise.abs() * 0.1)
            elif name.endswith("affine.bias"):
                tensor.copy_(1 + noise * 0.1)
            elif name.startswith("synthesis") and name.endswith(".bias"):
                tensor.copy_(noise * 0.1)


def demo_config(name: str = "demo64") -> ModelConfig:
    return ModelConfig(
        name=name,
        resolution=64,
        z_dim=256,
        w_dim=256,
        num_ws=10,
        mapping=MappingConfig(num_layers=8),
        synthesis=SynthesisConfig(channel_base=4096, channel_max=64),
        source=Source(kind="random-init", detail="ganserve demo model: NVlabs-style random initialisation, torch seed 0"),
    )


def make_demo(directory: Path, name: str = "demo64", seed: int = 0) -> Artifact:
    torch.manual_seed(seed)
    config = demo_config(name)
    generator = Generator(config)
    randomize_zero_initialised(generator, seed)
    state = {k: v.detach().numpy() for k, v in generator.state_dict().items()}
    return save_artifact(Path(directory), config, state)
