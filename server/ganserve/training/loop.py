"""The training loop: StyleGAN2 with the non-saturating logistic loss, lazy R1 on real images, an EMA
of the generator, style-mixing regularisation and adaptive DiffAugment (NVlabs `training/loss.py` and
`training_loop.py`, without path-length regularisation, which costs a second G backward per step).

A run directory holds:
- `metrics.jsonl`: one JSON object per line (see docs/training.md for the fields), appended;
- `resume.safetensors` + `resume.json`: the latest resume checkpoint;
- `samples/kimg-NNNNNN.png`: a grid of G_ema images at fixed seeds (one row per class) per checkpoint;
- `snapshots/kimg-NNNNNN.safetensors`: G_ema's weights at each checkpoint, for evaluation.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ganserve.generator.networks import Generator
from ganserve.training.augment import AdaptiveStrength, diff_augment
from ganserve.training.checkpoint import has_checkpoint, load_checkpoint, save_checkpoint
from ganserve.training.dataset import EmojiDataset
from ganserve.training.discriminator import Discriminator
from ganserve.training.options import TrainingOptions

METRICS_FILE = "metrics.jsonl"
OPTIONS_FILE = "options.json"
SAMPLE_SEEDS_PER_CLASS = 8


@dataclass
class Networks:
    G: Generator
    D: Discriminator
    G_ema: Generator
    opt_G: torch.optim.Optimizer
    opt_D: torch.optim.Optimizer

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"G": self.G, "D": self.D, "G_ema": self.G_ema}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"opt_G": self.opt_G, "opt_D": self.opt_D}


def build_networks(options: TrainingOptions, class_names: list[str]) -> Networks:
    torch.manual_seed(options.seed)
    G = Generator(options.generator_config(class_names))
    D = Discriminator(options.resolution, len(class_names), options.channel_base, options.channel_max)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    opt_G = torch.optim.Adam(G.parameters(), lr=options.lr, betas=options.betas, eps=1e-8)
    # Lazy regularisation: D takes one extra (R1) step every r1_interval, so its Adam is rescaled (NVlabs).
    ratio = options.r1_interval / (options.r1_interval + 1)
    d_betas = (options.betas[0] ** ratio, options.betas[1] ** ratio)
    opt_D = torch.optim.Adam(D.parameters(), lr=options.lr * ratio, betas=d_betas, eps=1e-8)
    return Networks(G, D, G_ema, opt_G, opt_D)


def one_hot(labels: torch.Tensor, c_dim: int) -> torch.Tensor:
    return F.one_hot(labels, c_dim).to(torch.float32)


def generate(G: Generator, z: torch.Tensor, c: torch.Tensor, style_mixing: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Training-time G: w per image, optional mixing at a random layer, random noise maps."""
    num_ws = G.synthesis.num_ws
    w = G.mapping(z, c)
    ws = w.unsqueeze(1).repeat(1, num_ws, 1)
    if style_mixing > 0:
        cutoff = int(torch.randint(1, num_ws, ()))
        mixed = torch.rand(z.shape[0]) < style_mixing
        w2 = G.mapping(torch.randn_like(z), c)
        ws[mixed, cutoff:] = w2[mixed].unsqueeze(1)
    layers = G.synthesis.noise_layers()
    noise_maps = [torch.randn(z.shape[0], 1, layer.resolution, layer.resolution) for layer in layers]
    return G.synthesis(ws, noise_maps=noise_maps), w


@dataclass
class Trainer:
    options: TrainingOptions
    dataset: EmojiDataset
    run_dir: Path
    log: Callable[[dict], None] = print
    nets: Networks = field(init=False)
    reals: torch.Tensor = field(init=False)
    labels: torch.Tensor = field(init=False)
    augment: AdaptiveStrength = field(init=False)
    nimg: int = 0
    step: int = 0
    train_seconds: float = 0.0
    stop_requested: bool = False  # set by a signal handler: the run ends after this step, with a checkpoint

    def __post_init__(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        class_names = list(self.dataset.class_names)
        self.c_dim = len(class_names)
        self.nets = build_networks(self.options, class_names)
        images = self.dataset.at_resolution(self.options.resolution)
        self.reals = torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1
        self.labels = torch.from_numpy(self.dataset.labels)
        self.augment = AdaptiveStrength(self.options.augment_target, self.options.augment_speed_kimg)
        if has_checkpoint(self.run_dir):
            saved = json.loads((self.run_dir / OPTIONS_FILE).read_text())
            if saved != json.loads(self.options.model_dump_json()):
                raise ValueError(f"{self.run_dir} was trained with other options; start a new run directory or pass the same options")
            progress = load_checkpoint(self.run_dir, self.nets.modules(), self.nets.optimizers())
            self.nimg, self.step, self.train_seconds = progress["nimg"], progress["step"], progress["train_seconds"]
            self.augment.p = progress["augment_p"]
        else:
            (self.run_dir / OPTIONS_FILE).write_text(self.options.model_dump_json(indent=1) + "\n")

    @property
    def kimg(self) -> float:
        return self.nimg / 1000

    def real_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        idx = torch.randint(0, len(self.labels), (self.options.batch,))
        x = self.reals[idx]
        if self.options.xflip:
            flip = torch.rand(len(idx)) < 0.5
            x = torch.where(flip.reshape(-1, 1, 1, 1), x.flip(3), x)
        return x, one_hot(self.labels[idx], self.c_dim)

    def fake_conditioning(self) -> tuple[torch.Tensor, torch.Tensor]:
        """z and labels drawn as the data's labels are distributed (NVlabs samples them from the dataset)."""
        labels = self.labels[torch.randint(0, len(self.labels), (self.options.batch,))]
        return torch.randn(self.options.batch, self.options.z_dim), one_hot(labels, self.c_dim)

    def train_step(self) -> dict[str, float]:
        o, nets = self.options, self.nets
        p = self.augment.p
        # G: non-saturating logistic loss.
        nets.G.requires_grad_(True)
        nets.D.requires_grad_(False)
        z, c = self.fake_conditioning()
        fake, w = generate(nets.G, z, c, o.style_mixing)
        loss_G = F.softplus(-nets.D(diff_augment(fake, p), c)).mean()
        nets.opt_G.zero_grad(set_to_none=True)
        loss_G.backward()
        nets.opt_G.step()
        with torch.no_grad():  # the truncation centre, tracked as NVlabs' mapping does (beta 0.995)
            nets.G.mapping.w_avg.copy_(w.detach().mean(0).lerp(nets.G.mapping.w_avg, 0.995))

        # D: fake and real logistic loss, plus lazy R1 on the real images every r1_interval steps.
        nets.G.requires_grad_(False)
        nets.D.requires_grad_(True)
        z, c = self.fake_conditioning()
        with torch.no_grad():
            fake, _ = generate(nets.G, z, c, o.style_mixing)
        real, real_c = self.real_batch()
        do_r1 = self.step % o.r1_interval == 0
        real.requires_grad_(do_r1)
        fake_logits = nets.D(diff_augment(fake, p), c)
        real_logits = nets.D(diff_augment(real, p), real_c)
        loss_D = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        r1 = torch.zeros(())
        if do_r1:
            (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            r1 = grad.square().sum(dim=[1, 2, 3]).mean()
            loss_D = loss_D + r1 * (o.r1_gamma / 2) * o.r1_interval
        nets.opt_D.zero_grad(set_to_none=True)
        loss_D.backward()
        nets.opt_D.step()
        self.augment.observe(real_logits.detach())
        self.augment.update(o.batch)

        self.update_ema()
        self.nimg += o.batch
        self.step += 1
        out = {
            "loss_G": loss_G.item(),
            "loss_D": loss_D.item(),
            "D_real": real_logits.detach().mean().item(),
            "D_fake": fake_logits.detach().mean().item(),
        }
        if do_r1:
            out["r1"] = r1.item()
        return out

    def update_ema(self) -> None:
        o = self.options
        ema_nimg = min(o.ema_kimg * 1000, self.nimg * o.ema_rampup) if o.ema_rampup else o.ema_kimg * 1000
        beta = 0.5 ** (o.batch / max(ema_nimg, 1e-8))
        with torch.no_grad():
            for p_ema, p in zip(self.nets.G_ema.parameters(), self.nets.G.parameters(), strict=True):
                p_ema.copy_(p.lerp(p_ema, beta))
            for b_ema, b in zip(self.nets.G_ema.buffers(), self.nets.G.buffers(), strict=True):
                b_ema.copy_(b)

    def checkpoint(self) -> dict:
        tag = f"kimg-{int(round(self.kimg)):06d}"
        progress = {"nimg": self.nimg, "step": self.step, "train_seconds": self.train_seconds, "augment_p": self.augment.p}
        save_checkpoint(self.run_dir, self.nets.modules(), self.nets.optimizers(), progress)
        snapshots = self.run_dir / "snapshots"
        snapshots.mkdir(exist_ok=True)
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in self.nets.G_ema.state_dict().items()}, snapshots / f"{tag}.safetensors")
        samples = self.run_dir / "samples"
        samples.mkdir(exist_ok=True)
        sample_grid(self.nets.G_ema, self.c_dim).save(samples / f"{tag}.png")
        return {
            "event": "checkpoint",
            "kimg": round(self.kimg, 3),
            "snapshot": f"snapshots/{tag}.safetensors",
            "samples": f"samples/{tag}.png",
        }

    def run(self, total_kimg: float, progress: Callable[[float, dict], None] | None = None) -> None:
        """Train until total_kimg (counted across resumes) or a stop request, a metrics line per tick, a
        checkpoint every checkpoint_minutes and at the end."""
        o = self.options
        metrics = (self.run_dir / METRICS_FILE).open("a")

        def emit(record: dict) -> None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()  # the playground's training page reads the log while the run goes on
            self.log(record)

        emit({"event": "start", "kimg": round(self.kimg, 3), "time": time.time(), "threads": torch.get_num_threads()})
        tick_start, tick_nimg = time.perf_counter(), self.nimg
        last_checkpoint = time.perf_counter()
        sums: dict[str, list[float]] = {}
        try:
            while self.kimg < total_kimg and not self.stop_requested:
                t0 = time.perf_counter()
                for key, value in self.train_step().items():
                    sums.setdefault(key, []).append(value)
                self.train_seconds += time.perf_counter() - t0
                if progress:
                    progress(self.kimg, {k: v[-1] for k, v in sums.items()})
                if self.nimg - tick_nimg >= o.tick_kimg * 1000 or self.kimg >= total_kimg:
                    elapsed = time.perf_counter() - tick_start
                    record = {"event": "tick", "kimg": round(self.kimg, 3), **{k: round(float(np.mean(v)), 5) for k, v in sums.items()}}
                    record |= {
                        "augment_p": round(self.augment.p, 4),
                        "rt": round(self.augment.rt, 4),
                        "images_per_s": round((self.nimg - tick_nimg) / elapsed, 2),
                        "train_hours": round(self.train_seconds / 3600, 4),
                    }
                    emit(record)
                    tick_start, tick_nimg, sums = time.perf_counter(), self.nimg, {}
                    if time.perf_counter() - last_checkpoint >= o.checkpoint_minutes * 60:
                        emit(self.checkpoint())
                        last_checkpoint = time.perf_counter()
            emit(self.checkpoint())
        finally:
            metrics.close()


def sample_grid(G: Generator, c_dim: int, per_class: int = SAMPLE_SEEDS_PER_CLASS, psi: float = 1.0) -> Image.Image:
    """One row per class, the same seeds (0..per_class-1) in every row; const noise, as served."""
    z = torch.from_numpy(np.stack([np.random.RandomState(seed).randn(G.config.z_dim) for seed in range(per_class)])).float()
    rows = []
    with torch.no_grad():
        for label in range(max(c_dim, 1)):
            c = one_hot(torch.full((per_class,), label), c_dim) if c_dim else None
            w = G.mapping(z, c)
            w = G.mapping.w_avg + (w - G.mapping.w_avg) * psi
            img = G.synthesis(w.unsqueeze(1).repeat(1, G.synthesis.num_ws, 1))
            rows.append(((img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255)).to(torch.uint8).numpy())
    grid = np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)
    return Image.fromarray(grid)


def images_per_second(trainer: Trainer, steps: int = 6) -> float:
    """The training step's speed (after one warm-up step), for reporting against NVlabs' figures."""
    trainer.train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step()
    return steps * trainer.options.batch / (time.perf_counter() - t0)
