"""A tiny labelled image set and tiny training options, so the training code runs in seconds."""

from __future__ import annotations

import numpy as np
import pytest

from ganserve.training.dataset import EmojiDataset
from ganserve.training.options import TrainingOptions


@pytest.fixture
def tiny_dataset() -> EmojiDataset:
    """Three classes of 32x32 images (stored at 32, trained at 16): a coloured disc per class on white."""
    rng = np.random.RandomState(0)
    yy, xx = np.mgrid[:32, :32]
    colours = np.array([[230, 40, 40], [40, 200, 40], [40, 40, 230]], dtype=np.uint8)
    images, labels = [], []
    for i in range(48):
        label = i % 3
        radius = rng.uniform(6, 12)
        cy, cx = rng.uniform(10, 22, size=2)
        image = np.full((32, 32, 3), 255, np.uint8)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < radius**2] = colours[label]
        images.append(image)
        labels.append(label)
    return EmojiDataset(
        images=np.stack(images),
        labels=np.array(labels, dtype=np.int64),
        class_names=("red", "green", "blue"),
        vendors=np.array(["test"] * 48),
        names=np.array([f"{i}.png" for i in range(48)]),
    )


@pytest.fixture
def tiny_options() -> TrainingOptions:
    return TrainingOptions(
        name="tiny16",
        resolution=16,
        z_dim=16,
        w_dim=16,
        mapping_layers=2,
        channel_base=256,
        channel_max=16,
        batch=8,
        r1_interval=2,
        tick_kimg=0.016,
    )
