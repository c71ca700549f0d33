"""Projection's losses: MS-SSIM's properties, the discriminator's features, and the kept D in an artifact."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from projection_helpers import RUN_DIR
from safetensors.torch import load_file

from ganserve.artifacts import DISCRIMINATOR_CONFIG_FILE, DISCRIMINATOR_WEIGHTS_FILE, Artifact
from ganserve.projection.features import (
    DiscriminatorFeatures,
    LossWeights,
    ReconstructionLoss,
    feature_distance,
    load_discriminator,
    ms_ssim,
    ms_ssim_scales,
    psnr,
    window_for,
)
from ganserve.training.discriminator import Discriminator

pytestmark = pytest.mark.usefixtures("one_thread")


def images(n: int = 2, size: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random images in [0, 1] (blurred noise: structure at every scale)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, size // 4, size // 4, generator=g)
    x = torch.nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False)
    return (x + 0.1 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def test_ms_ssim_of_identical_images_is_one():
    x = images()
    assert torch.allclose(ms_ssim(x, x), torch.ones(2), atol=1e-6)


def test_ms_ssim_falls_as_noise_grows():
    x = images(1)
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=g)
    values = [float(ms_ssim(x, (x + sigma * noise).clamp(0, 1))[0]) for sigma in (0.0, 0.02, 0.05, 0.1, 0.2, 0.4)]
    assert values[0] == pytest.approx(1.0, abs=1e-6)
    assert all(a > b for a, b in zip(values, values[1:], strict=False)), values
    assert 0 < values[-1] < 0.8  # coarse scales average much of the noise away


def test_ms_ssim_is_symmetric_per_image_and_has_finite_gradients():
    x, y = images(2, seed=0), images(2, seed=1)
    assert torch.allclose(ms_ssim(x, y), ms_ssim(y, x), atol=1e-6)
    assert torch.allclose(ms_ssim(x, y)[1:], ms_ssim(x[1:], y[1:]), atol=1e-6)  # images do not mix in a batch
    y = y.clone().requires_grad_(True)
    (1 - ms_ssim(x, y)).sum().backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_scales_fit_the_image():
    assert window_for(32) == (7, 1.0) and ms_ssim_scales(32, 7) == 3  # 32, 16 and 8 px
    assert window_for(256) == (11, 1.5) and ms_ssim_scales(256, 11) == 5  # the standard five
    assert ms_ssim_scales(16, 11) == 1  # SSIM alone
    with pytest.raises(ValueError, match="window"):
        ms_ssim(images(1), images(1), scales=4)


def test_psnr_of_uint8_images():
    a = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)
    b = a.clone()
    b[1] += 10
    values = psnr(a, b)
    assert float(values[0]) == 100.0  # identical: capped, finite
    assert float(values[1]) == pytest.approx(10 * np.log10(255**2 / 100))


def test_discriminator_features_per_block_and_per_image(emoji_with_d):
    D = load_discriminator(emoji_with_d)
    assert D is not None
    features = DiscriminatorFeatures(D)
    x = images(2) * 2 - 1
    with torch.no_grad():
        both = features(x)
        first = features(x[:1])
    assert [tuple(f.shape[1:]) for f in both] == [(64, 32, 32), (64, 16, 16), (64, 8, 8), (64, 4, 4)]
    distance = feature_distance(both, [f.flip(0) for f in both])
    assert distance.shape == (2,) and (distance > 0).all()
    assert torch.allclose(feature_distance(both, both), torch.zeros(2), atol=1e-5)
    assert all(torch.allclose(a[:1], b, rtol=1e-4, atol=1e-4) for a, b in zip(both, first, strict=True))  # no minibatch coupling


def test_kept_discriminator_is_the_checkpoints(emoji_with_d):
    """Strictly loaded from the artifact, the logits equal those of D loaded from the resume checkpoint."""
    config = emoji_with_d.discriminator
    assert config is not None and config.c_dim == 9 and config.resolution == 32 and config.source.details["kimg"] >= 1000
    kept = load_discriminator(emoji_with_d)
    assert kept is not None
    tensors = load_file(RUN_DIR / "resume.safetensors")
    reference = Discriminator(32, 9, config.channel_base, config.channel_max)
    reference.load_state_dict({k[2:]: v for k, v in tensors.items() if k.startswith("D.")})
    # The checkpoint may have moved on since the fixture read it (training runs beside the tests):
    # compare with the weights the fixture kept.
    kept_weights = load_file(emoji_with_d.discriminator_weights_path)
    assert set(kept_weights) == set(reference.state_dict())
    reference.load_state_dict(kept_weights)
    x, c = images(4) * 2 - 1, torch.eye(9)[:4]
    with torch.no_grad():
        assert torch.equal(kept(x, c), reference(x, c))


def test_artifact_without_discriminator(emoji_without_d):
    assert emoji_without_d.discriminator is None
    assert load_discriminator(emoji_without_d) is None


def test_keeping_a_discriminator_leaves_the_model_version(emoji_with_d, emoji_without_d):
    """The digest (ETags, caches, compiled graphs) is the generator's alone: serving is unaffected."""
    assert emoji_with_d.digest == emoji_without_d.digest


def test_a_mismatched_or_incomplete_discriminator_is_refused(tmp_path, emoji_with_d):
    directory = tmp_path / "m"
    directory.mkdir()
    for name in ("generator.json", "generator.safetensors", DISCRIMINATOR_CONFIG_FILE):
        (directory / name).write_bytes((emoji_with_d.directory / name).read_bytes())
    with pytest.raises(ValueError, match="no discriminator.safetensors"):
        _ = Artifact(directory).discriminator
    (directory / DISCRIMINATOR_WEIGHTS_FILE).write_bytes(emoji_with_d.discriminator_weights_path.read_bytes())
    config = json.loads((directory / DISCRIMINATOR_CONFIG_FILE).read_text())
    (directory / DISCRIMINATOR_CONFIG_FILE).write_text(json.dumps(config | {"c_dim": 3}))
    with pytest.raises(ValueError, match="c_dim"):
        _ = Artifact(directory).discriminator


def test_reconstruction_loss_terms(emoji_with_d):
    D = load_discriminator(emoji_with_d)
    assert D is not None
    targets = images(2) * 2 - 1
    loss = ReconstructionLoss(targets, LossWeights(), DiscriminatorFeatures(D))
    with torch.no_grad():
        assert torch.allclose(loss(targets), torch.zeros(2), atol=1e-5)
        terms = loss.terms(targets.flip(0))
    assert set(terms) == {"pixel", "pixel_low", "ms_ssim", "features"} and all((t > 0).all() for t in terms.values())
    without = ReconstructionLoss(targets, LossWeights(), None).terms(targets.flip(0))
    assert set(without) == {"pixel", "pixel_low", "ms_ssim"}
