"""In-process PyTorch: the reference engine, and the GPU path with GANSERVE_DEVICE=cuda.

Imported only when GANSERVE_ENGINE=torch; the default serving path never loads torch.
"""

from __future__ import annotations

import numpy as np
import torch

from ganserve.artifacts import Artifact
from ganserve.generator.export import load_generator
from ganserve.generator.networks import to_uint8_nhwc
from ganserve.settings import Settings


class TorchEngine:
    name = "torch"
    precision = "f32"

    def __init__(self, artifact: Artifact, settings: Settings):
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.device = torch.device(settings.device)
        self.precision_reason = f"torch, float32 on {self.device}"
        self.generator = load_generator(artifact).to(self.device)
        self.c_dim = artifact.config.c_dim

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).to(self.device)

    @torch.inference_mode()
    def map(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        return self.generator.mapping(self._tensor(z), self._tensor(c) if self.c_dim else None).cpu().numpy()

    @torch.inference_mode()
    def synthesize(self, ws: np.ndarray, noise_gain: np.ndarray) -> np.ndarray:
        img = self.generator.synthesis(self._tensor(ws), noise_gain=self._tensor(noise_gain))
        return to_uint8_nhwc(img).cpu().numpy()

    @torch.inference_mode()
    def synthesize_with_noise(self, ws: np.ndarray, noise_maps: list[np.ndarray]) -> np.ndarray:
        img = self.generator.synthesis(self._tensor(ws), noise_maps=[self._tensor(m) for m in noise_maps])
        return to_uint8_nhwc(img).cpu().numpy()

    @torch.inference_mode()
    def synthesize_transformed(self, ws: np.ndarray, transform: np.ndarray) -> np.ndarray:
        img = self.generator.synthesis(self._tensor(ws), self._tensor(transform))
        return to_uint8_nhwc(img).cpu().numpy()

    async def check_ready(self) -> None:
        """In-process: ready once constructed."""

    async def prepare(self) -> None:
        """In-process: the graphs are loaded."""

    def close(self) -> None:
        del self.generator
