"""What a training run is: the networks' sizes and the optimisation, saved with every checkpoint."""

from __future__ import annotations

from pydantic import BaseModel

from ganserve.artifacts import MappingConfig, ModelConfig, Source, SynthesisConfig


class TrainingOptions(BaseModel):
    name: str = "emoji32"  # the model name it exports as
    resolution: int = 32
    z_dim: int = 128
    w_dim: int = 128
    mapping_layers: int = 4
    channel_base: int = 2048  # channels at resolution r: min(channel_base // r, channel_max)
    channel_max: int = 64
    batch: int = 32
    lr: float = 0.0025
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 0.01
    r1_interval: int = 16  # lazy regularisation: R1 every 16 D steps, scaled by 16
    ema_kimg: float = 10.0
    ema_rampup: float = 0.05
    style_mixing: float = 0.9  # probability of two latents per image, switched at a random layer
    augment_target: float = 0.6
    augment_speed_kimg: float = 100.0
    xflip: bool = True
    seed: int = 0
    tick_kimg: float = 1.0  # a metrics line every tick
    checkpoint_minutes: float = 10.0

    def generator_config(self, class_names: list[str], detail: str = "") -> ModelConfig:
        num_ws = 2 * (self.resolution.bit_length() - 3) + 2  # 1 + 2 per block above 4x4, + toRGB
        return ModelConfig(
            name=self.name,
            resolution=self.resolution,
            z_dim=self.z_dim,
            w_dim=self.w_dim,
            c_dim=len(class_names),
            num_ws=num_ws,
            class_names=class_names,
            mapping=MappingConfig(num_layers=self.mapping_layers),
            synthesis=SynthesisConfig(channel_base=self.channel_base, channel_max=self.channel_max),
            source=Source(kind="trained", detail=detail),
        )
