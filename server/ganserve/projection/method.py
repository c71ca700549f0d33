"""Image -> latent projection: optimise ws so that the model renders a target image.

The schedule is NVlabs' (stylegan2-ada-pytorch `projector.py`): start from w_avg estimated from many z
samples, Adam with betas (0.9, 0.999) and an initial learning rate of 0.1, ramped up over the first 5%
of the steps and down along a cosine over the last 25%, and Gaussian noise added to w early on
(w_std * 0.05 * max(0, 1 - t / 0.75)^2, t = step / steps).

One deliberate difference: the server keeps only ws and renders them with the model's stored
constant noise buffers (noise mode "const"), so only ws are optimised, every image is synthesised with
const noise, and NVlabs' noise-buffer optimisation and its regulariser do not apply. The PSNR
reported is of exactly what the server renders from the returned ws. The loss replaces VGG16/LPIPS
(not downloadable here) with the model's own discriminator features, MS-SSIM and pixel L2
(`features.py`); docs/projection.md has the measured comparison behind the weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from ganserve.artifacts import Artifact
from ganserve.generator.export import load_generator
from ganserve.generator.networks import to_uint8_nhwc
from ganserve.projection.features import DiscriminatorFeatures, LossWeights, ReconstructionLoss, load_discriminator, psnr

W_AVG_SAMPLES = 10_000  # z samples behind each w_avg / w_std estimate (NVlabs: 10000)
INITIAL_LEARNING_RATE = 0.1
LR_RAMPUP = 0.05  # fraction of the steps
LR_RAMPDOWN = 0.25
INITIAL_NOISE_FACTOR = 0.05
NOISE_RAMP = 0.75
ADAM_BETAS = (0.9, 0.999)
MAX_STEPS = 10_000


class ProjectionCancelled(Exception):
    """on_progress returned False; `step` is the last step done."""

    def __init__(self, step: int | None = None):
        super().__init__("projection cancelled" + ("" if step is None else f" after step {step}"))
        self.step = step


@dataclass(frozen=True)
class ProjectionOptions:
    steps: int = 200
    space: Literal["w", "w+"] = "w"  # "w": one w broadcast to every layer; "w+": one w per layer
    seed: int = 0  # the projection's own randomness (the w_avg estimate, the noise on w)
    # Conditional models: start from this class's average w; None: from the average over all classes
    # (each class equally weighted). Must be None for an unconditional model.
    class_index: int | None = None
    preview_every: int = 25  # a reconstruction in the progress every N steps and at the last (0: never)

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"steps must be in 1..{MAX_STEPS}, got {self.steps}")
        if self.space not in ("w", "w+"):
            raise ValueError(f"space must be 'w' or 'w+', got {self.space!r}")
        if self.preview_every < 0:
            raise ValueError(f"preview_every must be >= 0, got {self.preview_every}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")

    def previews_at(self, step: int) -> bool:
        """Whether progress after `step` (1-based) carries a preview."""
        return self.preview_every > 0 and (step % self.preview_every == 0 or step == self.steps)


@dataclass
class ProjectionProgress:
    step: int  # steps done, 1..steps
    steps: int
    loss: float  # the step's optimisation loss (on the noisy w it optimised)
    psnr: float  # dB: the render of the ws after this step (const noise) against the target
    preview: np.ndarray | None  # uint8 [H, W, 3], that render, on preview steps and the last step


@dataclass
class ProjectionResult:
    ws: np.ndarray  # float32 [num_ws, w_dim]: what the server saves as the latent
    w: np.ndarray | None  # float32 [w_dim] when space == "w"
    loss: float  # the loss of the returned ws (no noise)
    psnr: float  # dB: the server's render of ws (const noise) against the target
    steps: int
    seconds: float


def learning_rate(step: int, steps: int) -> float:
    """NVlabs' schedule at step (0-based) of steps: a linear ramp-up, then a cosine ramp-down."""
    t = step / steps
    ramp = min(1.0, (1.0 - t) / LR_RAMPDOWN)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp *= min(1.0, t / LR_RAMPUP)
    return INITIAL_LEARNING_RATE * ramp


def w_noise_factor(step: int, steps: int) -> float:
    """The noise added to w at a step, as a fraction of w_std."""
    t = step / steps
    return INITIAL_NOISE_FACTOR * max(0.0, 1.0 - t / NOISE_RAMP) ** 2


class Projector:
    """One model's projector. Not thread-safe; one projection at a time."""

    def __init__(
        self,
        artifact: Artifact,
        device: str = "cpu",
        threads: int = 0,
        *,
        loss_weights: LossWeights | None = None,
        use_discriminator: bool = True,
    ):
        """threads > 0 sets torch's (process-wide) CPU threads. The discriminator's features are used
        when the model directory keeps one (and use_discriminator); loss_weights: LossWeights()."""
        if threads > 0:
            torch.set_num_threads(threads)
        self.artifact = artifact
        self.config = artifact.config
        if self.config.img_channels != 3:
            raise ValueError(f"projection takes RGB models; {self.config.name} has {self.config.img_channels} channels")
        self.device = torch.device(device)
        self.G = load_generator(artifact).to(self.device)
        D = load_discriminator(artifact) if use_discriminator else None
        self.features = DiscriminatorFeatures(D).to(self.device) if D is not None else None
        self.loss_weights = loss_weights or LossWeights()
        self._w_stats: dict[tuple[int, int | None], tuple[torch.Tensor, float]] = {}

    @property
    def has_discriminator(self) -> bool:
        return self.features is not None

    def w_stats(self, seed: int, class_index: int | None) -> tuple[torch.Tensor, float]:
        """(w_avg [w_dim], w_std) from W_AVG_SAMPLES z drawn with RandomState(seed): w_std is the RMS
        distance of w from w_avg (NVlabs). class_index None on a conditional model: the z are spread
        evenly over the classes."""
        cfg = self.config
        if class_index is not None and not 0 <= class_index < cfg.c_dim:
            raise ValueError(f"class_index {class_index} is out of range for {cfg.name} ({cfg.c_dim} classes)")
        key = (seed, class_index)
        if key not in self._w_stats:
            z = torch.from_numpy(np.random.RandomState(seed).randn(W_AVG_SAMPLES, cfg.z_dim).astype(np.float32))
            c = None
            if cfg.c_dim:
                labels = torch.arange(W_AVG_SAMPLES) % cfg.c_dim if class_index is None else torch.full([W_AVG_SAMPLES], class_index)
                c = F.one_hot(labels, cfg.c_dim).to(torch.float32)
            with torch.no_grad():
                chunks = [
                    self.G.mapping(zc.to(self.device), None if c is None else c[i : i + len(zc)].to(self.device))
                    for i, zc in zip(range(0, W_AVG_SAMPLES, 2000), z.split(2000), strict=True)
                ]
            w = torch.cat(chunks).to(torch.float64)
            w_avg = w.mean(dim=0)
            w_std = float((w - w_avg).square().sum(dim=1).mean().sqrt())
            self._w_stats[key] = (w_avg.to(torch.float32), w_std)
        return self._w_stats[key]

    def synthesize(self, ws: torch.Tensor) -> torch.Tensor:
        """ws [N, num_ws, w_dim] -> NCHW float, as the server renders a saved latent: StyleGAN2 with the
        stored noise buffers (const), StyleGAN3 with the identity view."""
        if self.config.architecture == "stylegan3":
            return self.G.synthesis(ws, torch.eye(3, device=ws.device).expand(ws.shape[0], 3, 3))
        return self.G.synthesis(ws)  # noise_gain None: each layer's noise_const, NVlabs' "const"

    def project(
        self,
        target: np.ndarray,
        options: ProjectionOptions,
        on_progress: Callable[[ProjectionProgress], bool | None] | None = None,
    ) -> ProjectionResult:
        """target: uint8 [H, W, 3] at the model's resolution. on_progress after every step; returning
        False raises ProjectionCancelled."""
        return self.project_many(target[None], options, on_progress=on_progress)[0]

    def project_many(
        self,
        targets: np.ndarray,
        options: ProjectionOptions,
        class_indices: list[int | None] | None = None,
        on_progress: Callable[[ProjectionProgress], bool | None] | None = None,
    ) -> list[ProjectionResult]:
        """Several independent projections in one batch (the benchmark's): the loss is a sum of per-image
        terms and Adam is elementwise, so each is the projection of its own target; target i draws its
        w noise from seed + i (target 0 is `project`'s problem). class_indices: per target (default:
        options.class_index for all). on_progress, where given, sees target 0 only (and cancels all)."""
        started = time.perf_counter()
        cfg = self.config
        res = cfg.resolution
        if targets.dtype != np.uint8 or targets.ndim != 4 or targets.shape[1:] != (res, res, 3):
            raise ValueError(f"a target is uint8 [{res}, {res}, 3] for {cfg.name}, got {targets.dtype} {list(targets.shape[1:])}")
        count = len(targets)
        classes = class_indices if class_indices is not None else [options.class_index] * count
        if len(classes) != count:
            raise ValueError(f"{len(classes)} class indices for {count} targets")
        if cfg.c_dim == 0 and any(c is not None for c in classes):
            raise ValueError(f"{cfg.name} is unconditional: class_index must be None")
        stats = [self.w_stats(options.seed, c) for c in classes]
        w_avg = torch.stack([s[0] for s in stats]).to(self.device)  # [N, w_dim]
        w_std = torch.tensor([s[1] for s in stats], device=self.device)

        target_u8 = torch.from_numpy(np.ascontiguousarray(targets)).to(self.device)  # NHWC
        target_images = target_u8.permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1
        loss_fn = ReconstructionLoss(target_images, self.loss_weights, self.features)

        layers = 1 if options.space == "w" else cfg.num_ws
        w_opt = w_avg[:, None, :].repeat(1, layers, 1).detach().requires_grad_(True)
        optimizer = torch.optim.Adam([w_opt], betas=ADAM_BETAS, lr=INITIAL_LEARNING_RATE)
        noise_generators = [torch.Generator().manual_seed(options.seed + i) for i in range(count)]

        def broadcast(w: torch.Tensor) -> torch.Tensor:
            return w.expand(-1, cfg.num_ws, -1) if options.space == "w" else w

        with torch.enable_grad():  # also when the caller is in torch.no_grad()
            for step in range(options.steps):
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate(step, options.steps)
                w = w_opt
                factor = w_noise_factor(step, options.steps)
                if factor > 0:
                    noise = torch.stack([torch.randn(w_opt.shape[1:], generator=g) for g in noise_generators]).to(self.device)
                    w = w_opt + noise * (w_std * factor).reshape(-1, 1, 1)
                losses = loss_fn(self.synthesize(broadcast(w)))
                optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                optimizer.step()
                if on_progress is not None:
                    with torch.no_grad():
                        last_render = to_uint8_nhwc(self.synthesize(broadcast(w_opt[:1])))
                    done = step + 1
                    progress = ProjectionProgress(
                        step=done,
                        steps=options.steps,
                        loss=float(losses[0].detach()),
                        psnr=float(psnr(last_render, target_u8[:1])[0]),
                        preview=last_render[0].cpu().numpy() if options.previews_at(done) else None,
                    )
                    if on_progress(progress) is False:
                        raise ProjectionCancelled(done)

        with torch.no_grad():
            final_ws = broadcast(w_opt.detach()).contiguous()
            images = self.synthesize(final_ws)
            final_losses = loss_fn(images)
            rendered = to_uint8_nhwc(images)
            final_psnr = psnr(rendered, target_u8)
        seconds = time.perf_counter() - started
        ws_np = final_ws.cpu().numpy().astype(np.float32)
        return [
            ProjectionResult(
                ws=ws_np[i],
                w=ws_np[i, 0].copy() if options.space == "w" else None,
                loss=float(final_losses[i]),
                psnr=float(final_psnr[i]),
                steps=options.steps,
                seconds=seconds,
            )
            for i in range(count)
        ]
