"""The engines behind one interface: ONNX Runtime (serving default) and torch (reference)."""

import subprocess
import sys

import numpy as np
import pytest

from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.engines import EngineError, load_engine
from ganserve.settings import REPO_ROOT, EngineKind, Settings
from tolerances import MAPPING_ULPS, assert_close_ulps

DEMO = REPO_ROOT / "models" / "demo64"


@pytest.fixture(scope="module")
def engines():
    artifact = Artifact(DEMO)
    return artifact, {kind: load_engine(artifact, Settings(engine=kind)) for kind in (EngineKind.onnxruntime, EngineKind.torch)}


def test_engines_agree(engines):
    artifact, by_kind = engines
    cfg = artifact.config
    z = latents.seeds_to_z([1, 2, 3], cfg.z_dim)
    c = np.zeros((3, 0), np.float32)
    w = {kind: engine.map(z, c) for kind, engine in by_kind.items()}
    assert_close_ulps(w[EngineKind.onnxruntime], w[EngineKind.torch], MAPPING_ULPS, "mapping")

    ws = latents.broadcast_ws(w[EngineKind.torch], cfg.num_ws)
    const = {kind: engine.synthesize(ws, np.ones(3, np.float32)) for kind, engine in by_kind.items()}
    assert np.abs(const["onnxruntime"].astype(int) - const["torch"]).max() <= 1
    maps = latents.random_noise_maps([5, 6, 7], cfg.noise_shapes)
    noisy = {kind: engine.synthesize_with_noise(ws, maps) for kind, engine in by_kind.items()}
    assert np.abs(noisy["onnxruntime"].astype(int) - noisy["torch"]).max() <= 1
    assert not np.array_equal(noisy["torch"], const["torch"])


def test_stale_compile_is_refused(tmp_path):
    import shutil

    shutil.copytree(DEMO, tmp_path / "demo64")
    weights = tmp_path / "demo64" / "generator.json"
    weights.write_text(weights.read_text().replace('"random-init"', '"edited"'))
    with pytest.raises(EngineError, match="compiled from other weights"):
        load_engine(Artifact(tmp_path / "demo64"), Settings())


def test_missing_graphs_name_the_fix(tmp_path):
    with pytest.raises(EngineError, match="ganserve compile"):
        load_engine(Artifact(DEMO), Settings(model_repository=tmp_path))


def test_serving_path_does_not_import_torch():
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from ganserve.api.app import create_app\n"
        "with TestClient(create_app()) as client:\n"
        "    assert client.get('/v1/models/demo64/seeds/1.png').status_code == 200\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_engines_agree_on_stylegan3_views(model_dirs):
    """The torch engine (reference) and ONNX Runtime give the same StyleGAN3 images for per-image views."""
    models, repository = model_dirs
    artifact = Artifact(models / "sg3t")
    by_kind = {
        kind: load_engine(artifact, Settings(engine=kind, model_repository=repository))
        for kind in (EngineKind.onnxruntime, EngineKind.torch)
    }
    cfg = artifact.config
    ws = latents.broadcast_ws(by_kind["torch"].map(latents.seeds_to_z([1, 2], cfg.z_dim), np.zeros((2, 0), np.float32)), cfg.num_ws)
    transform = np.stack([latents.input_transform((0.0, 0.0), 0.0), latents.input_transform((0.3, -0.1), 20.0)])
    images = {kind: engine.synthesize_transformed(ws, transform) for kind, engine in by_kind.items()}
    assert np.abs(images["onnxruntime"].astype(int) - images["torch"]).max() <= 1
    alone = by_kind["onnxruntime"].synthesize_transformed(ws[1:], transform[1:])
    assert np.array_equal(alone[0], images["onnxruntime"][1])  # a view applies to its own image only
    assert not np.array_equal(images["torch"][0], by_kind["torch"].synthesize_transformed(ws[:1], transform[1:])[0])
