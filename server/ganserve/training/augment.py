"""DiffAugment (Zhao et al. 2020, mit-han-lab/data-efficient-gans) with an ADA-style adaptive strength.

Every image the discriminator sees, real or generated, goes through the same differentiable
augmentations. Each augmentation is applied to each image with probability `p`; `p` is tuned as ADA
tunes its own (Karras et al. 2020): the overfitting heuristic r_t = E[sign(D(real))] is held near a
target by moving p up or down, so small data gets as much augmentation as it needs and no more.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _where(mask: torch.Tensor, augmented: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return torch.where(mask.reshape(-1, 1, 1, 1), augmented, x)


def color(x: torch.Tensor, p: float) -> torch.Tensor:
    n = x.shape[0]
    mask = lambda: torch.rand(n, device=x.device) < p  # noqa: E731
    brightness = torch.rand(n, 1, 1, 1, device=x.device) - 0.5
    x = _where(mask(), x + brightness, x)
    mean = x.mean(dim=1, keepdim=True)
    saturation = torch.rand(n, 1, 1, 1, device=x.device) * 2
    x = _where(mask(), (x - mean) * saturation + mean, x)
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    contrast = torch.rand(n, 1, 1, 1, device=x.device) + 0.5
    return _where(mask(), (x - mean) * contrast + mean, x)


def translation(x: torch.Tensor, p: float, ratio: float = 0.125) -> torch.Tensor:
    """Shift by up to ratio * size pixels in x and y; what comes in from outside is zero (mid grey)."""
    n, _, h, w = x.shape
    sx, sy = int(w * ratio + 0.5), int(h * ratio + 0.5)
    tx = torch.randint(-sx, sx + 1, (n, 1, 1), device=x.device)
    ty = torch.randint(-sy, sy + 1, (n, 1, 1), device=x.device)
    keep = torch.rand(n, device=x.device) >= p
    tx[keep], ty[keep] = 0, 0
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = torch.clamp(gy[None] + ty + 1, 0, h + 1)
    gx = torch.clamp(gx[None] + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = (gy * (w + 2) + gx).reshape(n, 1, -1).expand(-1, x.shape[1], -1)
    return padded.reshape(n, x.shape[1], -1).gather(2, idx).reshape_as(x)


def cutout(x: torch.Tensor, p: float, ratio: float = 0.5) -> torch.Tensor:
    """Zero a square of ratio * size, centred anywhere in the image (it may hang over the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    dy, dx = gy[None] - oy + ch // 2, gx[None] - ox + cw // 2
    inside = (dy >= 0) & (dy < ch) & (dx >= 0) & (dx < cw) & (torch.rand(n, 1, 1, device=x.device) < p)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def diff_augment(x: torch.Tensor, p: float) -> torch.Tensor:
    if p <= 0:
        return x
    return cutout(translation(color(x, p), p), p)


class AdaptiveStrength:
    """ADA's controller: p moves by batch / (speed_kimg * 1000) per image towards r_t == target."""

    def __init__(self, target: float = 0.6, speed_kimg: float = 100.0, interval: int = 4, p: float = 0.0):
        self.target, self.speed_kimg, self.interval, self.p = target, speed_kimg, interval, p
        self._signs: list[float] = []
        self.rt = 0.0

    def observe(self, real_logits: torch.Tensor) -> None:
        self._signs.append(float(real_logits.sign().mean()))

    def update(self, batch_images: int) -> None:
        if len(self._signs) < self.interval:
            return
        self.rt = sum(self._signs) / len(self._signs)
        step = batch_images * len(self._signs) / (self.speed_kimg * 1000)
        self.p = min(max(self.p + (step if self.rt > self.target else -step), 0.0), 1.0)
        self._signs.clear()
