"""ONNX graphs against the torch generator, and the committed demo graphs against their weights."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ganserve import latents
from ganserve.artifacts import Artifact, save_artifact
from ganserve.generator.export import export_onnx, load_generator
from ganserve.generator.networks import to_uint8_nhwc
from ganserve.repository import DIGEST_KEY, graph_path
from ganserve.settings import REPO_ROOT
from nvlabs_reference import assert_nvlabs_parity, load_case
from tolerances import MAPPING_ULPS, assert_close_ulps


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    config, state, reference = load_case("sg2_uncond_32")
    artifact = save_artifact(root / "models" / config.name, config, state)
    export_onnx(artifact, root / "repo")
    sessions = {
        part: ort.InferenceSession(str(graph_path(root / "repo", config.name, part)))
        for part in ("mapping", "synthesis", "synthesis_noise")
    }
    return artifact, sessions, reference


def test_graphs_have_dynamic_batch_and_record_their_weights(compiled):
    artifact, sessions, _ = compiled
    for session in sessions.values():
        assert session.get_inputs()[0].shape[0] not in (1, 2)  # symbolic, not frozen to the export batch
        assert session.get_modelmeta().custom_metadata_map[DIGEST_KEY] == artifact.digest


@pytest.mark.parametrize("batch", [1, 3, 7])
def test_onnx_matches_torch(compiled, batch):
    artifact, sessions, _ = compiled
    generator = load_generator(artifact)
    cfg = artifact.config
    z = latents.seeds_to_z(list(range(batch)), cfg.z_dim)
    with torch.no_grad():
        w_torch = generator.mapping(torch.from_numpy(z)).numpy()
    w_onnx = sessions["mapping"].run(None, {"z": z})[0]
    assert_close_ulps(w_onnx, w_torch, MAPPING_ULPS, "mapping")

    ws = latents.broadcast_ws(w_torch, cfg.num_ws)
    gain = np.array([1.0, 0.0] * batch, np.float32)[:batch]
    with torch.no_grad():
        expected = to_uint8_nhwc(generator.synthesis(torch.from_numpy(ws), noise_gain=torch.from_numpy(gain))).numpy()
    images = sessions["synthesis"].run(None, {"ws": ws, "noise_gain": gain})[0]
    assert images.dtype == np.uint8 and images.shape == (batch, cfg.resolution, cfg.resolution, 3)
    assert np.abs(images.astype(int) - expected).max() <= 1

    maps = latents.random_noise_maps(list(range(batch)), cfg.noise_shapes)
    with torch.no_grad():
        expected = to_uint8_nhwc(generator.synthesis(torch.from_numpy(ws), noise_maps=[torch.from_numpy(m) for m in maps])).numpy()
    feeds = {"ws": ws, **{f"noise_{i}": m for i, m in enumerate(maps)}}
    assert np.abs(sessions["synthesis_noise"].run(None, feeds)[0].astype(int) - expected).max() <= 1


def test_onnx_matches_nvlabs_reference(compiled):
    _, sessions, ref = compiled
    ws = ref["ws_psi07_const"]
    images = sessions["synthesis"].run(None, {"ws": ws, "noise_gain": np.ones(len(ws), np.float32)})[0]
    assert_nvlabs_parity(images, ref["img_psi07_const"], "onnx")


def test_committed_demo_graphs_are_compiled_from_committed_weights():
    artifact = Artifact(REPO_ROOT / "models" / "demo64")
    for part in ("mapping", "synthesis", "synthesis_noise"):
        session = ort.InferenceSession(str(graph_path(REPO_ROOT / "model_repository", "demo64", part)))
        assert session.get_modelmeta().custom_metadata_map[DIGEST_KEY] == artifact.digest, (
            f"recompile: ganserve compile {artifact.directory}"
        )
