"""What the projection tests share: the committed run and model, held-out seeds, and generated targets."""

from __future__ import annotations

import numpy as np
import torch

from ganserve.settings import REPO_ROOT

RUN_DIR = REPO_ROOT / "runs" / "emoji32"
MODEL_DIR = REPO_ROOT / "models" / "emoji32"
# Seeds that nothing else uses (not the sample grids' 0-7, not the docs' pictures): held out.
HELD_OUT_SEED = 4_100_003


def generated(projector, seed: int, class_index: int) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [H, W, 3] image, its w [w_dim]) from a seed, psi 1, const noise: what the server gives."""
    from ganserve.generator.networks import to_uint8_nhwc

    cfg = projector.config
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, cfg.z_dim).astype(np.float32))
    c = torch.nn.functional.one_hot(torch.tensor([class_index]), cfg.c_dim).to(torch.float32)
    with torch.no_grad():
        w = projector.G.mapping(z, c)
        image = to_uint8_nhwc(projector.synthesize(w[:, None].repeat(1, cfg.num_ws, 1)))[0].numpy()
    return image, w[0].numpy()
