"""Style mixing, rows x columns, as NVlabs' style_mixing.py does it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganserve import latents
from ganserve.errors import InvalidInput
from ganserve.pipeline import ModelPipeline
from ganserve.protocol import MixOutput, MixRequest
from ganserve.settings import Settings
from ganserve.state import AppState


@dataclass
class Mix:
    layers: list[int]  # the ws indices copied from the columns
    images: np.ndarray  # output=grid: one canvas [1, H, W, C]; else the cells, row-major (output=cell: the chosen one)
    ws: np.ndarray | None  # the cells' final ws [N, num_ws, w_dim]; None for a grid


def check(body: MixRequest, settings: Settings) -> None:
    side = settings.max_mix_side
    for name, items in (("rows", body.rows), ("columns", body.columns)):
        if len(items) > side:
            raise InvalidInput(name, f"at most {side} {name} (GANSERVE_MAX_MIX_SIDE)")
    if body.output == MixOutput.cell:
        if body.row is None or body.row >= len(body.rows):
            raise InvalidInput("row", f"output=cell needs a row index 0-{len(body.rows) - 1}")
        if body.column is None or body.column >= len(body.columns):
            raise InvalidInput("column", f"output=cell needs a column index 0-{len(body.columns) - 1}")


async def _synthesize(
    state: AppState, pipeline: ModelPipeline, body: MixRequest, ws: np.ndarray, offsets: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    final_ws = pipeline.truncate(ws, body.psi, body.cutoff, offsets)
    images = await pipeline.synthesize(final_ws, body.noise, body.noise_seed, view=body.view)
    state.metrics.images.labels(pipeline.config.name).inc(len(images))
    return images, final_ws


async def mix(state: AppState, pipeline: ModelPipeline, body: MixRequest) -> Mix:
    """The grid (column sources along the top, row sources on the left, cells between), every cell,
    or the one cell of output=cell."""
    check(body, state.settings)
    layers = pipeline.layer_indices(body.layers, "layers", with_all=False)
    class_index = pipeline.class_index(body.class_)
    row_offsets, column_offsets = pipeline.edit_offsets(body.rows, "rows"), pipeline.edit_offsets(body.columns, "columns")
    row_ws = await pipeline.to_ws(body.rows, class_index, "rows")
    column_ws = await pipeline.to_ws(body.columns, class_index, "columns")
    cells_ws = _cells(row_ws, column_ws, layers)
    # A cell's edits are mixed as its latents are: the row's on the row's layers, the column's on the chosen ones.
    edited = row_offsets is not None or column_offsets is not None
    row_offsets = np.zeros_like(row_ws) if row_offsets is None else row_offsets
    column_offsets = np.zeros_like(column_ws) if column_offsets is None else column_offsets
    cells_offsets = _cells(row_offsets, column_offsets, layers) if edited else None
    if body.output == MixOutput.grid:
        offsets = np.concatenate([column_offsets, row_offsets, cells_offsets]) if cells_offsets is not None else None
        images, _ = await _synthesize(state, pipeline, body, np.concatenate([column_ws, row_ws, cells_ws]), offsets)
        canvas = await state.run_blocking(draw_grid, images, len(body.rows), len(body.columns))
        return Mix(layers, canvas[None], None)
    if body.output == MixOutput.cell and body.row is not None and body.column is not None:
        chosen = body.row * len(body.columns) + body.column
        cells_ws = cells_ws[chosen][None]
        cells_offsets = None if cells_offsets is None else cells_offsets[chosen][None]
    images, final_ws = await _synthesize(state, pipeline, body, cells_ws, cells_offsets)
    return Mix(layers, images, final_ws)


def _cells(row_ws: np.ndarray, column_ws: np.ndarray, layers: list[int]) -> np.ndarray:
    """Every (row, column) cell, row-major: [R * C, num_ws, w_dim]."""
    return latents.mix(row_ws, column_ws, layers).reshape(len(row_ws) * len(column_ws), *row_ws.shape[1:])


def draw_grid(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    _, h, w, c = images.shape
    canvas = np.zeros(((rows + 1) * h, (cols + 1) * w, c), dtype=np.uint8)
    col_images, row_images, cell_images = images[:cols], images[cols : cols + rows], images[cols + rows :]
    for j in range(cols):
        canvas[:h, (j + 1) * w : (j + 2) * w] = col_images[j]
    for i in range(rows):
        canvas[(i + 1) * h : (i + 2) * h, :w] = row_images[i]
        for j in range(cols):
            canvas[(i + 1) * h : (i + 2) * h, (j + 1) * w : (j + 2) * w] = cell_images[i * cols + j]
    return canvas
