"""w sampled from a model's mapping network in torch, for the directions `ganserve compile` stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ganserve import directions
from ganserve.artifacts import Artifact
from ganserve.generator.export import load_generator


def compute_directions(artifact: Artifact, samples: int = directions.SAMPLES) -> Path:
    """GANSpace, SeFa and class directions, written beside the weights (see ganserve.directions)."""
    mapping = load_generator(artifact).mapping

    @torch.no_grad()
    def sample_w(z: np.ndarray, c: np.ndarray | None) -> np.ndarray:
        w: np.ndarray = mapping(torch.from_numpy(z), None if c is None else torch.from_numpy(c)).numpy()
        return w

    return directions.compute(artifact, sample_w, samples)
