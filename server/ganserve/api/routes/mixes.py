"""POST /v1/models/{model}/mixes: style mixing, rows x columns (NVlabs style_mixing.py)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from fastapi.responses import Response

from ganserve import latents
from ganserve.api.deps import IMAGE_RESPONSE, Pipeline, State, encode_base64
from ganserve.api.schemas import ERROR_RESPONSES, MixCell, MixOutput, MixRequest, MixResponse
from ganserve.encode import MEDIA_TYPES, encode_image
from ganserve.errors import InvalidInput

router = APIRouter(prefix="/v1/models/{model}", tags=["latents"])


def resolve_layers(body: MixRequest, pipeline) -> list[int]:
    cfg = pipeline.config
    if isinstance(body.layers, list):
        bad = [i for i in body.layers if not 0 <= i < cfg.num_ws]
        if bad or not body.layers:
            raise InvalidInput("layers", f"layer indices must be 0-{cfg.num_ws - 1}")
        return sorted(set(body.layers))
    try:
        return latents.parse_layers(body.layers, cfg.num_ws, cfg.layer_groups)
    except ValueError as exc:
        raise InvalidInput("layers", str(exc)) from None


def _check(body: MixRequest, settings) -> None:
    side = settings.max_mix_side
    for name, items in (("rows", body.rows), ("columns", body.columns)):
        if len(items) > side:
            raise InvalidInput(name, f"at most {side} {name} (GANSERVE_MAX_MIX_SIDE)")
    if body.output == MixOutput.cell:
        if body.row is None or body.row >= len(body.rows):
            raise InvalidInput("row", f"output=cell needs a row index 0-{len(body.rows) - 1}")
        if body.column is None or body.column >= len(body.columns):
            raise InvalidInput("column", f"output=cell needs a column index 0-{len(body.columns) - 1}")


@router.post(
    "/mixes",
    response_model=MixResponse,
    responses={200: {"content": {"application/json": {}, **IMAGE_RESPONSE["content"]}}, **ERROR_RESPONSES},
    summary="Style mixing: row latents with chosen layers taken from column latents",
)
async def mix(body: MixRequest, pipeline: Pipeline, state: State):
    _check(body, state.settings)
    layers = resolve_layers(body, pipeline)
    class_index = pipeline.class_index(body.class_)
    row_ws = await pipeline.to_ws(body.rows, class_index, "rows")
    col_ws = await pipeline.to_ws(body.columns, class_index, "columns")
    grid_ws = latents.mix(row_ws, col_ws, layers)  # [R, C, num_ws, w_dim]
    name = pipeline.config.name

    if body.output == MixOutput.cell:
        ws = pipeline.truncate(grid_ws[body.row, body.column][None], body.psi, body.cutoff)
        image = (await pipeline.synthesize(ws, body.noise, body.noise_seed))[0]
        state.metrics.images.labels(name).inc()
        return Response(await state.run_blocking(encode_image, image, body.format, state.settings), media_type=MEDIA_TYPES[body.format])

    rows, cols = len(body.rows), len(body.columns)
    cells_ws = grid_ws.reshape(rows * cols, *grid_ws.shape[2:])
    if body.output == MixOutput.cells:
        final_ws = pipeline.truncate(cells_ws, body.psi, body.cutoff)
        images = await pipeline.synthesize(final_ws, body.noise, body.noise_seed)
        state.metrics.images.labels(name).inc(len(images))
        encoded = await encode_base64(state, images, body.format, final_ws if body.include_ws else None)
        cells = [MixCell(row=i // cols, column=i % cols, **e.model_dump()) for i, e in enumerate(encoded)]
        return MixResponse(model=name, layers=layers, cells=cells)

    # Grid: the sources along the top and the left, as style_mixing.py draws it.
    all_ws = pipeline.truncate(np.concatenate([col_ws, row_ws, cells_ws]), body.psi, body.cutoff)
    images = await pipeline.synthesize(all_ws, body.noise, body.noise_seed)
    state.metrics.images.labels(name).inc(len(images))
    data = await state.run_blocking(_draw_grid, images, rows, cols, body.format, state.settings)
    return Response(data, media_type=MEDIA_TYPES[body.format])


def _draw_grid(images: np.ndarray, rows: int, cols: int, fmt, settings) -> bytes:
    _, h, w, c = images.shape
    canvas = np.zeros(((rows + 1) * h, (cols + 1) * w, c), dtype=np.uint8)
    col_images, row_images, cell_images = images[:cols], images[cols : cols + rows], images[cols + rows :]
    for j in range(cols):
        canvas[:h, (j + 1) * w : (j + 2) * w] = col_images[j]
    for i in range(rows):
        canvas[(i + 1) * h : (i + 2) * h, :w] = row_images[i]
        for j in range(cols):
            canvas[(i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w] = cell_images[i * cols + j]
    return encode_image(canvas, fmt, settings)
