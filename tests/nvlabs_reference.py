"""Reference arrays computed with NVlabs stylegan2-ada-pytorch (tests/data/make_nvlabs_reference.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

from ganserve.artifacts import MappingConfig, ModelConfig, Source, SynthesisConfig

DATA = Path(__file__).parent / "data" / "nvlabs"
CASES = ["sg2_uncond_32", "sg2_cond_16_map2"]
SETTINGS = {"psi1_const": (1.0, None, "const"), "psi07_const": (0.7, None, "const"), "psi05_cut4_none": (0.5, 4, "none")}


def load_case(case: str) -> tuple[ModelConfig, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """-> (our config, NVlabs state dict, reference arrays)."""
    meta = json.loads((DATA / f"{case}.json").read_text())
    kwargs = meta["generator_kwargs"]
    syn = kwargs["synthesis_kwargs"]
    config = ModelConfig(
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
    arrays = load_file(DATA / f"{case}.safetensors")
    state = {k.removeprefix("G."): v for k, v in arrays.items() if k.startswith("G.")}
    reference = {k: v for k, v in arrays.items() if not k.startswith("G.")}
    return config, state, reference
