"""A request's cost, known before any work, against the documented budget (64 Mi pixels) and the
encoders' largest pictures: tested just under and just over the defaults, on a 1024² model."""

import pytest

from ganserve.errors import InvalidInput
from ganserve.operations import cost
from ganserve.protocol import BatchRequest, ChildrenRequest, InterpolationRequest, MixRequest
from ganserve.settings import Settings

BUDGET = Settings().max_request_pixels
RES = 1024


def seeds(n: int) -> list[dict]:
    return [{"seed": i} for i in range(n)]


def test_the_default_budget_is_64_frames_of_1024_squared():
    assert BUDGET == 64 * RES * RES
    cost.check(cost.of_interpolation(InterpolationRequest(keyframes=seeds(2), frames=64), RES), BUDGET)
    with pytest.raises(InvalidInput) as refused:
        cost.check(cost.of_interpolation(InterpolationRequest(keyframes=seeds(2), frames=65), RES), BUDGET)
    assert refused.value.field == "frames" and "GANSERVE_MAX_REQUEST_PIXELS" in refused.value.message


def test_what_each_request_makes():
    assert cost.of_batch(BatchRequest(latents=seeds(5)), 64) == cost.Cost(5, 5, 64, 64, "png", "latents")
    grid = cost.of_batch(BatchRequest(latents=seeds(5), output="grid", columns=2), 64)
    assert (grid.images, grid.pictures, grid.height, grid.width) == (5, 1, 3 * 64, 2 * 64)
    mix = cost.of_mix(MixRequest(rows=seeds(2), columns=seeds(3)), 64)
    assert (mix.images, mix.height, mix.width) == (2 * 3 + 2 + 3, 3 * 64, 4 * 64)  # sources on the top and the left
    assert cost.of_children(ChildrenRequest(parent={"seed": 1}, count=4, include_parent=True, output="list"), 64).images == 5
    assert cost.of_interpolation(InterpolationRequest(keyframes=seeds(2), frames=40, output="latents"), 64).images == 0
    assert cost.of_interpolation(InterpolationRequest(keyframes=seeds(2), frames=40, output="frame", frame=3), 64).images == 1


@pytest.mark.parametrize(("fmt", "side"), [("webp", 16_383), ("jpg", 65_535)])
def test_a_grid_its_encoder_cannot_write_is_refused(fmt, side):
    """WebP pictures stop at 16383 pixels a side: 16 columns of 1024² do not fit, 15 do."""
    columns = side // RES
    fits = cost.of_batch(BatchRequest(latents=seeds(columns), output="grid", columns=columns, format=fmt), RES)
    cost.check(fits, 10**12)
    wide = cost.of_batch(BatchRequest(latents=seeds(columns + 1), output="grid", columns=columns + 1, format=fmt), RES)
    with pytest.raises(InvalidInput) as refused:
        cost.check(wide, 10**12)
    assert refused.value.field == "latents" and f"{fmt} can hold ({side} a side)" in refused.value.message
    cost.check(cost.of_batch(BatchRequest(latents=seeds(17), output="grid", columns=17, format="png"), RES), 10**12)  # PNG can
