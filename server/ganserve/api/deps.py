"""Dependencies shared by the routers, and the JSON encoding of images."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, Path, Request

from ganserve.api.schemas import EncodedImage
from ganserve.encode import MEDIA_TYPES, encode_image
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import ImageFormat
from ganserve.state import AppState


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ganserve
    return state


def get_pipeline(request: Request, model: Annotated[str, Path(description="model name, see GET /v1/models")]) -> ModelPipeline:
    return get_state(request).pipeline(model)


State = Annotated[AppState, Depends(get_state)]
Pipeline = Annotated[ModelPipeline, Depends(get_pipeline)]

IMAGE_RESPONSE: dict[str, Any] = {
    "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg", "image/webp")}
}


async def encode_base64(state: AppState, images: np.ndarray, fmt: ImageFormat, ws: np.ndarray | None = None) -> list[EncodedImage]:
    """Encode each image off the event loop, as base64 JSON entries."""
    encoded = await state.run_blocking(lambda: [encode_image(image, fmt, state.settings) for image in images])
    return [
        EncodedImage(
            index=i,
            media_type=MEDIA_TYPES[fmt],
            data=base64.b64encode(data).decode(),
            ws=None if ws is None else ws[i].tolist(),
        )
        for i, data in enumerate(encoded)
    ]
