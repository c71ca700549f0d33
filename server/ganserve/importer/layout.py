"""The tensor names and shapes an NVlabs generator has for a given ModelConfig.

Comparing a snapshot against these catches constructor arguments that change the network without
showing up in the keys (channel counts, kernel sizes, label embedding width, filters) and variants
ganserve does not serve (architecture 'orig'/'resnet', no noise inputs, no w_avg).
Same arithmetic as NVlabs' training/networks.py and training/networks_stylegan3.py.
"""

from __future__ import annotations

import numpy as np

from ganserve.artifacts import ModelConfig

Shapes = dict[str, tuple[int, ...]]


def expected_shapes(config: ModelConfig) -> Shapes:
    shapes = _mapping(config)
    shapes |= _stylegan3_synthesis(config) if config.stylegan3 else _stylegan2_synthesis(config)
    return shapes


def _fc(prefix: str, in_features: int, out_features: int) -> Shapes:
    return {f"{prefix}.weight": (out_features, in_features), f"{prefix}.bias": (out_features,)}


def _mapping(config: ModelConfig) -> Shapes:
    w, c = config.w_dim, config.c_dim
    shapes = _fc("mapping.embed", c, w) if c else {}
    features = [config.z_dim + (w if c else 0)] + [w] * config.mapping.num_layers
    for idx in range(config.mapping.num_layers):
        shapes |= _fc(f"mapping.fc{idx}", features[idx], features[idx + 1])
    return shapes | {"mapping.w_avg": (w,)}


def _stylegan2_synthesis(config: ModelConfig) -> Shapes:
    syn, w = config.synthesis, config.w_dim
    resolutions = [2**i for i in range(2, int(np.log2(config.resolution)) + 1)]
    channels = {res: min(syn.channel_base // res, syn.channel_max) for res in resolutions}
    shapes: Shapes = {}
    for res in resolutions:
        block, ch = f"synthesis.b{res}", channels[res]
        shapes[f"{block}.resample_filter"] = (4, 4)
        if res == 4:
            shapes[f"{block}.const"] = (ch, 4, 4)
        convs = [("conv1", ch)] if res == 4 else [("conv0", channels[res // 2]), ("conv1", ch)]
        for conv, in_ch in convs:
            layer = f"{block}.{conv}"
            shapes |= {f"{layer}.weight": (ch, in_ch, 3, 3), f"{layer}.bias": (ch,), f"{layer}.noise_strength": ()}
            shapes |= {f"{layer}.noise_const": (res, res), f"{layer}.resample_filter": (4, 4)} | _fc(f"{layer}.affine", w, in_ch)
        shapes |= {f"{block}.torgb.weight": (config.img_channels, ch, 1, 1), f"{block}.torgb.bias": (config.img_channels,)}
        shapes |= _fc(f"{block}.torgb.affine", w, ch)
    return shapes


def stylegan3_layer_names(config: ModelConfig) -> list[str]:
    geo = _geometry(config)
    return [f"L{idx}_{int(geo['sizes'][idx])}_{int(geo['channels'][idx])}" for idx in range(config.stylegan3_options.num_layers + 1)]


def _geometry(config: ModelConfig) -> dict[str, np.ndarray]:
    syn = config.synthesis
    return config.stylegan3_options.layer_geometry(config.resolution, config.img_channels, syn.channel_base, syn.channel_max)


def _stylegan3_synthesis(config: ModelConfig) -> Shapes:
    opts, w = config.stylegan3_options, config.w_dim
    geo = _geometry(config)
    channels, rates = [int(c) for c in geo["channels"]], [int(r) for r in geo["sampling_rates"]]
    c0 = channels[0]
    shapes: Shapes = {"synthesis.input.weight": (c0, c0), "synthesis.input.transform": (3, 3)}
    shapes |= {"synthesis.input.freqs": (c0, 2), "synthesis.input.phases": (c0,)} | _fc("synthesis.input.affine", w, 4)
    for idx, name in enumerate(stylegan3_layer_names(config)):
        prev, is_torgb = max(idx - 1, 0), idx == opts.num_layers
        in_ch, out_ch, kernel = channels[prev], channels[idx], 1 if is_torgb else opts.conv_kernel
        layer = f"synthesis.{name}"
        shapes |= {f"{layer}.weight": (out_ch, in_ch, kernel, kernel), f"{layer}.bias": (out_ch,), f"{layer}.magnitude_ema": ()}
        shapes |= _fc(f"{layer}.affine", w, in_ch)
        # Filters: none (identity) when a layer does not resample; radial (2-D) down-filters when asked.
        tmp_rate = max(rates[prev], rates[idx]) * (1 if is_torgb else opts.lrelu_upsampling)
        up_factor, down_factor = int(np.rint(tmp_rate / rates[prev])), int(np.rint(tmp_rate / rates[idx]))
        up_taps = opts.filter_size * up_factor if up_factor > 1 and not is_torgb else 1
        down_taps = opts.filter_size * down_factor if down_factor > 1 and not is_torgb else 1
        radial = opts.use_radial_filters and idx < opts.num_layers - opts.num_critical
        if up_taps > 1:
            shapes[f"{layer}.up_filter"] = (up_taps,)
        if down_taps > 1:
            shapes[f"{layer}.down_filter"] = (down_taps, down_taps) if radial else (down_taps,)
    return shapes


def compare(state: dict[str, np.ndarray], expected: Shapes) -> list[str]:
    """Human-readable differences, at most a few of each kind; empty when the state fits."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} is {list(state[k].shape)}, expected {list(v)}" for k, v in expected.items() if k in state and state[k].shape != v]
    problems = []
    for label, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            more = f" (+{len(items) - 3} more)" if len(items) > 3 else ""
            problems.append(f"{label}: {', '.join(items[:3])}{more}")
    return problems
