"""StyleGAN3 synthesis (configs T and R) in PyTorch, built for export and for reference checks.

Parameter and buffer names follow NVlabs stylegan3 (`training/networks_stylegan3.py`), so the
`synthesis.*` entries of their state dict load with `strict=True`; the mapping network is the
StyleGAN2 one (same arithmetic). Layer geometry (sizes, up/down factors, taps, padding) is NVlabs'
SynthesisNetwork/SynthesisLayer arithmetic on the config; filter values are weights, so no scipy.

Rearranged for ONNX export with a dynamic batch:
- modulation is non-fused (x * styles -> conv with the shared weight -> * demodulation), and the
  styles are pre-normalised per sample, not over the batch tensor as NVlabs does: gen_images.py
  runs one image at a time, so this gives its output for every image whatever the batch;
- filtered_lrelu is NVlabs' reference (`_filtered_lrelu_ref` over `_upfirdn2d_ref`) with static
  shapes: zero insertion by reshape/pad, pad/crop by slicing, depthwise convs with the flipped filter;
  a separable up filter skips the zeros (`_upsample_separable`: the same sums, faster in ONNX Runtime);
- NVlabs' view transform is one buffer shared by the batch; here it is a per-sample input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ganserve.artifacts import ModelConfig
from ganserve.generator.networks import LRELU_GAIN, LRELU_SLOPE, FullyConnectedLayer, Generator, MappingNetwork


@dataclass(frozen=True)
class LayerSpec:
    """One NVlabs SynthesisLayer's static geometry (square images)."""

    name: str
    is_torgb: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    conv_kernel: int
    up: int
    down: int
    up_taps: int  # 1: no filter (NVlabs registers the buffer as None)
    down_taps: int
    down_radial: bool  # a 2-D jinc filter, else separable 1-D
    padding: tuple[int, int, int, int]  # x0, x1, y0, y1 after zero insertion; negative crops


def layer_specs(config: ModelConfig) -> list[LayerSpec]:
    """NVlabs SynthesisNetwork.__init__ + SynthesisLayer.__init__, for layers L0 ... toRGB."""
    opts, syn = config.stylegan3_options, config.synthesis
    geo = opts.layer_geometry(config.resolution, config.img_channels, syn.channel_base, syn.channel_max)
    rates, sizes, channels = geo["sampling_rates"], geo["sizes"], geo["channels"]
    specs = []
    for idx in range(opts.num_layers + 1):
        prev = max(idx - 1, 0)
        is_torgb = idx == opts.num_layers
        is_critical = idx >= opts.num_layers - opts.num_critical
        in_rate, out_rate = int(rates[prev]), int(rates[idx])
        tmp_rate = max(in_rate, out_rate) * (1 if is_torgb else opts.lrelu_upsampling)
        up, down = int(np.rint(tmp_rate / in_rate)), int(np.rint(tmp_rate / out_rate))
        up_taps = opts.filter_size * up if up > 1 and not is_torgb else 1
        down_taps = opts.filter_size * down if down > 1 and not is_torgb else 1
        kernel = 1 if is_torgb else opts.conv_kernel
        in_size, out_size = int(sizes[prev]), int(sizes[idx])
        # Output size before downsampling, minus the upsampled input, plus what the filters shrink.
        pad_total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2  # the symmetric interpretation (paper, appendix C.3)
        pad_hi = pad_total - pad_lo
        out_channels = int(channels[idx])
        specs.append(
            LayerSpec(
                name=f"L{idx}_{out_size}_{out_channels}",
                is_torgb=is_torgb,
                in_channels=int(channels[prev]),
                out_channels=out_channels,
                in_size=in_size,
                out_size=out_size,
                conv_kernel=kernel,
                up=up,
                down=down,
                up_taps=up_taps,
                down_taps=down_taps,
                down_radial=opts.use_radial_filters and not is_critical,
                padding=(pad_lo, pad_hi, pad_lo, pad_hi),
            )
        )
    return specs


def _depthwise(x: torch.Tensor, f: torch.Tensor, stride: int) -> torch.Tensor:
    """_upfirdn2d_ref's filtering (flip_filter=False: a true convolution, so the filter is flipped),
    keeping every `stride`-th output: a 1-D filter runs along x then y, a 2-D one at once."""
    channels = x.shape[1]
    f = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        return F.conv2d(x, f[None, None].repeat(channels, 1, 1, 1), stride=stride, groups=channels)
    f = f[None, None].repeat(channels, 1, 1)
    x = F.conv2d(x, f.unsqueeze(2), stride=(1, stride), groups=channels)
    return F.conv2d(x, f.unsqueeze(3), stride=(stride, 1), groups=channels)


def _polyphase_taps(f: torch.Tensor, up: int, pad_lo: int) -> tuple[torch.Tensor, int]:
    """Along one axis, taps g [up, S] and offset e0 such that zero insertion, padding by `pad_lo`
    (negative crops) and true convolution with the 1-D filter f give at output k = up * m + r
    sum_s g[r, s] * x[m + e0 + s], x zero outside its range: the same nonzero products, in the same
    order, as the reference, which also adds the products with the inserted zeros.

    With L taps the reference's output k is sum_i x[i] * f[c - up * (i - m)], c = L - 1 + r - pad_lo,
    and the filter index must be in [0, L): e = i - m runs over [e0, e0 + S) for every phase."""
    taps = f.shape[0]
    centres = [taps - 1 + r - pad_lo for r in range(up)]
    e_lo = min(-((taps - 1 - c) // up) for c in centres)  # smallest e with c - up * e <= L - 1
    e_hi = max(c // up for c in centres)  # largest e with c - up * e >= 0
    index = np.full((up, e_hi - e_lo + 1), taps)  # `taps` picks an appended zero
    for r, c in enumerate(centres):
        for s in range(e_hi - e_lo + 1):
            if 0 <= c - up * (e_lo + s) < taps:
                index[r, s] = c - up * (e_lo + s)
    return torch.cat([f, f.new_zeros(1)])[torch.from_numpy(index)], e_lo


def _upsample_separable(x: torch.Tensor, f: torch.Tensor, up: int, padding: tuple[int, int, int, int]) -> torch.Tensor:
    """_upfirdn2d_ref's upsampling (zero insertion, pad/crop, then the 1-D filter f along x and y with
    gain `up` per pass), arranged so that ONNX Runtime does little work at the upsampled resolution.

    Why: inserting zeros in both axes and padding at the upsampled resolution made the Pads cost ONNX
    Runtime more than the filtering. Here the x pass runs on the input's rows only (zero insertion
    along x by Concat, then its pad/crop), and the y pass is polyphase: each of the `up` output row
    phases is a short conv with every up-th tap of f on those rows, and the phases are interleaved as
    whole rows by a reshape/transpose. Both give the reference's sums term for term, less the added
    zeros (exact in torch; rounding-level in ONNX Runtime)."""
    _, channels, height, width = x.shape
    x0, x1, y0, y1 = padding
    taps = f.shape[0]
    f = f * up
    # Zero insertion along x by Concat: ONNX Runtime's Pad of the innermost axis is ~10x slower.
    zeros = torch.zeros_like(x).unsqueeze(4).expand(-1, -1, -1, -1, up - 1)
    x = torch.cat([x.unsqueeze(4), zeros], dim=4).reshape(-1, channels, height, width * up)
    if max(x0, 0) or max(x1, 0):
        x = F.pad(x, [max(x0, 0), max(x1, 0)])
    x = x[:, :, :, max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    x = F.conv2d(x, f.flip(0)[None, None, None].repeat(channels, 1, 1, 1), groups=channels)
    out_h = height * up + y0 + y1 - taps + 1
    g, e0 = _polyphase_taps(f, up, y0)
    span = g.shape[1]
    # Phase r's row m reads input rows m + e0 + s, s < span; symmetric conv padding p covers both
    # ends, so it is the conv's row m + p + e0.
    pad = max(-e0, -(-out_h // up) + span - 1 - height + e0, 0)
    weight = g.repeat(channels, 1)[:, None, :, None]  # [C * up, 1, span, 1]: channel c's phase r is c * up + r
    x = F.conv2d(x, weight, padding=(pad, 0), groups=channels)
    conv_h, out_w = x.shape[2], x.shape[3]
    x = x.reshape(-1, channels, up, conv_h, out_w).transpose(2, 3).reshape(-1, channels, conv_h * up, out_w)
    start = (pad + e0) * up
    return x[:, :, start : start + out_h]


def filtered_lrelu(
    x: torch.Tensor,
    bias: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
    slope: float,
    clamp: float | None,
) -> torch.Tensor:
    """NVlabs _filtered_lrelu_ref: bias, upsample (zero insertion, pad/crop, fu with gain up**2),
    leaky ReLU x gain, clamp, then fd and keep every `down`-th pixel. Static shapes throughout."""
    x = x + bias.reshape(1, -1, 1, 1)
    _, channels, height, width = x.shape
    separable = up > 1 and fu is not None and fu.ndim == 1
    if separable and fu is not None:
        x, fu = _upsample_separable(x, fu, up, padding), None  # padded and filtered by fu already
    elif up > 1:
        x = x.reshape(-1, channels, height, 1, width, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(-1, channels, height * up, width * up)
    x0, x1, y0, y1 = padding
    if not separable:
        if max(x0, 0) or max(x1, 0) or max(y0, 0) or max(y1, 0):
            x = F.pad(x, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
        x = x[:, :, max(-y0, 0) : x.shape[2] - max(-y1, 0), max(-x0, 0) : x.shape[3] - max(-x1, 0)]
    if fu is not None:
        x = _depthwise(x, fu * (up**2) ** (fu.ndim / 2), stride=1)  # upfirdn2d: gain ** (ndim / 2) per pass
    if slope != 1:  # slope 1 (toRGB) is the identity
        x = F.leaky_relu(x, slope)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    if fd is not None:
        x = _depthwise(x, fd, stride=down)
    return x


class SynthesisInput(nn.Module):
    """Fourier features at the first layer's sampling rate, rotated/translated per w and per view."""

    transform: torch.Tensor  # buffers, declared for the type checker
    freqs: torch.Tensor
    phases: torch.Tensor
    grid: torch.Tensor

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        # Values come from the weights (NVlabs draws freqs/phases at random; affine starts at (1, 0, 0, 0)).
        self.weight = nn.Parameter(torch.randn([channels, channels]))
        self.affine = FullyConnectedLayer(w_dim, 4, lrelu=False)
        self.register_buffer("transform", torch.eye(3))  # NVlabs' shared view: used when none is given
        self.register_buffer("freqs", torch.zeros([channels, 2]))
        self.register_buffer("phases", torch.zeros([channels]))
        # The sampling grid is a constant: computed once, exactly as NVlabs does on every call.
        theta = torch.eye(2, 3)
        theta[0, 0] = theta[1, 1] = 0.5 * size / self.sampling_rate
        grid = F.affine_grid(theta.unsqueeze(0), [1, 1, size, size], align_corners=False)
        self.register_buffer("grid", grid.reshape(1, size * size, 2), persistent=False)

    def forward(self, w: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
        """w: [N, w_dim], transform: [N, 3, 3] (the inverse view transform) -> [N, C, size, size]."""
        t = self.affine(w)  # (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(1)
        zero, one = torch.zeros_like(cos), torch.ones_like(cos)
        # Built with stack, not indexed assignment into eye(), so the batch stays symbolic in export.
        m_r = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], dim=1).reshape(-1, 3, 3)
        m_t = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1).reshape(-1, 3, 3)
        transforms = m_r @ m_t @ transform  # rotate the image, then translate, then the user's view

        freqs = self.freqs.unsqueeze(0)
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)
        freqs = freqs @ transforms[:, :2, :2]
        # Dampen frequencies the view pushes out of band.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)

        x = self.grid @ freqs.transpose(1, 2)  # [N, H*W, C]
        x = x + phases.unsqueeze(1)
        x = torch.sin(x * (np.pi * 2))
        x = x * amplitudes.unsqueeze(1)
        x = x @ (self.weight / np.sqrt(self.channels)).t()
        return x.transpose(1, 2).reshape(-1, self.channels, self.size, self.size)


class SynthesisLayer(nn.Module):
    """Modulated conv (non-fused) + filtered leaky ReLU; the last one is toRGB (no demodulation)."""

    magnitude_ema: torch.Tensor  # a buffer, declared for the type checker

    def __init__(self, spec: LayerSpec, w_dim: int, conv_clamp: float | None):
        super().__init__()
        self.spec, self.conv_clamp = spec, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels, lrelu=False, bias_init=1)
        k = spec.conv_kernel
        self.weight = nn.Parameter(torch.randn([spec.out_channels, spec.in_channels, k, k]))
        self.bias = nn.Parameter(torch.zeros([spec.out_channels]))
        self.register_buffer("magnitude_ema", torch.ones([]))
        # NVlabs registers a 1-tap filter as None, which leaves it out of the state dict.
        if spec.up_taps > 1:
            self.register_buffer("up_filter", torch.zeros([spec.up_taps]))
        else:
            self.up_filter = None
        if spec.down_taps > 1:
            self.register_buffer("down_filter", torch.zeros([spec.down_taps] * (2 if spec.down_radial else 1)))
        else:
            self.down_filter = None
        self.torgb_gain = 1 / np.sqrt(spec.in_channels * k**2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        spec = self.spec
        styles = self.affine(w)
        weight: torch.Tensor = self.weight
        if spec.is_torgb:
            styles = styles * self.torgb_gain
        else:
            # NVlabs pre-normalises before demodulating; styles per sample (see the module docstring).
            weight = weight * weight.square().mean([1, 2, 3], keepdim=True).rsqrt()
            styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
        input_gain = self.magnitude_ema.rsqrt()
        x = x * (styles * input_gain).unsqueeze(2).unsqueeze(3)
        x = F.conv2d(x, weight, padding=spec.conv_kernel - 1)
        if not spec.is_torgb:
            dcoefs = (styles.square() @ weight.square().sum(dim=[2, 3]).t() + 1e-8).rsqrt()  # [N, out]
            x = x * dcoefs.unsqueeze(2).unsqueeze(3)
        gain, slope = (1.0, 1.0) if spec.is_torgb else (LRELU_GAIN, LRELU_SLOPE)
        return filtered_lrelu(
            x, self.bias, self.up_filter, self.down_filter, spec.up, spec.down, spec.padding, gain, slope, self.conv_clamp
        )


class SynthesisNetwork3(nn.Module):
    """ws [N, num_ws, w_dim], transform [N, 3, 3] -> image NCHW float32 in about [-1, 1].
    ws[0] drives the Fourier input, ws[i] layer L{i-1}; transform[i] is sample i's inverse view
    transform (latents.input_transform), which NVlabs keeps in the shared `input.transform` buffer."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        opts, syn = config.stylegan3_options, config.synthesis
        self.output_scale = opts.output_scale
        specs = layer_specs(config)
        geo = opts.layer_geometry(config.resolution, config.img_channels, syn.channel_base, syn.channel_max)
        self.input = SynthesisInput(
            config.w_dim, int(geo["channels"][0]), int(geo["sizes"][0]), geo["sampling_rates"][0], geo["cutoffs"][0]
        )
        self.layer_names = [spec.name for spec in specs]
        for spec in specs:
            setattr(self, spec.name, SynthesisLayer(spec, config.w_dim, syn.conv_clamp))
        self.num_ws = len(specs) + 1

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        """transform None: NVlabs' stored `input.transform` for every sample."""
        layer_ws = ws.to(torch.float32).unbind(dim=1)
        if transform is None:
            transform = self.input.transform.unsqueeze(0)
        x = self.input(layer_ws[0], transform.to(torch.float32))
        for name, w in zip(self.layer_names, layer_ws[1:], strict=True):
            x = getattr(self, name)(x, w)
        return x * self.output_scale if self.output_scale != 1 else x


class Generator3(nn.Module):
    """StyleGAN3: the StyleGAN2 mapping network with the alias-free synthesis network."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.synthesis = SynthesisNetwork3(config)
        if self.synthesis.num_ws != config.num_ws:
            raise ValueError(f"config num_ws={config.num_ws} but the synthesis network has {self.synthesis.num_ws}")
        mapping = config.mapping
        self.mapping = MappingNetwork(config.z_dim, config.c_dim, config.w_dim, mapping.num_layers, mapping.lr_multiplier)

    def load_numpy_state(self, state: dict[str, np.ndarray]) -> None:
        self.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}, strict=True)


def build_generator(config: ModelConfig) -> Generator | Generator3:
    """The generator for the config's architecture (StyleGAN2: networks.Generator)."""
    return Generator3(config) if config.architecture == "stylegan3" else Generator(config)
