import numpy as np
import pytest

from ganserve import latents


def test_seeds_to_z_matches_nvlabs_randomstate():
    z = latents.seeds_to_z([0, 42, 2**32 - 1], 512)
    assert z.dtype == np.float32 and z.shape == (3, 512)
    np.testing.assert_array_equal(z[1], np.random.RandomState(42).randn(1, 512)[0].astype(np.float32))
    np.testing.assert_array_equal(z[2], np.random.RandomState(2**32 - 1).randn(1, 512)[0].astype(np.float32))


def test_one_hot():
    c = latents.one_hot([2, None, 0], 3)
    np.testing.assert_array_equal(c, [[0, 0, 1], [0, 0, 0], [1, 0, 0]])


def test_truncate_all_layers_and_cutoff():
    ws = np.ones((1, 4, 2), np.float32)
    w_avg = np.zeros(2, np.float32)
    np.testing.assert_allclose(latents.truncate(ws, w_avg, 0.5), 0.5)
    cut = latents.truncate(ws, w_avg, 0.5, cutoff=2)
    np.testing.assert_allclose(cut[0, :2], 0.5)
    np.testing.assert_allclose(cut[0, 2:], 1.0)
    assert latents.truncate(ws, w_avg, 1.0) is ws


def test_slerp_endpoints_and_unit_sphere():
    rng = np.random.RandomState(0)
    a, b = rng.randn(16), rng.randn(16)
    np.testing.assert_allclose(latents.slerp(a, b, 0.0), a, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(latents.slerp(a, b, 1.0), b, rtol=1e-5, atol=1e-5)
    mid = latents.slerp(a / np.linalg.norm(a), b / np.linalg.norm(b), 0.5)
    assert abs(np.linalg.norm(mid) - 1) < 1e-5
    # On the great circle, the midpoint is equally far from both ends.
    assert np.isclose(mid @ a / np.linalg.norm(a), mid @ b / np.linalg.norm(b), atol=1e-5)


def test_walk_open_and_loop():
    keys = np.array([[0.0], [1.0], [3.0]], np.float32)
    open_walk = latents.walk(keys, 5, loop=False, spherical=False)
    np.testing.assert_allclose(open_walk[:, 0], [0, 0.5, 1, 2, 3])
    loop_walk = latents.walk(keys, 6, loop=True, spherical=False)
    np.testing.assert_allclose(loop_walk[:, 0], [0, 0.5, 1, 2, 3, 1.5])  # back towards the first, not repeating it


def test_mix_copies_chosen_layers_from_columns():
    rows = np.zeros((2, 4, 1), np.float32)
    cols = np.ones((3, 4, 1), np.float32) * np.arange(1, 4)[:, None, None]
    grid = latents.mix(rows, cols, [1, 2])
    assert grid.shape == (2, 3, 4, 1)
    np.testing.assert_array_equal(grid[1, 2, :, 0], [0, 3, 3, 0])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("coarse", [0, 1, 2, 3]), ("0-2", [0, 1, 2]), ("0,2,4-5", [0, 2, 4, 5]), ("fine+0", [0, 8, 9]), ("3", [3])],
)
def test_parse_layers(spec, expected):
    groups = {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9]}
    assert latents.parse_layers(spec, 10, groups) == expected


@pytest.mark.parametrize("spec", ["0-10", "5-2", "huge", "-1", "1-2-3", ""])
def test_parse_layers_rejects(spec):
    with pytest.raises(ValueError):
        latents.parse_layers(spec, 10, {"coarse": [0, 1]})


def test_random_noise_maps_are_reproducible_per_seed():
    shapes = [(4, 4), (8, 8)]
    first = latents.random_noise_maps([7, 8], shapes)
    again = latents.random_noise_maps([8], shapes)
    assert [m.shape for m in first] == [(2, 1, 4, 4), (2, 1, 8, 8)]
    np.testing.assert_array_equal(first[1][1], again[1][0])
    assert not np.array_equal(first[0][0], first[0][1])
