import base64
import io

import numpy as np
import pytest
from PIL import Image

from conftest import assert_error

URL = "/v1/models/demo64/mixes"
ROWS, COLS = [{"seed": 1}, {"seed": 2}], [{"seed": 3}, {"seed": 4}, {"seed": 5}]


def png(content: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(content)))


def seed_png(client, seed) -> np.ndarray:
    return png(client.get(f"/v1/models/demo64/seeds/{seed}.png").content)


def test_grid_layout_like_style_mixing_py(client):
    grid = png(client.post(URL, json={"rows": ROWS, "columns": COLS, "layers": "coarse"}).content)
    assert grid.shape == (3 * 64, 4 * 64, 3)
    assert not grid[:64, :64].any()  # empty corner
    np.testing.assert_array_equal(grid[:64, 64:128], seed_png(client, 3))  # column sources on top
    np.testing.assert_array_equal(grid[128:192, :64], seed_png(client, 2))  # row sources on the left


def test_cells_take_chosen_layers_from_columns(client):
    body = client.post(URL, json={"rows": ROWS, "columns": COLS, "layers": "0-9", "output": "cells"}).json()
    assert body["layers"] == list(range(10)) and len(body["cells"]) == 6
    cell = next(c for c in body["cells"] if c["row"] == 1 and c["column"] == 2)
    # Every layer from the column: the cell is the column's image.
    np.testing.assert_array_equal(png(base64.b64decode(cell["data"])), seed_png(client, 5))


@pytest.mark.parametrize("layers", ["coarse", "middle", "fine", "0-6", [0, 2, 4]])
def test_layer_choices_change_the_cell(client, layers):
    cell = client.post(URL, json={"rows": ROWS, "columns": COLS, "layers": layers, "output": "cell", "row": 0, "column": 0})
    image = png(cell.content)
    assert not np.array_equal(image, seed_png(client, 1)) and not np.array_equal(image, seed_png(client, 3))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"rows": ROWS, "columns": COLS, "layers": "ultra"}, "layers"),
        ({"rows": ROWS, "columns": COLS, "layers": "0-10"}, "layers"),
        ({"rows": ROWS, "columns": COLS, "layers": [10]}, "layers"),
        ({"rows": ROWS, "columns": COLS, "layers": []}, "layers"),
        ({"rows": [], "columns": COLS}, "rows"),
        ({"rows": ROWS * 2, "columns": COLS}, "rows"),
        ({"rows": ROWS, "columns": COLS * 2}, "columns"),
        ({"rows": ROWS, "columns": COLS, "output": "cell", "row": 2, "column": 0}, "row"),
        ({"rows": ROWS, "columns": COLS, "output": "cell", "row": 0}, "column"),
        ({"rows": ROWS, "columns": [{"w": [1.0]}]}, "columns[0].w"),
    ],
)
def test_bad_input(client, body, field):
    assert_error(client.post(URL, json=body), 422, field)


def test_cells_can_return_their_ws_to_save(client):
    body = client.post(URL, json={"rows": ROWS, "columns": COLS, "output": "cells", "include_ws": True, "psi": 0.5}).json()
    ws = body["cells"][0]["ws"]
    assert len(ws) == 10 and len(ws[0]) == 256
    saved = client.post("/v1/latents", json={"model": "demo64", "latent": {"ws": ws}})
    assert saved.status_code == 201
    again = client.post("/v1/models/demo64/images", json={"latents": [{"id": saved.json()["id"]}]}).json()["images"][0]
    np.testing.assert_array_equal(png(base64.b64decode(again["data"])), png(base64.b64decode(body["cells"][0]["data"])))
