"""Children of a parent latent (Artbreeder's "children"): random variations around its final w.

Child k moves the parent's final ws (after truncation and the parent's edits) on the chosen layers
by spread x sum_i n_ki sigma_i v_i, where v_i are the model's GANSpace components, sigma_i their
scales and n = RandomState(seed).randn(count, components). So spread 1 moves a child about as far
as a typical w lies from w_avg within those components, and the same request gives the same
children. Each child's ws can be saved (POST /v1/latents with {"ws": ...}).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganserve.errors import InvalidInput
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import ChildrenOutput, ChildrenRequest
from ganserve.state import AppState


@dataclass
class Children:
    ws: np.ndarray  # final ws [N, num_ws, w_dim]: the parent first with include_parent, then the children
    images: np.ndarray | None  # uint8 [N, H, W, C]; None for output=latents


def check(state: AppState, pipeline: ModelPipeline, body: ChildrenRequest) -> list[int]:
    """Limits and the layers, before any work."""
    most = state.settings.max_images
    if body.count + body.include_parent > most:
        raise InvalidInput("count", f"at most {most} images per request, the parent included (GANSERVE_MAX_IMAGES)")
    components, _ = pipeline.directions.ganspace_basis
    if not len(components):
        raise InvalidInput("parent", f"model {pipeline.config.name} has no GANSpace directions to draw children along")
    pipeline.check_view(body.view)
    return pipeline.layer_indices(body.layers, "layers")


def child_offsets(components: np.ndarray, sigmas: np.ndarray, count: int, spread: float, seed: int) -> np.ndarray:
    """[count, w_dim]: each child's move in W."""
    draws = np.random.RandomState(seed).randn(count, len(components))
    return ((draws * sigmas.astype(np.float64) * spread) @ components.astype(np.float64)).astype(np.float32)


async def children(state: AppState, pipeline: ModelPipeline, body: ChildrenRequest) -> Children:
    layers = check(state, pipeline, body)
    class_index = pipeline.class_index(body.class_)
    offsets = pipeline.edit_offset(body.parent, "parent")
    parent = pipeline.truncate(await pipeline.to_ws([body.parent], class_index, "parent"), body.psi, body.cutoff, offsets)
    components, sigmas = pipeline.directions.ganspace_basis
    ws = np.repeat(parent, body.count, axis=0)
    ws[:, layers] += child_offsets(components, sigmas, body.count, body.spread, body.seed)[:, None]
    if body.include_parent:
        ws = np.concatenate([parent, ws])
    if body.output == ChildrenOutput.latents:
        return Children(ws, None)
    images = await pipeline.synthesize(ws, body.noise, body.noise_seed, view=body.view)
    state.metrics.images.labels(pipeline.config.name).inc(len(images))
    return Children(ws, images)
