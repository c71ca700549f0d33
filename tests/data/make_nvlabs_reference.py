#!/usr/bin/env python3
"""Generate small parity-reference data from the official NVlabs
stylegan2-ada-pytorch implementation.

This script contains none of NVlabs' code: it imports their package from a
checkout given on the command line and only records tensors computed with it.
Nothing is pickled; outputs are safetensors + JSON.

Usage (in an environment with torch, numpy, safetensors and setuptools<70):

    python tests/data/make_nvlabs_reference.py \
        --nvlabs /path/to/stylegan2-ada-pytorch \
        [--nvlabs-commit <sha>] [--out tests/data/nvlabs]

For each case it writes ``<out>/<case>.safetensors`` and ``<out>/<case>.json``.
The generated files are what the tests consume; re-running this script is only
needed to regenerate them.

Contents of ``<case>.safetensors``:
  * ``G.<state_dict key>``   every entry of ``G.state_dict()`` (float32)
  * ``z``                    [4, z_dim]  float32, from np.random.RandomState(seed).randn(1, z_dim)
  * ``c``                    [4, c_dim]  float32 one-hot labels ([4, 0] if unconditional)
  * ``ws_<setting>``         [4, num_ws, w_dim] float32, G.mapping(z, c, psi, cutoff)
  * ``float_<setting>``      [4, C, H, W] float32, G.synthesis(ws, noise_mode, force_fp32=True)
  * ``img_<setting>``        [4, H, W, C] uint8, (float.permute(0,2,3,1)*127.5+128).clamp(0,255).to(uint8)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import numpy as np

SEEDS = [0, 1, 2, 3]
CLASS_INDICES = [0, 1, 2, 4]

SETTINGS = [
    {"name": "psi1_const", "truncation_psi": 1.0, "truncation_cutoff": None, "noise_mode": "const"},
    {"name": "psi07_const", "truncation_psi": 0.7, "truncation_cutoff": None, "noise_mode": "const"},
    {"name": "psi05_cut4_none", "truncation_psi": 0.5, "truncation_cutoff": 4, "noise_mode": "none"},
]

# Constructor kwargs for training.networks.Generator. In stylegan2-ada-pytorch
# the synthesis options are passed as a ``synthesis_kwargs`` dict argument.
CASES = {
    "sg2_uncond_32": {
        "torch_seed": 1000,
        "generator_kwargs": dict(
            z_dim=64,
            c_dim=0,
            w_dim=64,
            img_resolution=32,
            img_channels=3,
            mapping_kwargs=dict(num_layers=8),
            synthesis_kwargs=dict(channel_base=1024, channel_max=64, num_fp16_res=0, conv_clamp=None),
        ),
    },
    # NB: despite the "_32" in the name this case is 16x16 (name fixed by the spec).
    "sg2_cond_16_map2": {
        "torch_seed": 2000,
        "generator_kwargs": dict(
            z_dim=64,
            c_dim=5,
            w_dim=64,
            img_resolution=16,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            synthesis_kwargs=dict(channel_base=512, channel_max=32, num_fp16_res=0, conv_clamp=256),
        ),
    },
}


def _commit_of(path: str, given: str | None) -> str | None:
    if given:
        return given
    try:
        return subprocess.check_output(["git", "-C", path, "rev-parse", "HEAD"], stderr=subprocess.DEVNULL, text=True).strip()
    except Exception:
        return None


def _randomise(G, networks, torch):
    """Give zero/constant-initialised parameters non-trivial values."""
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn_like(G.mapping.w_avg) * 0.5)
        for _name, mod in G.named_modules():
            if isinstance(mod, networks.SynthesisLayer):
                if mod.use_noise:
                    mod.noise_strength.copy_(torch.randn([]) * 0.3)
                mod.bias.copy_(torch.randn_like(mod.bias) * 0.1)
                mod.affine.bias.copy_(1 + torch.randn_like(mod.affine.bias) * 0.1)
            elif isinstance(mod, networks.ToRGBLayer):
                mod.bias.copy_(torch.randn_like(mod.bias) * 0.1)
                mod.affine.bias.copy_(1 + torch.randn_like(mod.affine.bias) * 0.1)


def make_case(name, spec, networks, torch, out_dir, commit):
    from safetensors.torch import save_file

    gk = spec["generator_kwargs"]
    torch.manual_seed(spec["torch_seed"])
    G = networks.Generator(**gk)
    G = G.eval().float().requires_grad_(False)
    _randomise(G, networks, torch)

    tensors = {}
    for k, v in G.state_dict().items():
        tensors[f"G.{k}"] = v.detach().to(torch.float32).contiguous().clone()

    z_np = np.concatenate([np.random.RandomState(s).randn(1, G.z_dim) for s in SEEDS], axis=0)
    z = torch.from_numpy(z_np).to(torch.float32)
    c = torch.zeros([len(SEEDS), G.c_dim], dtype=torch.float32)
    if G.c_dim > 0:
        for i, ci in enumerate(CLASS_INDICES):
            c[i, ci] = 1.0
    tensors["z"] = z.contiguous()
    tensors["c"] = c.contiguous()

    with torch.no_grad():
        for st in SETTINGS:
            ws = G.mapping(z, c, truncation_psi=st["truncation_psi"], truncation_cutoff=st["truncation_cutoff"])
            img = G.synthesis(ws, noise_mode=st["noise_mode"], force_fp32=True)
            u8 = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
            tensors[f"ws_{st['name']}"] = ws.to(torch.float32).contiguous()
            tensors[f"float_{st['name']}"] = img.to(torch.float32).contiguous()
            tensors[f"img_{st['name']}"] = u8.contiguous()

    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(tensors, st_path, metadata={"case": name, "source": "NVlabs/stylegan2-ada-pytorch"})

    meta = {
        "case": name,
        "source": "NVlabs/stylegan2-ada-pytorch training.networks.Generator",
        "nvlabs_commit": commit,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "torch_seed": spec["torch_seed"],
        "generator_kwargs": gk,
        "num_ws": int(G.num_ws),
        "z_dim": int(G.z_dim),
        "c_dim": int(G.c_dim),
        "w_dim": int(G.w_dim),
        "img_resolution": int(G.img_resolution),
        "img_channels": int(G.img_channels),
        "seeds": SEEDS,
        "z_source": "np.random.RandomState(seed).randn(1, z_dim) per seed, stacked, float64 -> float32",
        "class_indices": CLASS_INDICES if G.c_dim > 0 else [],
        "settings": SETTINGS,
        "synthesis_call": "G.synthesis(ws, noise_mode=..., force_fp32=True) with default fused_modconv "
        "(resolves to True: eval mode and float32)",
        "fused_modconv": True,
        "uint8_conversion": "(img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)",
        "randomised_after_init": {
            "mapping.w_avg": "randn * 0.5",
            "SynthesisLayer.noise_strength": "randn([]) * 0.3",
            "SynthesisLayer.bias, ToRGBLayer.bias": "randn * 0.1",
            "SynthesisLayer.affine.bias, ToRGBLayer.affine.bias": "1 + randn * 0.1",
        },
        "device": "cpu",
        "keys": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in tensors.items()},
    }
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=False)
        f.write("\n")
    return st_path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvlabs", required=True, help="path to a stylegan2-ada-pytorch checkout")
    ap.add_argument("--nvlabs-commit", default=None, help="commit hash of that checkout (else git rev-parse)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "nvlabs"))
    ap.add_argument("--cases", nargs="*", default=list(CASES))
    args = ap.parse_args(argv)

    sys.path.insert(0, os.path.abspath(args.nvlabs))
    import torch
    from training import networks  # NVlabs code, imported from the given path

    commit = _commit_of(args.nvlabs, args.nvlabs_commit)
    for name in args.cases:
        path = make_case(name, CASES[name], networks, torch, args.out, commit)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
