"""The engine interface: the model's own seams, mapping and synthesis, on numpy arrays.

StyleGAN2 models have the noise methods, StyleGAN3 models `synthesize_transformed` (the graphs
are `ModelConfig.graph_parts`). In-process engines are blocking, and the gateway calls them from a worker thread; remote engines
(Triton) implement the same methods as coroutines. Both are called through `ganserve.batching`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Protocol

import numpy as np

# An in-process engine returns the array; a remote one (Triton) a coroutine that gives it.
Result = np.ndarray | Awaitable[np.ndarray]


class EngineError(RuntimeError):
    """The engine could not run (unreachable, failed to load): the request may be retried later."""


class Engine(Protocol):
    name: str

    @property
    def precision(self) -> str | None:
        """The arithmetic the images are made in ("f32", "bf16"); None where the gateway cannot know
        (Triton: the model repository's target decides). Shown in GET /v1/models."""

    @property
    def precision_reason(self) -> str:
        """Why that precision: the setting that chose it, and what the hardware allowed."""

    def map(self, z: np.ndarray, c: np.ndarray) -> Result:
        """z [N, z_dim] float32, c [N, c_dim] one-hot -> w [N, w_dim] (not broadcast, not truncated)."""

    def synthesize(self, ws: np.ndarray, noise_gain: np.ndarray) -> Result:
        """ws [N, num_ws, w_dim], noise_gain [N] (1 = stored const noise, 0 = none) -> uint8 [N, H, W, C]."""

    def synthesize_with_noise(self, ws: np.ndarray, noise_maps: list[np.ndarray]) -> Result:
        """ws and explicit unscaled noise maps, one [N, 1, r, r] per conv layer -> uint8 [N, H, W, C]."""

    def synthesize_transformed(self, ws: np.ndarray, transform: np.ndarray) -> Result:
        """StyleGAN3: ws and each image's input transform [N, 3, 3] (latents.input_transform) -> uint8 [N, H, W, C]."""

    async def check_ready(self) -> None:
        """Raises EngineError naming what is not ready (for /readyz)."""

    async def prepare(self) -> None:
        """Before serving newly loaded weights (a reload): make them servable where the engine runs,
        or raise EngineError. Triton loads them from its repository; in-process engines already are."""

    def close(self) -> None: ...
