#!/usr/bin/env python3
"""Full-size networks, end to end against NVlabs' own code: build a paper-sized generator with their
code (random weights), pickle a snapshot as their training loop does, make gen_images.py's images on
the CPU, then `ganserve import` + compile it and compare our engines' images and speed.

The test suite checks parity on small networks; this shows it holds at full size, and what a
StyleGAN3 costs on a CPU. It needs NVlabs checkouts and a Python that runs their code (torch,
numpy, scipy, requests, setuptools<70); nothing of theirs, and no pickle, lands in this repository.

    .venv/bin/python benchmarks/nvlabs_fullsize.py --nvlabs-python /tmp/nvref/bin/python \\
        --stylegan2 /tmp/nv/stylegan2-ada-pytorch --stylegan3 /tmp/nv/stylegan3 [--networks sg2-256,sg3t-256]

Writes benchmarks/results/nvlabs-fullsize-<timestamp>.json, with the machine it ran on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.compile import compile_model
from ganserve.engines import load_engine
from ganserve.importer import import_pickle
from ganserve.repository import Target
from ganserve.settings import Settings
from ganserve.triton.config import BatchingOptions
from ganserve_bench.machine import describe_machine
from ganserve_bench.report import RESULTS

SEEDS, PSI, TRANSLATE, ROTATE = [0, 1, 2], 0.7, (0.2, -0.1), 20.0

# NVlabs' own training configurations at 256x256 (stylegan2-ada --cfg=paper256, stylegan3 -T and -R).
_COMMON = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 256, "img_channels": 3}
_SG3 = {**_COMMON, "mapping_kwargs": {"num_layers": 2}, "conv_clamp": 256, "num_fp16_res": 4}
NETWORKS = {
    "sg2-256": (
        "stylegan2",
        "training.networks",
        {
            **_COMMON,
            "mapping_kwargs": {"num_layers": 8},
            "synthesis_kwargs": {"channel_base": 16384, "channel_max": 512, "num_fp16_res": 4, "conv_clamp": 256},
        },
    ),
    "sg3t-256": ("stylegan3", "training.networks_stylegan3", {**_SG3, "channel_base": 32768, "channel_max": 512}),
    "sg3r-256": (
        "stylegan3",
        "training.networks_stylegan3",
        {**_SG3, "channel_base": 65536, "channel_max": 1024, "conv_kernel": 1, "use_radial_filters": True},
    ),
}

# Runs in NVlabs' environment (argv: checkout, module, kwargs JSON, out dir, settings JSON): their
# Generator, randomised so every parameter matters, pickled as training_loop.py does, and
# gen_images.py's images (one seed per call, fp32 on the CPU).
NVLABS_SIDE = """
import copy, importlib, json, pickle, sys, time
import numpy as np, torch
checkout, module, kwargs, out, settings = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
sys.path.insert(0, checkout)
net = importlib.import_module(module)
torch.manual_seed(0)
G = net.Generator(**kwargs).eval().requires_grad_(False)
with torch.no_grad():
    G.mapping.w_avg.copy_(torch.randn_like(G.mapping.w_avg) * 0.5)
    for name, p in G.named_parameters():
        if name.endswith("noise_strength"): p.copy_(torch.randn([]) * 0.3)
        elif name.endswith("affine.bias"): p.add_(torch.randn_like(p) * 0.1)
        elif name.endswith("bias"): p.copy_(torch.randn_like(p) * 0.1)
        elif name == "synthesis.input.affine.weight": p.copy_(torch.randn_like(p) * 0.3)
    for name, b in G.named_buffers():
        if name.endswith("magnitude_ema"): b.uniform_(0.5, 2)
with open(out + "/snapshot.pkl", "wb") as f:
    pickle.dump({"G_ema": copy.deepcopy(G).eval().requires_grad_(False).cpu()}, f)
def make_transform(translate, angle):
    m = np.eye(3); s = np.sin(angle / 360.0 * np.pi * 2); c = np.cos(angle / 360.0 * np.pi * 2)
    m[0][0] = c; m[0][1] = s; m[0][2] = translate[0]; m[1][0] = -s; m[1][1] = c; m[1][2] = translate[1]
    return m
images, seconds = [], []
for seed in settings["seeds"]:
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim))
    extra = {}
    if hasattr(G.synthesis, "input"):
        G.synthesis.input.transform.copy_(torch.from_numpy(np.linalg.inv(make_transform(settings["translate"], settings["rotate"]))))
    else:
        extra["force_fp32"] = True
    start = time.perf_counter()
    img = G(z, torch.zeros([1, G.c_dim]), truncation_psi=settings["psi"], noise_mode="const", **extra)
    seconds.append(time.perf_counter() - start)
    images.append((img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)[0].numpy())
np.save(out + "/images.npy", np.stack(images), allow_pickle=False)
summary = {"seconds_per_image": seconds, "parameters": sum(p.numel() for p in G.parameters()), "torch": torch.__version__}
json.dump({**summary, "threads": torch.get_num_threads()}, open(out + "/nvlabs.json", "w"))
"""


def parity(ours: np.ndarray, theirs: np.ndarray) -> dict:
    diff = np.abs(ours.astype(int) - theirs.astype(int))
    return {"max_diff_255": int(diff.max()), "within_1": float((diff <= 1).mean()), "exact": float((diff == 0).mean())}


def our_side(artifact: Artifact, repository: Path, theirs: np.ndarray, kind: str) -> dict:
    cfg = artifact.config
    engine = load_engine(artifact, Settings(engine=kind, model_repository=repository))
    z = latents.seeds_to_z(SEEDS, cfg.z_dim)
    ws = latents.truncate(
        latents.broadcast_ws(engine.map(z, np.zeros((len(SEEDS), 0), np.float32)), cfg.num_ws), artifact.load_w_avg(), PSI
    )
    if cfg.stylegan3 is not None:
        view = np.repeat(latents.input_transform(TRANSLATE, ROTATE)[None], len(SEEDS), axis=0)
        synthesize = engine.synthesize_transformed
    else:
        view = np.ones(len(SEEDS), np.float32)  # noise const
        synthesize = engine.synthesize
    ours = synthesize(ws, view)
    single = []
    for i in range(len(SEEDS)):
        start = time.perf_counter()
        synthesize(ws[i : i + 1], view[i : i + 1])
        single.append(time.perf_counter() - start)
    start = time.perf_counter()
    synthesize(ws, view)
    batch = time.perf_counter() - start
    return {"parity": parity(ours, theirs), "seconds_per_image": single, f"seconds_batch_of_{len(SEEDS)}": batch}


def run_network(name: str, args, workdir: Path) -> dict:
    family, module, kwargs = NETWORKS[name]
    checkout = args.stylegan3 if family == "stylegan3" else args.stylegan2
    script = workdir / "nvlabs_side.py"
    script.write_text(NVLABS_SIDE)
    settings = {"seeds": SEEDS, "psi": PSI, "translate": TRANSLATE, "rotate": ROTATE}
    command = [args.nvlabs_python, str(script), checkout, module, json.dumps(kwargs), str(workdir), json.dumps(settings)]
    subprocess.run(command, check=True)
    nvlabs = json.loads((workdir / "nvlabs.json").read_text())
    theirs = np.load(workdir / "images.npy", allow_pickle=False)

    start = time.perf_counter()
    artifact = import_pickle(workdir / "snapshot.pkl", name, workdir / "models").artifact
    import_s = time.perf_counter() - start
    start = time.perf_counter()
    compile_model(artifact, workdir / "repo", [Target.onnx], BatchingOptions())
    compile_s = time.perf_counter() - start
    result = {
        "nvlabs_generator": {"class": f"{module}.Generator", "kwargs": kwargs},
        "nvlabs_eager_cpu": nvlabs,
        "import_s": import_s,
        "compile_s": compile_s,
    }
    for kind in ("onnxruntime", "torch"):
        result[kind] = our_side(artifact, workdir / "repo", theirs, kind)
        print(name, kind, result[kind], flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nvlabs-python", required=True)
    ap.add_argument("--stylegan2", help="an NVlabs/stylegan2-ada-pytorch checkout")
    ap.add_argument("--stylegan3", help="an NVlabs/stylegan3 checkout")
    ap.add_argument("--networks", default="sg2-256,sg3t-256")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    result = {
        "command": " ".join(sys.argv),
        "what": f"gen_images.py on the CPU (NVlabs eager, fp32) vs ganserve import + our engines; seeds {SEEDS}, psi {PSI}, "
        f"StyleGAN3 translate {TRANSLATE} rotate {ROTATE}; parity in uint8 units",
        "machine": describe_machine(),
        "networks": {},
    }
    for name in args.networks.split(","):
        with tempfile.TemporaryDirectory(prefix=f"ganserve-{name}-") as tmp:
            result["networks"][name] = run_network(name, args, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"nvlabs-fullsize-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
