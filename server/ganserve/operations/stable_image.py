"""One image from a seed or a saved latent, as the stable image URLs give it (what product apps embed).

The same request always gives the same bytes (saved latents never change), so its entity tag is
computed from what decides the bytes (model version, engine and its precision, encoder settings and the canonical
parameters) before any work: a client that already holds it gets no image, and costs nothing.
Encoded bytes of hot images are cached (in process, or in Redis).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from ganserve.cache import cache_key
from ganserve.encode import MEDIA_TYPES, encode_image, encoder_signature
from ganserve.pipeline import ModelPipeline, ResolvedEdit
from ganserve.protocol import NoiseMode, StableImageRequest
from ganserve.state import AppState


@dataclass
class StableImage:
    tag: str  # the entity tag, 32 hex digits (HTTP quotes it in ETag)
    media_type: str
    data: bytes | None  # None when the client already holds this tag


def _never(tag: str) -> bool:
    return False


def _edits_key(pipeline: ModelPipeline, edits: list[ResolvedEdit]) -> str:
    """The edits as they act (direction, strength, ws indices) and the stored directions' digest;
    empty without edits, so that a URL without edits keeps the tag it had before edits existed."""
    if not edits:
        return ""
    parts = [f"{direction.id}:{strength!r}@{','.join(map(str, layers))}" for direction, strength, layers in edits]
    return f"|edits={';'.join(parts)}|{pipeline.directions.digest}"


def _tag(
    state: AppState,
    pipeline: ModelPipeline,
    body: StableImageRequest,
    class_index: int | None,
    edits: list[ResolvedEdit],
) -> str:
    source = f"seed={body.latent.seed}" if body.latent.seed is not None else f"id={body.latent.id}"
    noise_key = f"{body.noise}:{body.noise_seed}" if body.noise == NoiseMode.random else str(body.noise)
    view = body.view
    view_key = "" if view.is_identity else f"|{view.translate[0]!r},{view.translate[1]!r}|{view.rotate!r}"
    params = f"{source}|{body.psi!r}|{body.cutoff}|{noise_key}|{class_index}|{body.format}{view_key}{_edits_key(pipeline, edits)}"
    engine = pipeline.engine.name
    if pipeline.engine.precision not in (None, "f32"):  # other bytes (openvino fast: bf16); f32 keeps the tags it had
        engine = f"{engine}:{pipeline.engine.precision}"
    key = f"{pipeline.digest}|{engine}|{encoder_signature(state.settings)}|{params}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


async def stable_image(
    state: AppState, pipeline: ModelPipeline, body: StableImageRequest, client_has: Callable[[str], bool] = _never
) -> StableImage:
    """The image of a seed or saved latent (body.latent), encoded; without data when client_has(tag)."""
    # A saved latent is looked up before the tag: a deleted latent is not found, not "not modified".
    latent = await pipeline.resolve_saved(body.latent, "latent")
    class_index = pipeline.class_index(body.class_)
    if latent.seed is not None or latent.z is not None:
        pipeline.needs_class(class_index)  # before the tag: a request that cannot be served has no ETag
    pipeline.check_cutoff(body.cutoff)
    pipeline.check_view(body.view)
    edits = pipeline.resolved_edits(body.latent.edits, "edit")  # named as the query parameter
    tag = _tag(state, pipeline, body, class_index, edits)
    media_type = MEDIA_TYPES[body.format]
    if client_has(tag):
        return StableImage(tag, media_type, None)
    image_key = cache_key(pipeline.config.name, pipeline.digest, "img", tag)
    (data,) = await state.image_cache.get_many([image_key])
    if data is None:
        ws = pipeline.truncate(await pipeline.to_ws([latent], class_index), body.psi, body.cutoff, pipeline.offsets_of([edits]))
        image = (await pipeline.synthesize(ws, body.noise, body.noise_seed, view=body.view))[0]
        state.metrics.images.labels(pipeline.config.name).inc()
        data = await state.run_blocking(encode_image, image, body.format, state.settings)
        await state.image_cache.set_many({image_key: data})
    return StableImage(tag, media_type, data)
