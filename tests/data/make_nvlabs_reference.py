#!/usr/bin/env python3
"""Generate small parity-reference data from the official NVlabs
stylegan2-ada-pytorch and stylegan3 implementations.

This script contains none of NVlabs' code: it imports their package from a
checkout given on the command line and only records tensors computed with it.
Nothing is pickled; outputs are safetensors + JSON.

Usage (in an environment with torch, numpy, safetensors and setuptools<70;
stylegan3 also needs scipy for its filter design, and click and pillow to
import gen_images.make_transform):

    python tests/data/make_nvlabs_reference.py \
        --nvlabs /path/to/stylegan2-ada-pytorch \
        [--nvlabs-commit <sha>] [--out tests/data/nvlabs]
    python tests/data/make_nvlabs_reference.py --nvlabs /path/to/stylegan3

The checkout decides the cases made by default: the ``sg3*`` cases for a
stylegan3 checkout (it has training/networks_stylegan3.py), the others otherwise.

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

StyleGAN3 cases add, per setting, ``transform_<setting>`` [3, 3] float32: the
value gen_images.py copies into G.synthesis.input.transform for the setting's
translate/rotate (listed in the JSON). Their images follow gen_images.py on the
CPU: one seed at a time, G(z, c, truncation_psi, truncation_cutoff, noise_mode='const').
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


# StyleGAN3 (training.networks_stylegan3.Generator): config T and config R (conv_kernel 1, radial
# filters, channels doubled), small enough for fast tests; T at 32 has a 4x upsampling layer.
SG3_SETTINGS = [
    {"name": "psi1", "truncation_psi": 1.0, "truncation_cutoff": None, "translate": [0.0, 0.0], "rotate": 0.0},
    {"name": "psi07_shift", "truncation_psi": 0.7, "truncation_cutoff": None, "translate": [0.1, -0.2], "rotate": 0.0},
    {"name": "psi05_cut4_rot30", "truncation_psi": 0.5, "truncation_cutoff": 4, "translate": [0.25, 0.1], "rotate": 30.0},
]

SG3_CASES = {
    "sg3t_uncond_32": {
        "torch_seed": 3000,
        "generator_kwargs": dict(
            z_dim=32,
            c_dim=0,
            w_dim=32,
            img_resolution=32,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            channel_base=512,
            channel_max=24,
            num_fp16_res=0,
            conv_clamp=256,
        ),
    },
    "sg3r_cond_16": {
        "torch_seed": 4000,
        "generator_kwargs": dict(
            z_dim=32,
            c_dim=5,
            w_dim=32,
            img_resolution=16,
            img_channels=3,
            mapping_kwargs=dict(num_layers=2),
            channel_base=1024,
            channel_max=32,
            num_fp16_res=0,
            conv_clamp=1.5,  # low enough that the clamp acts (NVlabs' default 256 never does here)
            conv_kernel=1,
            use_radial_filters=True,
        ),
    },
}


# NVlabs' designed filters are symmetric, so the cases above cannot tell a flipped filter from an
# unflipped one: these call torch_utils.ops.filtered_lrelu._filtered_lrelu_ref directly with random
# (asymmetric) filters, uneven padding and cropping. Keys: up, down, padding [x0, x1, y0, y1],
# up-filter taps (1-D), down-filter shape (1-D separable or 2-D), gain, slope, clamp.
FILTERED_LRELU_CASE = "sg3_filtered_lrelu"
FILTERED_LRELU_OPS = [
    {"up": 2, "down": 2, "padding": [9, 8, 7, 10], "fu": [12], "fd": [12], "gain": 2**0.5, "slope": 0.2, "clamp": None},
    {"up": 4, "down": 2, "padding": [-6, -9, -3, -7], "fu": [24], "fd": [12], "gain": 2**0.5, "slope": 0.2, "clamp": 0.5},
    {"up": 2, "down": 2, "padding": [11, 10, 12, 9], "fu": [12], "fd": [12, 12], "gain": 2**0.5, "slope": 0.2, "clamp": 1.0},
    {"up": 2, "down": 1, "padding": [3, 2, 1, 4], "fu": [6], "fd": [5, 7], "gain": 2**0.5, "slope": 0.2, "clamp": None},
    {"up": 1, "down": 1, "padding": [0, 0, 0, 0], "fu": None, "fd": None, "gain": 1.0, "slope": 1.0, "clamp": 0.5},
]


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


def _latents(G, torch):
    """(z [seeds, z_dim] float64 exactly as gen_images.py draws it, one-hot c [seeds, c_dim] float32)."""
    z = np.concatenate([np.random.RandomState(seed).randn(1, G.z_dim) for seed in SEEDS], axis=0)
    c = torch.zeros([len(SEEDS), G.c_dim], dtype=torch.float32)
    if G.c_dim > 0:
        for row, idx in enumerate(CLASS_INDICES):
            c[row, idx] = 1.0
    return z, c


def _write_case(out_dir, name, tensors, source, meta) -> str:
    """<name>.safetensors (the tensors) and <name>.json (meta); returns the safetensors path."""
    from safetensors.torch import save_file

    os.makedirs(out_dir, exist_ok=True)
    st_path = os.path.join(out_dir, f"{name}.safetensors")
    save_file(tensors, st_path, metadata={"case": name, "source": source})
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    return st_path


def make_case(name, spec, networks, torch, out_dir, commit):
    gk = spec["generator_kwargs"]
    torch.manual_seed(spec["torch_seed"])
    G = networks.Generator(**gk)
    G = G.eval().float().requires_grad_(False)
    _randomise(G, networks, torch)

    tensors = {}
    for k, v in G.state_dict().items():
        tensors[f"G.{k}"] = v.detach().to(torch.float32).contiguous().clone()

    z_np, c = _latents(G, torch)
    z = torch.from_numpy(z_np).to(torch.float32)
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
    return _write_case(out_dir, name, tensors, "NVlabs/stylegan2-ada-pytorch", meta)


def _randomise_sg3(G, networks, torch):
    """Give zero/one-initialised tensors values that matter: w_avg, every bias, magnitude_ema, and the
    input affine (weight initialised to zero) so the learned rotation/translation varies per w.
    toRGB's weight is scaled up so the images use more of [-1, 1] (more levels for the uint8 checks)."""
    with torch.no_grad():
        G.mapping.w_avg.copy_(torch.randn_like(G.mapping.w_avg) * 0.5)
        for _name, mod in G.mapping.named_modules():
            if isinstance(mod, networks.FullyConnectedLayer):
                mod.bias.copy_(torch.randn_like(mod.bias) * 0.1 / mod.bias_gain)
        inp = G.synthesis.input
        inp.affine.weight.copy_(torch.randn_like(inp.affine.weight) * 0.3)
        inp.affine.bias.copy_(inp.affine.bias + torch.randn_like(inp.affine.bias) * 0.1)
        for name in G.synthesis.layer_names:
            layer = getattr(G.synthesis, name)
            layer.magnitude_ema.copy_(torch.empty([]).uniform_(0.5, 2.0))
            layer.bias.copy_(torch.randn_like(layer.bias) * 0.1)
            layer.affine.bias.copy_(1 + torch.randn_like(layer.affine.bias) * 0.1)
        getattr(G.synthesis, G.synthesis.layer_names[-1]).weight.mul_(4)


def make_sg3_case(name, spec, networks, make_transform, torch, out_dir, commit):
    """gen_images.py on the CPU, one seed at a time, for each setting."""
    gk = spec["generator_kwargs"]
    torch.manual_seed(spec["torch_seed"])
    G = networks.Generator(**gk).eval().requires_grad_(False)
    _randomise_sg3(G, networks, torch)
    # Saved before any setting writes its view into synthesis.input.transform (identity here).
    tensors = {f"G.{k}": v.detach().to(torch.float32).contiguous().clone() for k, v in G.state_dict().items()}

    z, c = _latents(G, torch)
    tensors["z"] = torch.from_numpy(z).to(torch.float32)
    tensors["c"] = c

    with torch.no_grad():
        for st in SG3_SETTINGS:
            G.synthesis.input.transform.copy_(torch.from_numpy(np.linalg.inv(make_transform(st["translate"], st["rotate"]))))
            psi, cutoff = st["truncation_psi"], st["truncation_cutoff"]
            ws, imgs = [], []
            for row in range(len(SEEDS)):
                z_row, c_row = torch.from_numpy(z[row : row + 1]), c[row : row + 1]
                ws.append(G.mapping(z_row, c_row, truncation_psi=psi, truncation_cutoff=cutoff))
                imgs.append(G(z_row, c_row, truncation_psi=psi, truncation_cutoff=cutoff, noise_mode="const"))
            img = torch.cat(imgs)
            tensors[f"transform_{st['name']}"] = G.synthesis.input.transform.clone()
            tensors[f"ws_{st['name']}"] = torch.cat(ws).contiguous()
            tensors[f"float_{st['name']}"] = img.contiguous()
            tensors[f"img_{st['name']}"] = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).contiguous()

    meta = {
        "case": name,
        "source": "NVlabs/stylegan3 training.networks_stylegan3.Generator",
        "nvlabs_commit": commit,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "torch_seed": spec["torch_seed"],
        "generator_kwargs": gk,
        "num_ws": int(G.num_ws),
        "layer_names": list(G.synthesis.layer_names),
        "seeds": SEEDS,
        "z_source": "np.random.RandomState(seed).randn(1, z_dim) per seed, stacked, float64 -> float32",
        "class_indices": CLASS_INDICES if G.c_dim > 0 else [],
        "settings": SG3_SETTINGS,
        "generator_call": "per seed: G.synthesis.input.transform.copy_(inv(gen_images.make_transform(translate, rotate))); "
        "G(z, c, truncation_psi, truncation_cutoff, noise_mode='const') on the CPU (reference ops, float32)",
        "uint8_conversion": "(img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)",
        "randomised_after_init": {
            "mapping.w_avg": "randn * 0.5",
            "mapping.*.bias": "randn * 0.1 / bias_gain",
            "synthesis.input.affine.weight": "randn * 0.3",
            "synthesis.input.affine.bias": "(1, 0, 0, 0) + randn * 0.1",
            "SynthesisLayer.magnitude_ema": "uniform(0.5, 2)",
            "SynthesisLayer.bias": "randn * 0.1",
            "SynthesisLayer.affine.bias": "1 + randn * 0.1",
            "toRGB weight": "randn * 4",
        },
        "device": "cpu",
        "keys": {k: {"shape": list(v.shape), "dtype": str(v.dtype).replace("torch.", "")} for k, v in tensors.items()},
    }
    return _write_case(out_dir, name, tensors, "NVlabs/stylegan3", meta)


def make_filtered_lrelu_case(filtered_lrelu, torch, out_dir, commit):
    torch.manual_seed(5000)
    tensors = {}
    for i, op in enumerate(FILTERED_LRELU_OPS):
        x, b = torch.randn([1, 2, 14, 14]), torch.randn([2])
        fu = None if op["fu"] is None else torch.rand(op["fu"])
        fd = None if op["fd"] is None else torch.rand(op["fd"])
        y = filtered_lrelu._filtered_lrelu_ref(
            x, fu=fu, fd=fd, b=b, up=op["up"], down=op["down"], padding=op["padding"], gain=op["gain"], slope=op["slope"], clamp=op["clamp"]
        )
        tensors.update({f"{i}_x": x, f"{i}_b": b, f"{i}_y": y.contiguous()})
        tensors.update({f"{i}_{k}": f for k, f in (("fu", fu), ("fd", fd)) if f is not None})
    meta = {
        "case": FILTERED_LRELU_CASE,
        "source": "NVlabs/stylegan3 torch_utils.ops.filtered_lrelu._filtered_lrelu_ref (flip_filter=False)",
        "nvlabs_commit": commit,
        "torch_version": torch.__version__,
        "ops": FILTERED_LRELU_OPS,
        "inputs": "per op i: x [1, 2, 14, 14] randn, b [2] randn, fu/fd rand (absent: None); output i_y",
    }
    return _write_case(out_dir, FILTERED_LRELU_CASE, tensors, "NVlabs/stylegan3", meta)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvlabs", required=True, help="path to a stylegan2-ada-pytorch or stylegan3 checkout")
    ap.add_argument("--nvlabs-commit", default=None, help="commit hash of that checkout (else git rev-parse)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "nvlabs"))
    ap.add_argument("--cases", nargs="*", default=None, help="default: every case for the given checkout")
    args = ap.parse_args(argv)

    sys.path.insert(0, os.path.abspath(args.nvlabs))
    import torch

    commit = _commit_of(args.nvlabs, args.nvlabs_commit)
    if os.path.exists(os.path.join(args.nvlabs, "training", "networks_stylegan3.py")):
        from gen_images import make_transform  # NVlabs code, imported from the given path
        from torch_utils.ops import filtered_lrelu
        from training import networks_stylegan3

        os.makedirs(args.out, exist_ok=True)
        for name in args.cases or [*SG3_CASES, FILTERED_LRELU_CASE]:
            if name == FILTERED_LRELU_CASE:
                path = make_filtered_lrelu_case(filtered_lrelu, torch, args.out, commit)
            else:
                path = make_sg3_case(name, SG3_CASES[name], networks_stylegan3, make_transform, torch, args.out, commit)
            print(f"wrote {path} ({os.path.getsize(path)} bytes)")
        return

    from training import networks  # NVlabs code, imported from the given path

    for name in args.cases or list(CASES):
        path = make_case(name, CASES[name], networks, torch, args.out, commit)
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
