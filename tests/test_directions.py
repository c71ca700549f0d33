"""ganserve.directions: the stored directions are what their methods define, recomputed here
independently from the stored weights and samples, and only the weights they belong to get them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import COND_MODEL
from ganserve.artifacts import Artifact, ModelConfig, Source
from ganserve.directions import JSON_FILE, WEIGHTS_FILE, Directions, ganspace, sample_latents, style_affines
from ganserve.settings import REPO_ROOT

DEMO = REPO_ROOT / "models" / "demo64"


@pytest.fixture(scope="module")
def demo() -> tuple[Artifact, Directions]:
    artifact = Artifact(DEMO)
    return artifact, Directions.load(artifact)


def test_every_committed_model_has_directions_for_its_weights():
    for directory in sorted((REPO_ROOT / "models").glob("*/generator.json")):
        artifact = Artifact(directory.parent)
        assert len(Directions.load(artifact)) > 0, f"{artifact.config.name}: run `ganserve directions {directory.parent}`"


def test_sefa_equals_an_independent_eigendecomposition_of_the_stored_affines(demo):
    artifact, directions = demo
    weights = load_file(artifact.weights_path)
    # Written out by hand: the coarse layers of a 64x64 StyleGAN2 are ws 0-3, which NVlabs' block_ws
    # hands to the 4x4 and 8x8 blocks and to the first conv of the 16x16 block.
    names = ["b4.conv1", "b4.torgb", "b8.conv0", "b8.conv1", "b8.torgb", "b16.conv0"]
    rows = np.concatenate([weights[f"synthesis.{name}.affine.weight"] for name in names]).astype(np.float64)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    values, vectors = np.linalg.eig(rows.T @ rows)  # eig, not eigh: a different routine than the module's
    order = np.argsort(values.real)[::-1]
    for i in range(8):
        stored = directions.get(f"sefa-coarse-{i}")
        expected = vectors[:, order[i]].real
        assert stored.eigenvalue == pytest.approx(values.real[order[i]], rel=1e-6)
        # Unit vectors agree up to sign; float32 storage of values near 1/sqrt(256).
        assert abs(float(np.dot(stored.vector, expected))) == pytest.approx(1.0, abs=1e-5)
    assert directions.get("sefa-coarse-0").layers == "coarse"


def test_ganspace_components_are_orthonormal_with_variance_descending(demo):
    _, directions = demo
    chosen = [directions.get(f"ganspace-{i}") for i in range(32)]
    vectors = np.stack([d.vector for d in chosen]).astype(np.float64)
    np.testing.assert_allclose(vectors @ vectors.T, np.eye(32), atol=1e-5)
    sigmas = [d.sigma for d in chosen]
    ratios = [d.explained_variance for d in chosen]
    assert sigmas == sorted(sigmas, reverse=True) and all(s > 0 for s in sigmas)
    assert ratios == sorted(ratios, reverse=True) and 0 < sum(ratios) <= 1


def test_ganspace_sigma_is_the_spread_of_w_along_the_component():
    rng = np.random.default_rng(0)
    scales = np.array([5.0, 2.0, 0.5])
    w = rng.standard_normal((20000, 3)) * scales
    components, sigmas, ratios = ganspace(w, 3)
    np.testing.assert_allclose(sigmas, scales, rtol=0.03)  # sampling error of a std over 20k draws
    np.testing.assert_allclose(np.abs(components), np.eye(3), atol=0.02)
    np.testing.assert_allclose(ratios, scales**2 / (scales**2).sum(), rtol=0.06)


def test_style_affines_follow_the_ws_each_layer_takes(demo):
    artifact, _ = demo
    indices = [index for index, _ in style_affines(artifact.config, artifact.load_weights())]
    # b4: conv1 ws0, torgb ws1; then per block conv0, conv1, torgb on 2k-5, 2k-4, 2k-3.
    assert indices == [0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9]


def test_stylegan3_leaves_out_the_input_affine():
    config = ModelConfig(
        name="sg3", architecture="stylegan3", resolution=16, z_dim=4, w_dim=4, num_ws=4, source=Source(kind="test"), stylegan3={}
    )
    weights = {
        name: np.ones([2, 4], np.float32)
        for name in ("synthesis.input.affine.weight", "synthesis.L0_36_8.affine.weight", "synthesis.L2_16_3.affine.weight")
    }
    assert [index for index, _ in style_affines(config, weights)] == [1, 3]


def test_class_directions_go_from_one_class_mean_to_another(model_dirs):
    artifact = Artifact(model_dirs[0] / COND_MODEL)
    directions = Directions.load(artifact)
    means = directions.class_means
    forward, backward = directions.get("class-1-3"), directions.get("class-3-1")
    np.testing.assert_allclose(forward.vector * forward.sigma, means[3] - means[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(backward.vector, -forward.vector, atol=1e-6)
    assert forward.label == "class dog → fish"
    assert directions.get("class-1-1") is None and directions.get("class-1-5") is None
    listed = {d.id for d in directions.listed()}
    assert {"class-0-4", "class-4-0", "ganspace-0", "sefa-all-0"} <= listed and len(listed) == len(directions)


def test_class_means_are_the_means_of_sampled_w(model_dirs):
    artifact = Artifact(model_dirs[0] / COND_MODEL)
    directions = Directions.load(artifact)
    stored = json.loads((artifact.directory / JSON_FILE).read_text())["computed"]
    import torch

    from ganserve.generator.export import load_generator  # torch, as `ganserve compile` samples

    mapping = load_generator(artifact).mapping
    w, classes = sample_latents(
        artifact.config, lambda z, c: mapping(torch.from_numpy(z), torch.from_numpy(c)).numpy(), 2000, stored["seed"]
    )
    # 2,000 of the 100,000 samples: the means agree to within their sampling error.
    spread = w.std(axis=0).max()
    for i in range(artifact.config.c_dim):
        assert np.abs(w[classes == i].mean(axis=0) - directions.class_means[i]).max() < 4 * spread / np.sqrt(400)


def test_directions_of_other_weights_are_not_served(tmp_path, demo):
    _, directions = demo
    copy = tmp_path / "demo64"
    shutil.copytree(DEMO, copy)
    assert len(Directions.load(Artifact(copy))) == len(directions)
    config = json.loads((copy / "generator.json").read_text())
    config["source"]["detail"] = "retrained"  # a new config: a new digest
    (copy / "generator.json").write_text(json.dumps(config))
    assert len(Directions.load(Artifact(copy))) == 0
    (copy / JSON_FILE).unlink()
    (copy / WEIGHTS_FILE).unlink()
    assert len(Directions.load(Artifact(copy))) == 0
