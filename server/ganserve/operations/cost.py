"""What a request will cost, known from the request alone, before any work: the images the engine
makes, and the pictures the encoder writes (a grid or an animation is one picture of many cells).

`admit` refuses a request over the budget (422 naming the field that sets its size): more pixels
than GANSERVE_MAX_REQUEST_PIXELS, or a picture larger than its format can hold (WebP stops at
16383 pixels a side, JPEG and GIF at 65535). Then it charges the images to the caller's rate limit,
and gives the request its engine budget (ganserve.batching.Budget): its deadline (the one the
transport read, else GANSERVE_REQUEST_DEADLINE_S from now) and its priority (interactive up to
GANSERVE_INTERACTIVE_MAX_IMAGES images, bulk beyond).
"""

from __future__ import annotations

import contextvars
import math
import time
from dataclasses import dataclass

from ganserve.access.gate import Caller
from ganserve.batching import Budget, current_budget
from ganserve.errors import InvalidInput
from ganserve.protocol import (
    BatchOutput,
    BatchRequest,
    ChildrenOutput,
    ChildrenRequest,
    InterpolationOutput,
    InterpolationRequest,
    MixOutput,
    MixRequest,
)
from ganserve.state import AppState

ENCODER_MAX_SIDE = {"png": 2**31 - 1, "jpg": 65_535, "webp": 16_383, "gif": 65_535}
# The deadline a transport read off the request (HTTP X-Deadline-Ms, gRPC's own), as time.monotonic().
requested_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("requested_deadline", default=None)


@dataclass(frozen=True)
class Cost:
    images: int  # made by the engine
    pictures: int  # encoded (the frames of an animation count one each)
    height: int  # of each picture
    width: int
    format: str  # png, jpg, webp, gif; "" when nothing is encoded
    field: str  # the request field that sets the size, named when the request is refused

    @property
    def pixels(self) -> int:
        return self.pictures * self.height * self.width


def grid_shape(count: int, columns: int | None) -> tuple[int, int]:
    """(rows, columns) of encode.tile's grid."""
    columns = columns or math.ceil(math.sqrt(count))
    return math.ceil(count / columns), columns


def _images(count: int, resolution: int, fmt: str, field: str) -> Cost:
    return Cost(count, count, resolution, resolution, fmt, field)


def _grid(count: int, columns: int | None, resolution: int, fmt: str, field: str) -> Cost:
    rows, columns = grid_shape(count, columns)
    return Cost(count, 1, rows * resolution, columns * resolution, fmt, field)


def of_batch(body: BatchRequest, resolution: int, grid: bool | None = None) -> Cost:
    """`grid`: the gRPC front end's flag; over HTTP, output=grid."""
    count = len(body.latents)
    if body.output == BatchOutput.grid if grid is None else grid:
        return _grid(count, body.columns, resolution, body.format, "latents")
    return _images(count, resolution, body.format, "latents")


def of_interpolation(body: InterpolationRequest, resolution: int) -> Cost:
    if body.output == InterpolationOutput.latents:
        return Cost(0, 0, 0, 0, "", "frames")
    if body.output == InterpolationOutput.frame:
        return _images(1, resolution, body.format, "frames")
    return _images(body.frames, resolution, body.format, "frames")


def of_mix(body: MixRequest, resolution: int) -> Cost:
    rows, columns = len(body.rows), len(body.columns)
    if body.output == MixOutput.grid:  # the sources along the top and the left, the cells between
        return Cost(rows * columns + rows + columns, 1, (rows + 1) * resolution, (columns + 1) * resolution, body.format, "rows")
    if body.output == MixOutput.cell:
        return _images(1, resolution, body.format, "rows")
    return _images(rows * columns, resolution, body.format, "rows")


def of_children(body: ChildrenRequest, resolution: int) -> Cost:
    count = body.count + body.include_parent
    if body.output == ChildrenOutput.latents:
        return Cost(0, 0, 0, 0, "", "count")
    if body.output == ChildrenOutput.grid:
        return _grid(count, body.columns, resolution, body.format, "count")
    return _images(count, resolution, body.format, "count")


def check(cost: Cost, max_pixels: int) -> None:
    if cost.pixels > max_pixels:
        raise InvalidInput(
            cost.field,
            f"this request makes {cost.pixels:,} pixels, more than {max_pixels:,} (GANSERVE_MAX_REQUEST_PIXELS): "
            "ask for fewer or smaller images",
        )
    side = ENCODER_MAX_SIDE.get(cost.format)
    if side is not None and max(cost.height, cost.width) > side:
        raise InvalidInput(
            cost.field,
            f"a {cost.height}x{cost.width} picture is larger than {cost.format} can hold ({side} a side): use fewer columns or png",
        )


async def admit(state: AppState, caller: Caller, cost: Cost) -> None:
    """Within the budget, and within the caller's image rate: else refused, and nothing is done."""
    settings = state.settings
    check(cost, settings.max_request_pixels)
    await state.access.charge_images(caller, cost.images)
    deadline = requested_deadline.get() or time.monotonic() + settings.request_deadline_s
    current_budget.set(Budget(deadline, interactive=cost.images <= settings.interactive_max_images))
