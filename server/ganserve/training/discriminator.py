"""A StyleGAN2 discriminator (NVlabs `training/networks.py`, architecture 'resnet'), conditional by
projection: the last features are dotted with an embedding of the class (their `cmap`).

Equalised learning rate throughout; down-sampling is the [1, 3, 3, 1] FIR filter then stride 2, as
NVlabs' upfirdn2d; the epilogue has minibatch standard deviation. Written for training only.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ganserve.generator.networks import LRELU_GAIN, LRELU_SLOPE, FullyConnectedLayer, make_resample_filter, normalize_2nd_moment


def blur(x: torch.Tensor, f: torch.Tensor, pad: int) -> torch.Tensor:
    channels = x.shape[1]
    kernel = f[None, None].repeat(channels, 1, 1, 1)
    return F.conv2d(F.pad(x, [pad] * 4), kernel, groups=channels)


class Conv2dLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, lrelu: bool = True, down: bool = False, bias: bool = True):
        super().__init__()
        self.lrelu, self.down, self.kernel_size = lrelu, down, kernel_size
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.resample_filter: torch.Tensor
        self.register_buffer("resample_filter", make_resample_filter())

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = self.weight * self.weight_gain
        if self.down:
            # NVlabs conv2d_resample with down=2: FIR (padded so the size halves exactly), then a strided conv.
            x = blur(x, self.resample_filter, pad=(self.kernel_size + 1) // 2)
            x = F.conv2d(x, w, stride=2)
        else:
            x = F.conv2d(x, w, padding=self.kernel_size // 2)
        if self.bias is not None:
            x = x + self.bias.reshape(1, -1, 1, 1)
        if self.lrelu:
            x = F.leaky_relu(x, LRELU_SLOPE) * (LRELU_GAIN * gain)
        elif gain != 1:
            x = x * gain
        return x


class DiscriminatorBlock(nn.Module):
    """conv 3x3, conv 3x3 down, plus a 1x1 down skip; the sum scaled by sqrt(0.5)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = Conv2dLayer(in_channels, in_channels, 3)
        self.conv1 = Conv2dLayer(in_channels, out_channels, 3, down=True)
        self.skip = Conv2dLayer(in_channels, out_channels, 1, lrelu=False, down=True, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv1(self.conv0(x), gain=math.sqrt(0.5))
        return y + x


def minibatch_stddev(x: torch.Tensor, group_size: int = 4) -> torch.Tensor:
    n, c, h, w = x.shape
    g = min(group_size, n) if n % min(group_size, n) == 0 else 1
    y = x.reshape(g, -1, c, h, w)
    y = (y - y.mean(dim=0)).square().mean(dim=0).add(1e-8).sqrt()  # [n/g, c, h, w]
    y = y.mean(dim=[1, 2, 3]).reshape(-1, 1, 1, 1).repeat(g, 1, h, w)  # [n, 1, h, w]
    return torch.cat([x, y], dim=1)


class Discriminator(nn.Module):
    def __init__(
        self, resolution: int, c_dim: int, channel_base: int, channel_max: int, img_channels: int = 3, cmap_dim: int | None = None
    ):
        super().__init__()
        self.resolution, self.c_dim = resolution, c_dim
        resolutions = [2**i for i in range(int(math.log2(resolution)), 2, -1)]  # e.g. 32, 16, 8
        channels = {res: min(channel_base // res, channel_max) for res in resolutions + [4]}
        self.from_rgb = Conv2dLayer(img_channels, channels[resolution], 1)
        self.blocks = nn.ModuleList([DiscriminatorBlock(channels[res], channels[res // 2]) for res in resolutions])
        top = channels[4]
        self.cmap_dim = cmap_dim or top
        if c_dim:
            self.embed = FullyConnectedLayer(c_dim, self.cmap_dim, lrelu=False)
        self.conv = Conv2dLayer(top + 1, top, 3)
        self.fc = FullyConnectedLayer(top * 16, top, lrelu=True)
        self.out = FullyConnectedLayer(top, self.cmap_dim if c_dim else 1, lrelu=False)

    def forward(self, img: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """img NCHW in [-1, 1], c one-hot [N, c_dim] -> logits [N, 1]."""
        x = self.from_rgb(img)
        for block in self.blocks:
            x = block(x)
        x = self.conv(minibatch_stddev(x))
        x = self.out(self.fc(x.flatten(1)))
        if self.c_dim:
            cmap = normalize_2nd_moment(self.embed(c))
            x = (x * cmap).sum(dim=1, keepdim=True) / math.sqrt(self.cmap_dim)
        return x
