"""StyleGAN2 generator in PyTorch, built for export and for reference checks.

Parameter and buffer names follow NVlabs stylegan2-ada-pytorch (`training/networks.py`), so a
state dict from their code loads with `strict=True`. The arithmetic is theirs, rearranged so that
it exports to ONNX with a dynamic batch dimension:
- modulation is non-fused: activations are scaled by the styles, the conv weight is shared by the
  batch, and demodulation is a per-sample scale (NVlabs' grouped conv freezes the batch size);
- up-sampling is a transposed conv followed by a fixed 4x4 FIR filter, all with static shapes.

torch is only used for compiling and for reference; the serving path never imports this module.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganserve.artifacts import ModelConfig

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2)


def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def bias_lrelu(x: torch.Tensor, bias: torch.Tensor, clamp: float | None) -> torch.Tensor:
    """NVlabs bias_act(act='lrelu'): add bias, leaky ReLU, gain sqrt(2), then clamp."""
    x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
    return x if clamp is None else x.clamp(-clamp, clamp)


def fir_filter(x: torch.Tensor, f: torch.Tensor, pad: tuple[int, int, int, int], gain: float) -> torch.Tensor:
    """NVlabs upfirdn2d with up=down=1: pad (x0, x1, y0, y1), then a depthwise 2-D FIR filter."""
    channels = x.shape[1]
    kernel = (f * gain).flip([0, 1])[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(F.pad(x, pad), kernel, groups=channels)


def upsample2x(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """NVlabs upfirdn2d.upsample2d: zero insertion, pad (2, 1), FIR with gain 4."""
    _, channels, height, width = x.shape
    x = x.reshape(-1, channels, height, 1, width, 1)
    x = F.pad(x, [0, 1, 0, 0, 0, 1])
    x = x.reshape(-1, channels, height * 2, width * 2)
    return fir_filter(x, f, (2, 1, 2, 1), gain=4.0)


def make_resample_filter() -> torch.Tensor:
    f = torch.tensor([1.0, 3.0, 3.0, 1.0])
    f = torch.outer(f, f)
    return f / f.sum()


class FullyConnectedLayer(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        lrelu: bool,  # leaky ReLU (NVlabs 'lrelu') or linear
        lr_multiplier: float = 1.0,  # equalised learning rate: runtime weight scale
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.lrelu = lrelu
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight * self.weight_gain
        b = self.bias * self.bias_gain
        if not self.lrelu:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_lrelu(x.matmul(w.t()), b, clamp=None)


class MappingNetwork(nn.Module):
    w_avg: torch.Tensor  # buffers, declared for the type checker
    """z (+ one-hot c) -> w. Broadcasting to ws and truncation happen in the gateway (numpy)."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int, lr_multiplier: float = 0.01):
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_layers = z_dim, c_dim, w_dim, num_layers
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, w_dim, lrelu=False)
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        for idx in range(num_layers):
            layer = FullyConnectedLayer(features[idx], features[idx + 1], lrelu=True, lr_multiplier=lr_multiplier)
            setattr(self, f"fc{idx}", layer)
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = normalize_2nd_moment(z.to(torch.float32))
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"a conditional mapping network (c_dim={self.c_dim}) needs c")
            y = normalize_2nd_moment(self.embed(c.to(torch.float32)))
            x = torch.cat([x, y], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


class SynthesisLayer(nn.Module):
    noise_const: torch.Tensor  # buffers, declared for the type checker
    resample_filter: torch.Tensor
    """Modulated 3x3 conv with demodulation, optional 2x up-sampling, noise, bias and lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: bool, conv_clamp: float | None):
        super().__init__()
        self.resolution, self.up, self.conv_clamp = resolution, up, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, lrelu=False, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.register_buffer("noise_const", torch.randn([resolution, resolution]))
        self.register_buffer("resample_filter", make_resample_filter())  # NVlabs keeps one in every layer

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        """noise: unscaled noise maps [N, 1, res, res] (noise_strength is applied here) or None."""
        batch = x.shape[0]
        styles = self.affine(w)
        # Per-sample demodulation: the norm of (weight * styles) over in-channels and taps.
        weight_sq = self.weight.square().sum(dim=[2, 3])  # [out, in]
        dcoefs = (styles.square().matmul(weight_sq.t()) + 1e-8).rsqrt()  # [N, out]

        x = x * styles.reshape(batch, -1, 1, 1)
        if self.up:
            x = F.conv_transpose2d(x, self.weight.transpose(0, 1), stride=2)
            x = fir_filter(x, self.resample_filter, (1, 1, 1, 1), gain=4.0)
        else:
            x = F.conv2d(x, self.weight, padding=1)
        x = x * dcoefs.reshape(batch, -1, 1, 1)
        if noise is not None:
            x = x + noise * self.noise_strength
        return bias_lrelu(x, self.bias, self.conv_clamp)


class ToRGBLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, lrelu=False, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = F.conv2d(x * styles.reshape(x.shape[0], -1, 1, 1), self.weight)
        x = x + self.bias.reshape(1, -1, 1, 1)
        return x if self.conv_clamp is None else x.clamp(-self.conv_clamp, self.conv_clamp)


class SynthesisBlock(nn.Module):
    resample_filter: torch.Tensor  # a buffer, declared for the type checker
    """One resolution: (conv0 with 2x up-sampling), conv1, and a skip toRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int, conv_clamp: float | None):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=True, conv_clamp=conv_clamp)
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, up=False, conv_clamp=conv_clamp)
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.register_buffer("resample_filter", make_resample_filter())
        self.num_conv = 1 if in_channels == 0 else 2

    def convs(self) -> list[SynthesisLayer]:
        return [self.conv1] if self.in_channels == 0 else [self.conv0, self.conv1]

    def forward(self, x, img, ws: torch.Tensor, noises: list[torch.Tensor | None]):
        """ws: [N, num_conv + 1, w_dim]; the last w drives toRGB (shared with the next block's conv0)."""
        if self.in_channels == 0:
            x = self.const.unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        for idx, (conv, noise) in enumerate(zip(self.convs(), noises, strict=True)):
            x = conv(x, ws[:, idx], noise)
        if img is not None:
            img = upsample2x(img, self.resample_filter)
        y = self.torgb(x, ws[:, self.num_conv])
        return x, (y if img is None else img + y)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image NCHW float32 in about [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int, channel_max: int, conv_clamp: float | None):
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        self.block_resolutions = [2**i for i in range(2, int(math.log2(img_resolution)) + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        self.num_ws = 0
        for res in self.block_resolutions:
            in_channels = channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(in_channels, channels[res], w_dim, res, img_channels, conv_clamp)
            setattr(self, f"b{res}", block)
            self.num_ws += block.num_conv
        self.num_ws += 1  # the last block's toRGB

    def blocks(self) -> list[SynthesisBlock]:
        return [getattr(self, f"b{res}") for res in self.block_resolutions]

    def noise_layers(self) -> list[SynthesisLayer]:
        return [conv for block in self.blocks() for conv in block.convs()]

    def forward(
        self, ws: torch.Tensor, noise_gain: torch.Tensor | None = None, noise_maps: list[torch.Tensor] | None = None
    ) -> torch.Tensor:
        """Noise: explicit unscaled `noise_maps` (one [N,1,res,res] per conv layer), or each layer's
        stored `noise_const` times `noise_gain` [N] (1 = NVlabs noise_mode 'const', 0 = 'none')."""
        layers = self.noise_layers()
        if noise_maps is None:
            if noise_gain is None:
                noise_gain = torch.ones([ws.shape[0]], dtype=ws.dtype)
            noise_maps = [layer.noise_const * noise_gain.reshape(-1, 1, 1, 1) for layer in layers]
        noise_iter = iter(noise_maps)
        x = img = None
        w_idx = 0
        for block in self.blocks():
            block_ws = ws[:, w_idx : w_idx + block.num_conv + 1]
            x, img = block(x, img, block_ws, [next(noise_iter) for _ in range(block.num_conv)])
            w_idx += block.num_conv
        if img is None:
            raise ValueError("a synthesis network without blocks")
        return img


def to_uint8_nhwc(img: torch.Tensor) -> torch.Tensor:
    """gen_images.py: (img.permute(0,2,3,1) * 127.5 + 128).clamp(0, 255).to(uint8).
    The cast truncates; floor first so every backend rounds the same way."""
    return torch.floor((img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255)).to(torch.uint8)


class Generator(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        syn = config.synthesis
        self.synthesis = SynthesisNetwork(
            config.w_dim, config.resolution, config.img_channels, syn.channel_base, syn.channel_max, syn.conv_clamp
        )
        if self.synthesis.num_ws != config.num_ws:
            raise ValueError(f"config num_ws={config.num_ws} but the synthesis network has {self.synthesis.num_ws}")
        mapping = config.mapping
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, mapping.num_layers, mapping.lr_multiplier)

    def load_numpy_state(self, state: dict[str, np.ndarray]) -> None:
        self.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=True)
