"""Projection's losses: MS-SSIM, the model's own discriminator's features, and pixel L2.

No VGG16 or LPIPS weights can be downloaded here, so the perceptual term is the generator's own
discriminator: the activations of its first layers and blocks (before the epilogue, whose minibatch
standard deviation would couple the images of a batch), unit-normalised over channels at every
pixel as LPIPS does, and compared by squared distance (LPIPS without its learned per-channel
weights). Every loss is per image, [N], so a batch of targets is a batch of independent problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from ganserve.artifacts import Artifact
from ganserve.training.discriminator import Discriminator

# Wang, Simoncelli and Bovik (2003): the five scales' exponents.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_K1, SSIM_K2 = 0.01, 0.03
STANDARD_WINDOW, STANDARD_SIGMA = 11, 1.5
SMALL_WINDOW, SMALL_SIGMA = 7, 1.0


def gaussian_window(size: int, sigma: float, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """A normalised 1-D Gaussian of `size` taps."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).to(dtype=dtype, device=device)


def ms_ssim_scales(size: int, window: int) -> int:
    """The most scales (at most 5) whose smallest image still holds a whole window."""
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and size // 2**scales >= window:
        scales += 1
    return scales


def window_for(resolution: int) -> tuple[int, float]:
    """(taps, sigma): the standard 11-tap, sigma 1.5 window where it leaves all five scales (176 px and
    up); below that a 7-tap, sigma 1 window, which leaves three scales at 32 px (32, 16, 8)."""
    if ms_ssim_scales(resolution, STANDARD_WINDOW) == len(MS_SSIM_WEIGHTS):
        return STANDARD_WINDOW, STANDARD_SIGMA
    return SMALL_WINDOW, SMALL_SIGMA


def _blur(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian, 'valid' (no padding), per channel."""
    channels = x.shape[1]
    kx = window.reshape(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    ky = window.reshape(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    return F.conv2d(F.conv2d(x, kx, groups=channels), ky, groups=channels)


def ssim_components(x: torch.Tensor, y: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(SSIM, contrast-structure), each [N, C]: the maps' means. x, y: NCHW in [0, 1]."""
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    mu_x, mu_y = _blur(x, window), _blur(y, window)
    sigma_xx = _blur(x * x, window) - mu_x**2
    sigma_yy = _blur(y * y, window) - mu_y**2
    sigma_xy = _blur(x * y, window) - mu_x * mu_y
    cs = (2 * sigma_xy + c2) / (sigma_xx + sigma_yy + c2)
    luminance = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1)
    return (luminance * cs).mean(dim=[2, 3]), cs.mean(dim=[2, 3])


def ms_ssim(
    x: torch.Tensor, y: torch.Tensor, window: int | None = None, sigma: float | None = None, scales: int | None = None
) -> torch.Tensor:
    """Multi-scale SSIM per image, [N], in (0, 1] (1: identical). x, y: NCHW in [0, 1].

    Contrast-structure at every scale but the last, SSIM at the last, 2x average pooling between
    scales, the exponents of the paper renormalised over the scales used, each channel apart and
    then averaged. Window and scales default to `window_for` the image size (one scale is SSIM).
    Values are clamped at 1e-6 before the exponents, so that the gradient stays finite."""
    size = min(x.shape[2], x.shape[3])
    window = window or window_for(size)[0]
    sigma = sigma or (STANDARD_SIGMA if window == STANDARD_WINDOW else SMALL_SIGMA)
    scales = scales or ms_ssim_scales(size, window)
    if size // 2 ** (scales - 1) < window:
        raise ValueError(f"{scales} scales of a {size} px image leave less than the {window}-tap window")
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    g = gaussian_window(window, sigma, x.dtype, x.device)
    values = []
    for scale in range(scales):
        ssim, cs = ssim_components(x, y, g)
        values.append(ssim if scale == scales - 1 else cs)
        if scale < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    stacked = torch.stack(values).clamp(min=1e-6)  # [scales, N, C]
    return (stacked ** weights.reshape(-1, 1, 1)).prod(dim=0).mean(dim=1)


class DiscriminatorFeatures(nn.Module):
    """The activations of D's fromRGB layer and of each of its blocks (e.g. 32, 16, 8 and 4 px)."""

    def __init__(self, discriminator: Discriminator):
        super().__init__()
        self.discriminator = discriminator.eval().requires_grad_(False)

    def forward(self, img: torch.Tensor) -> list[torch.Tensor]:
        """img NCHW in [-1, 1] -> one [N, C, H, W] per layer."""
        x = self.discriminator.from_rgb(img)
        features = [x]
        for block in self.discriminator.blocks:
            x = block(x)
            features.append(x)
        return features


def unit_features(features: list[torch.Tensor], eps: float = 1e-10) -> list[torch.Tensor]:
    """Each layer's features divided by their norm over channels, at every pixel."""
    return [f / (f.square().sum(dim=1, keepdim=True) + eps).sqrt() for f in features]


def distance_to_unit(a: list[torch.Tensor], unit_b: list[torch.Tensor], eps: float = 1e-10) -> torch.Tensor:
    """feature_distance(a, b) from b's unit features: |a/|a| - u|^2 = 2 - 2 (a . u) / |a|, with fewer
    full-size operations than normalising a (the projection loss runs it every step)."""
    total = torch.zeros(a[0].shape[0], dtype=a[0].dtype, device=a[0].device)
    for fa, ub in zip(a, unit_b, strict=True):
        cosine = (fa * ub).sum(dim=1) / (fa.square().sum(dim=1) + eps).sqrt()
        total = total + (2 - 2 * cosine).mean(dim=[1, 2])
    return total


def feature_distance(a: list[torch.Tensor], b: list[torch.Tensor]) -> torch.Tensor:
    """Per image, [N]: the sum over layers of the mean over pixels of the squared distance between
    channel-unit-normalised features (each layer's term in [0, 4])."""
    return distance_to_unit(a, unit_features(b))


def load_discriminator(artifact: Artifact) -> Discriminator | None:
    """The discriminator kept in the model directory (strictly loaded, eval, no gradients), or None."""
    config = artifact.discriminator
    if config is None:
        return None
    D = Discriminator(config.resolution, config.c_dim, config.channel_base, config.channel_max, config.img_channels, config.cmap_dim)
    D.load_state_dict(load_file(artifact.discriminator_weights_path), strict=True)
    return D.eval().requires_grad_(False)


@dataclass(frozen=True)
class LossWeights:
    """The terms of the projection loss, per image, on images in [-1, 1] (see docs/projection.md for the
    measured comparison that chose them)."""

    pixel: float = 1.0  # MSE at full resolution
    pixel_low: float = 1.0  # MSE after area downsampling by `low_factor`: colour and layout
    ms_ssim: float = 0.3  # 1 - MS-SSIM, on [0, 1] images
    features: float = 0.1  # discriminator feature distance; ignored when the model keeps no D
    low_factor: int = 4


class ReconstructionLoss(nn.Module):
    """The weighted loss of synthesised images against fixed targets; what depends on the targets alone
    (features, low-resolution copies) is computed once."""

    def __init__(self, targets: torch.Tensor, weights: LossWeights, features: DiscriminatorFeatures | None):
        """targets: NCHW float in [-1, 1]."""
        super().__init__()
        self.weights = weights
        self.features = features if weights.features else None
        self.targets = targets
        self.low_factor = min(weights.low_factor, targets.shape[2])
        with torch.no_grad():
            self.targets_low = F.avg_pool2d(targets, self.low_factor)
            self.target_units = unit_features(self.features(targets)) if self.features is not None else None

    def terms(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each unweighted term, [N]."""
        terms = {"pixel": (images - self.targets).square().mean(dim=[1, 2, 3])}
        w = self.weights
        if w.pixel_low:
            terms["pixel_low"] = (F.avg_pool2d(images, self.low_factor) - self.targets_low).square().mean(dim=[1, 2, 3])
        if w.ms_ssim:
            terms["ms_ssim"] = 1 - ms_ssim((images + 1) / 2, (self.targets + 1) / 2)
        if self.features is not None and self.target_units is not None:
            terms["features"] = distance_to_unit(self.features(images), self.target_units)
        return terms

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The weighted sum, per image, [N]."""
        weights = {"pixel": self.weights.pixel, "pixel_low": self.weights.pixel_low}
        weights |= {"ms_ssim": self.weights.ms_ssim, "features": self.weights.features}
        terms = self.terms(images)
        return sum(weights[name] * value for name, value in terms.items())  # type: ignore[return-value]


PSNR_MAX = 100.0  # identical images: finite, so that progress stays valid JSON


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of two uint8 batches (any layout, batch first), at most PSNR_MAX."""
    mse = (a.to(torch.float64) - b.to(torch.float64)).square().flatten(1).mean(dim=1)
    return (10 * torch.log10(255.0**2 / mse.clamp(min=1e-300))).clamp(max=PSNR_MAX)
