"""Dependencies shared by the routers."""

from __future__ import annotations

import base64
from typing import Annotated

import numpy as np
from fastapi import Depends, Path, Request

from ganserve.api.schemas import EncodedImage
from ganserve.encode import MEDIA_TYPES, ImageFormat, encode_image
from ganserve.pipeline import ModelPipeline


def get_state(request: Request):
    return request.app.state.ganserve


def get_pipeline(request: Request, model: Annotated[str, Path(description="model name, see GET /v1/models")]) -> ModelPipeline:
    return get_state(request).pipeline(model)


State = Annotated[object, Depends(get_state)]
Pipeline = Annotated[ModelPipeline, Depends(get_pipeline)]

IMAGE_RESPONSE = {"content": {t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg", "image/webp")}}


async def encode_base64(state, images: np.ndarray, fmt: ImageFormat, ws: np.ndarray | None = None) -> list[EncodedImage]:
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
