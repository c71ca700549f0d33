"""A batch of images from seeds, z, w, ws or saved latents."""

from __future__ import annotations

import numpy as np

from ganserve.errors import InvalidInput
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import BatchRequest
from ganserve.state import AppState


async def generate(state: AppState, pipeline: ModelPipeline, body: BatchRequest) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 images [N, H, W, C], their final ws [N, num_ws, w_dim]) in request order."""
    if len(body.latents) > state.settings.max_images:
        raise InvalidInput("latents", f"at most {state.settings.max_images} images per request (GANSERVE_MAX_IMAGES)")
    class_index = pipeline.class_index(body.class_)
    pipeline.check_view(body.view)
    offsets = pipeline.edit_offsets(body.latents, "latents")
    ws = pipeline.truncate(await pipeline.to_ws(body.latents, class_index), body.psi, body.cutoff, offsets)
    images = await pipeline.synthesize(ws, body.noise, body.noise_seed, view=body.view)
    state.metrics.images.labels(pipeline.config.name).inc(len(images))
    return images, ws
