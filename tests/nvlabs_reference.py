"""Reference arrays computed with NVlabs stylegan2-ada-pytorch and stylegan3 (tests/data/make_nvlabs_reference.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from ganserve.artifacts import MappingConfig, ModelConfig, Source, StyleGAN3Options, SynthesisConfig

DATA = Path(__file__).parent / "data" / "nvlabs"
CASES = ["sg2_uncond_32", "sg2_cond_16_map2"]
SETTINGS = {"psi1_const": (1.0, None, "const"), "psi07_const": (0.7, None, "const"), "psi05_cut4_none": (0.5, 4, "none")}

SG3_CASES = ["sg3t_uncond_32", "sg3r_cond_16"]
# name -> (psi, cutoff, translate, rotate in degrees), as gen_images.py takes them
SG3_SETTINGS = {
    "psi1": (1.0, None, (0.0, 0.0), 0.0),
    "psi07_shift": (0.7, None, (0.1, -0.2), 0.0),
    "psi05_cut4_rot30": (0.5, 4, (0.25, 0.1), 30.0),
}
# NVlabs stylegan3 defaults our config does not share: SynthesisLayer's conv_clamp, MappingNetwork's depth.
SG3_CONV_CLAMP, SG3_MAPPING_LAYERS = 256, 2
# What assert_nvlabs_parity asserts (and the README states): at most 1/255 off, >= 99.9% exact.
MAX_UINT8_DIFF, MIN_EXACT_SHARE = 1, 0.999


def assert_nvlabs_parity(ours: np.ndarray, reference: np.ndarray, what: str = "") -> None:
    """uint8 images against NVlabs': every value within 1/255, and at least 99.9% of them exact.

    A float difference under 1/127.5 moves gen_images.py's uint8 conversion by at most one level,
    and the float tolerances (tests/tolerances.py) are far below that, so 1/255 holds on any CPU."""
    assert ours.dtype == reference.dtype == np.uint8 and ours.shape == reference.shape, (what, ours.shape, reference.shape)
    diff = np.abs(ours.astype(int) - reference.astype(int))
    exact = (diff == 0).mean()
    assert diff.max() <= MAX_UINT8_DIFF and exact >= MIN_EXACT_SHARE, f"{what}: max diff {diff.max()}/255, {exact:.4%} exact"


def load_case(case: str) -> tuple[ModelConfig, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """-> (our config, NVlabs state dict, reference arrays)."""
    meta = json.loads((DATA / f"{case}.json").read_text())
    config = _sg3_config(case, meta) if "stylegan3" in meta["source"] else _sg2_config(case, meta)
    arrays = load_file(DATA / f"{case}.safetensors")
    state = {k.removeprefix("G."): v for k, v in arrays.items() if k.startswith("G.")}
    reference = {k: v for k, v in arrays.items() if not k.startswith("G.")}
    return config, state, reference


def _sg2_config(case: str, meta: dict) -> ModelConfig:
    kwargs = meta["generator_kwargs"]
    syn = kwargs["synthesis_kwargs"]
    return ModelConfig(
        name=case.replace("_", "-"),
        resolution=kwargs["img_resolution"],
        z_dim=kwargs["z_dim"],
        w_dim=kwargs["w_dim"],
        c_dim=kwargs["c_dim"],
        num_ws=meta["num_ws"],
        mapping=MappingConfig(num_layers=kwargs["mapping_kwargs"]["num_layers"]),
        synthesis=SynthesisConfig(channel_base=syn["channel_base"], channel_max=syn["channel_max"], conv_clamp=syn["conv_clamp"]),
        source=Source(kind="nvlabs-reference", detail=f"NVlabs/stylegan2-ada-pytorch@{meta['nvlabs_commit']}"),
    )


def _sg3_config(case: str, meta: dict) -> ModelConfig:
    """training.networks_stylegan3.Generator kwargs: the synthesis/layer options are flat keywords."""
    kwargs = meta["generator_kwargs"]
    synthesis = SynthesisConfig(
        **{k: kwargs[k] for k in ("channel_base", "channel_max") if k in kwargs}, conv_clamp=kwargs.get("conv_clamp", SG3_CONV_CLAMP)
    )
    return ModelConfig(
        name=case.replace("_", "-"),
        architecture="stylegan3",
        resolution=kwargs["img_resolution"],
        img_channels=kwargs["img_channels"],
        z_dim=kwargs["z_dim"],
        w_dim=kwargs["w_dim"],
        c_dim=kwargs["c_dim"],
        num_ws=meta["num_ws"],
        mapping=MappingConfig(num_layers=kwargs.get("mapping_kwargs", {}).get("num_layers", SG3_MAPPING_LAYERS)),
        synthesis=synthesis,
        stylegan3=StyleGAN3Options(**{k: v for k, v in kwargs.items() if k in StyleGAN3Options.model_fields}),
        source=Source(kind="nvlabs-reference", detail=f"NVlabs/stylegan3@{meta['nvlabs_commit']}"),
    )


def load_filtered_lrelu_ops() -> list[tuple[dict, dict[str, np.ndarray]]]:
    """NVlabs _filtered_lrelu_ref on random (asymmetric) filters: [(op arguments, {x, b, fu?, fd?, y})]."""
    meta = json.loads((DATA / "sg3_filtered_lrelu.json").read_text())
    arrays = load_file(DATA / "sg3_filtered_lrelu.safetensors")
    return [(op, {k.partition("_")[2]: v for k, v in arrays.items() if k.partition("_")[0] == str(i)}) for i, op in enumerate(meta["ops"])]
