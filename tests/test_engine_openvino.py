"""The OpenVINO engine (GANSERVE_ENGINE=openvino): in exact mode ONNX Runtime's images within the
parity tolerance for the committed models and every path (mapping, const, none and random noise,
truncation, StyleGAN3 views, batches of 1 to the batcher's maximum); fast mode in bf16 only where
the CPU has it, saying which precision it runs and why; the threads and streams it compiles with;
the Triton openvino target (IR and config); and a gateway on it that serves ONNX Runtime's bytes.

The whole API suite runs on this engine with `make test-openvino` (GANSERVE_TEST_ENGINE=openvino)."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import openvino as ov
import pytest
from fastapi.testclient import TestClient
from google.protobuf import text_format
from PIL import Image
from tritonclient.grpc import model_config_pb2

from conftest import COND_MODEL, SG3_MODELS
from ganserve import latents
from ganserve.api.app import create_app
from ganserve.artifacts import Artifact
from ganserve.engines import EngineError, load_engine
from ganserve.engines import openvino as openvino_engine
from ganserve.engines.openvino import Bf16Support, OpenVinoEngine, detect_bf16
from ganserve.repository import DIGEST_KEY, Target, entry_dir, graph_path, version_digest_key
from ganserve.settings import REPO_ROOT, EngineKind, Settings
from tolerances import MAPPING_ULPS, assert_close_ulps, assert_same_image

MODELS = ["demo64", "emoji32"]  # the committed models: random-init 64x64 and the trained 32x32
BATCHES = (1, 2, 3, 7, Settings().batch_max_size)  # dynamic batch: every size the micro-batcher sends
HAS_BF16 = detect_bf16(ov.Core()).available
needs_bf16 = pytest.mark.skipif(not HAS_BF16, reason="this CPU has no native bf16 (avx512_bf16 or amx_bf16)")


def ws_of(engine, artifact: Artifact, seeds: list[int], psi: float = 1.0, cutoff: int | None = None) -> np.ndarray:
    cfg = artifact.config
    classes = [i % cfg.c_dim if cfg.c_dim else None for i in range(len(seeds))]
    w = engine.map(latents.seeds_to_z(seeds, cfg.z_dim), latents.one_hot(classes, cfg.c_dim))
    return latents.truncate(latents.broadcast_ws(w, cfg.num_ws), artifact.load_w_avg(), psi, cutoff)


@pytest.fixture(scope="module", params=MODELS)
def engines(request):
    """(artifact, ONNX Runtime, OpenVINO exact) on a committed model, as served."""
    artifact = Artifact(REPO_ROOT / "models" / request.param)
    return artifact, load_engine(artifact, Settings()), load_engine(artifact, Settings(engine=EngineKind.openvino))


def test_exact_mapping_matches_onnxruntime(engines):
    artifact, reference, engine = engines
    cfg = artifact.config
    seeds = list(range(16))
    c = latents.one_hot([i % cfg.c_dim if cfg.c_dim else None for i in seeds], cfg.c_dim)
    z = latents.seeds_to_z(seeds, cfg.z_dim)
    assert_close_ulps(engine.map(z, c), reference.map(z, c), MAPPING_ULPS, f"{cfg.name} mapping")


@pytest.mark.parametrize("batch", BATCHES)
def test_exact_images_match_onnxruntime_at_every_batch_size(engines, batch):
    """const and none noise in one batch (the per-image gain), with and without truncation."""
    artifact, reference, engine = engines
    for psi, cutoff in ((1.0, None), (0.7, None), (0.5, 4)):
        ws = ws_of(reference, artifact, [100 + i for i in range(batch)], psi, cutoff)
        gain = (np.arange(batch) % 2 == 0).astype(np.float32)  # 1: noise=const, 0: noise=none
        what = f"{artifact.config.name} batch {batch} psi {psi} cutoff {cutoff}"
        assert_same_image(engine.synthesize(ws, gain), reference.synthesize(ws, gain), what)


def test_exact_random_noise_matches_onnxruntime(engines):
    artifact, reference, engine = engines
    ws = ws_of(reference, artifact, [5, 6, 7], psi=0.7)
    maps = latents.random_noise_maps([9, 10, 11], artifact.config.noise_shapes)
    noisy = engine.synthesize_with_noise(ws, maps)
    assert_same_image(noisy, reference.synthesize_with_noise(ws, maps), f"{artifact.config.name} noise=random")
    assert not np.array_equal(noisy, engine.synthesize(ws, np.ones(3, np.float32)))  # the maps were used


def test_exact_stylegan3_views_match_onnxruntime(model_dirs):
    models, repository = model_dirs
    for name in SG3_MODELS:
        artifact = Artifact(models / name)
        reference = load_engine(artifact, Settings(model_repository=repository))
        engine = load_engine(artifact, Settings(engine=EngineKind.openvino, model_repository=repository))
        ws = ws_of(reference, artifact, [1, 2, 3], psi=0.8)
        views = [((0.0, 0.0), 0.0), ((0.3, -0.1), 20.0), ((-0.2, 0.25), -45.0)]
        transform = np.stack([latents.input_transform(translate, rotate) for translate, rotate in views])
        assert_same_image(engine.synthesize_transformed(ws, transform), reference.synthesize_transformed(ws, transform), name)


def test_the_comparison_sees_a_wrong_image(engines):
    """The tolerance is not loose: the image of the next seed fails it."""
    artifact, reference, engine = engines
    gain = np.ones(1, np.float32)
    with pytest.raises(AssertionError, match="max difference"):
        next_seed = reference.synthesize(ws_of(reference, artifact, [2]), gain)
        assert_same_image(engine.synthesize(ws_of(reference, artifact, [1]), gain), next_seed)


def compiled_properties(engine: OpenVinoEngine, part: str) -> dict:
    compiled = engine.graphs[part].compiled
    keys = ("INFERENCE_PRECISION_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "EXECUTION_MODE_HINT")
    return {key: str(compiled.get_property(key)) for key in keys}


def test_exact_asks_for_f32_on_one_stream_and_all_cores():
    """f32 explicitly: on CPUs with native bf16, OpenVINO's own default precision is bf16."""
    artifact = Artifact(REPO_ROOT / "models" / "demo64")
    for threads, expected in ((0, len(os.sched_getaffinity(0))), (1, 1)):
        engine = OpenVinoEngine(artifact, Settings(engine=EngineKind.openvino, threads=threads))
        assert (engine.precision, engine.threads) == ("f32", expected)
        for part in artifact.config.graph_parts:
            props = compiled_properties(engine, part)
            assert props["INFERENCE_PRECISION_HINT"] in ("<Type: 'float32'>", "f32"), props
            assert (props["NUM_STREAMS"], props["INFERENCE_NUM_THREADS"]) == ("1", str(expected)), props
            assert "LATENCY" in props["PERFORMANCE_HINT"] and "ACCURACY" in props["EXECUTION_MODE_HINT"], props


def test_fast_without_bf16_runs_exact_and_says_so(monkeypatch):
    monkeypatch.setattr(openvino_engine, "detect_bf16", lambda core: Bf16Support(False, "no BF16 in this test"))
    artifact = Artifact(REPO_ROOT / "models" / "demo64")
    fast = OpenVinoEngine(artifact, Settings(engine=EngineKind.openvino, openvino_precision="fast"))
    exact = OpenVinoEngine(artifact, Settings(engine=EngineKind.openvino))
    assert fast.precision == "f32"
    assert "fast, but no native bf16" in fast.precision_reason and "no BF16 in this test" in fast.precision_reason
    assert "float32" in compiled_properties(fast, "synthesis")["INFERENCE_PRECISION_HINT"]
    ws = ws_of(exact, artifact, [1, 2, 3])
    np.testing.assert_array_equal(fast.synthesize(ws, np.ones(3, np.float32)), exact.synthesize(ws, np.ones(3, np.float32)))


@needs_bf16
def test_fast_runs_synthesis_in_bf16_and_mapping_in_f32():
    artifact = Artifact(REPO_ROOT / "models" / "demo64")
    fast = OpenVinoEngine(artifact, Settings(engine=EngineKind.openvino, openvino_precision="fast"))
    exact = OpenVinoEngine(artifact, Settings(engine=EngineKind.openvino))
    assert fast.precision == "bf16" and "bfloat16" in fast.precision_reason
    assert "bfloat16" in compiled_properties(fast, "synthesis")["INFERENCE_PRECISION_HINT"]
    assert "float32" in compiled_properties(fast, "mapping")["INFERENCE_PRECISION_HINT"]
    z, c = latents.seeds_to_z(list(range(8)), 256), np.zeros((8, 0), np.float32)
    np.testing.assert_array_equal(fast.map(z, c), exact.map(z, c))  # w is exact in both modes
    ws = ws_of(exact, artifact, list(range(8)))
    bf16, f32 = (engine.synthesize(ws, np.ones(8, np.float32)).astype(np.float64) for engine in (fast, exact))
    difference = np.abs(bf16 - f32)
    psnr = 10 * np.log10(255**2 / np.mean(difference**2))
    assert difference.max() > 1  # it really ran in bf16
    assert difference.mean() < 2 and psnr > 35, (difference.mean(), psnr)  # and stays close (benchmarks measure it)


class FakeCore:
    def __init__(self, capabilities: list[str]):
        self.capabilities = capabilities

    def get_property(self, device: str, name: str) -> list[str]:
        assert (device, name) == ("CPU", "OPTIMIZATION_CAPABILITIES")
        return self.capabilities


@pytest.mark.parametrize(
    ("capabilities", "flags", "available", "says"),
    [
        (["FP32", "BF16"], {"avx512f", "avx512_bf16"}, True, "avx512_bf16"),
        (["FP32", "BF16"], {"amx_tile", "amx_bf16"}, True, "amx_bf16"),
        (["FP32", "BF16"], {"avx512f", "avx2"}, False, "neither avx512_bf16 nor amx_bf16"),
        (["FP32", "INT8"], {"avx512_bf16"}, False, "no BF16"),
        (["FP32", "BF16"], None, True, "no /proc/cpuinfo"),
    ],
)
def test_detect_bf16_cross_checks_openvino_with_the_cpu_flags(monkeypatch, capabilities, flags, available, says):
    monkeypatch.setattr(openvino_engine, "cpu_flags", lambda: flags)
    support = detect_bf16(FakeCore(capabilities))
    assert support.available is available and says in support.reason


def test_cpu_flags_reads_linux_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: X\nflags\t\t: fpu avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert openvino_engine.cpu_flags(cpuinfo) == {"fpu", "avx2", "avx512_bf16"}
    assert openvino_engine.cpu_flags(tmp_path / "missing") is None


def test_stale_compile_is_refused_and_missing_graphs_name_the_fix(tmp_path):
    import shutil

    shutil.copytree(REPO_ROOT / "models" / "demo64", tmp_path / "demo64")
    weights = tmp_path / "demo64" / "generator.json"
    weights.write_text(weights.read_text().replace('"random-init"', '"edited"'))
    with pytest.raises(EngineError, match="compiled from other weights"):
        OpenVinoEngine(Artifact(tmp_path / "demo64"), Settings(engine=EngineKind.openvino))
    with pytest.raises(EngineError, match="ganserve compile"):
        OpenVinoEngine(Artifact(REPO_ROOT / "models" / "demo64"), Settings(engine=EngineKind.openvino, model_repository=tmp_path))


def test_serving_on_openvino_does_not_import_torch():
    code = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from ganserve.api.app import create_app\n"
        "from ganserve.settings import Settings\n"
        "with TestClient(create_app(Settings(engine='openvino', grpc_port=0))) as client:\n"
        "    assert client.get('/v1/models/demo64/seeds/1.png').status_code == 200\n"
        "print('torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO_ROOT)
    assert result.stdout.strip().splitlines()[-1] == "False"


# -- the Triton openvino target: verified up to the IR and the config (no Triton OpenVINO backend here)


@pytest.mark.parametrize("model", MODELS)
def test_committed_openvino_target_is_the_onnx_graphs_as_ir(model):
    artifact = Artifact(REPO_ROOT / "models" / model)
    root, core = REPO_ROOT / "model_repository", ov.Core()
    for part in artifact.config.graph_parts:
        directory = entry_dir(root, Target.openvino, model, part)
        config = text_format.Parse((directory / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
        assert config.backend == "openvino" and config.instance_group[0].kind == model_config_pb2.ModelInstanceGroup.KIND_CPU
        parameters = {key: value.string_value for key, value in config.parameters.items()}
        version = max(int(path.name) for path in directory.iterdir() if path.name.isdigit())  # the newest weights'
        assert parameters[DIGEST_KEY] == parameters[version_digest_key(version)] == artifact.digest
        assert (parameters["NUM_STREAMS"], parameters["PERFORMANCE_HINT"], parameters["ENABLE_BATCH_PADDING"]) == ("1", "LATENCY", "YES")
        ir = core.read_model(directory / str(version) / "model.xml")  # model.bin beside it
        assert openvino_engine.graph_digest(ir) == artifact.digest
        assert [port.get_any_name() for port in ir.inputs] == [i.name for i in config.input]
        weights = [op for op in ir.get_ops() if op.get_type_name() == "Constant" and op.get_output_element_type(0).is_real()]
        assert weights and all(op.get_output_element_type(0) == ov.Type.f32 for op in weights)  # f32, not compressed to f16
        session = ort.InferenceSession(str(graph_path(root, model, part, version)), providers=["CPUExecutionProvider"])
        feeds = ir_feeds(artifact, part)
        expected = session.run(None, feeds)[0]
        got = core.compile_model(ir, "CPU", openvino_engine.compile_config(2, "f32")).create_infer_request().infer(feeds)[0]
        if part == "mapping":
            assert_close_ulps(got, expected, MAPPING_ULPS, f"{model} IR mapping")
        else:
            assert_same_image(got, expected, f"{model} IR {part}")


def ir_feeds(artifact: Artifact, part: str) -> dict[str, np.ndarray]:
    cfg = artifact.config
    rng = np.random.default_rng(0)
    if part == "mapping":
        feeds = {"z": latents.seeds_to_z([1, 2, 3], cfg.z_dim)}
        return feeds | ({"c": latents.one_hot([0, 1, 2], cfg.c_dim)} if cfg.c_dim else {})
    ws = (rng.standard_normal((3, cfg.num_ws, cfg.w_dim)) * 0.5).astype(np.float32)
    if part == "synthesis":
        return {"ws": ws, "noise_gain": np.ones(3, np.float32)}
    return {"ws": ws, **{f"noise_{i}": m for i, m in enumerate(latents.random_noise_maps([4, 5, 6], cfg.noise_shapes))}}


# -- a gateway on the engine: a few routes, the bytes of ONNX Runtime within the parity tolerance

REQUESTS = [
    ("get", "/v1/models/demo64/seeds/3.png?psi=0.7", None),
    ("get", "/v1/models/demo64/seeds/4.png?noise=random&noise_seed=9", None),
    ("get", f"/v1/models/{COND_MODEL}/seeds/1.png?class=dog&noise=none", None),
    ("get", "/v1/models/sg3t/seeds/2.png?rotate=20&translate=0.1,-0.2", None),
    ("post", "/v1/models/demo64/images", {"latents": [{"seed": s} for s in range(6)], "psi": 0.8, "include_ws": True}),
    (
        "post",
        "/v1/models/demo64/interpolations",
        {"keyframes": [{"seed": 1}, {"seed": 2}], "frames": 4, "output": "frames", "format": "png"},
    ),
    ("post", "/v1/models/demo64/mixes", {"rows": [{"seed": 1}, {"seed": 2}], "columns": [{"seed": 3}], "layers": "middle"}),
]


def pngs_of(response) -> list[np.ndarray]:
    """Every PNG in a response: the body itself, or each base64 image of a JSON body."""
    assert response.status_code == 200, response.text
    if response.headers["content-type"] == "image/png":
        return [np.asarray(Image.open(io.BytesIO(response.content)))]
    found: list[np.ndarray] = []

    def walk(value) -> None:
        if isinstance(value, dict):
            if value.get("media_type") == "image/png" and "data" in value:
                found.append(np.asarray(Image.open(io.BytesIO(base64.b64decode(value["data"])))))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(response.json())
    return found


def test_gateway_on_openvino_serves_onnxruntimes_images(settings):
    def responses(client: TestClient) -> list:
        return [getattr(client, method)(path, **({"json": body} if body else {})) for method, path, body in REQUESTS]

    with TestClient(create_app(settings.model_copy(update={"engine": "onnxruntime"}))) as embedded:
        expected = responses(embedded)
    with TestClient(create_app(settings.model_copy(update={"engine": "openvino"}))) as served:
        models = served.get("/v1/models").json()["models"]
        got = responses(served)
    assert {(m["engine"], m["precision"]) for m in models} == {("openvino", "f32")}
    for (method, path, _), mine, theirs in zip(REQUESTS, got, expected, strict=True):
        mine_images, their_images = pngs_of(mine), pngs_of(theirs)
        assert mine_images and len(mine_images) == len(their_images), path
        for i, (a, b) in enumerate(zip(mine_images, their_images, strict=True)):
            assert_same_image(a, b, f"{method} {path} image {i}")
        if method == "get":
            assert mine.headers["etag"] != theirs.headers["etag"]  # the engine is part of a stable image's tag
    ws = np.asarray([image["ws"] for image in got[4].json()["images"]], np.float32)
    reference = np.asarray([image["ws"] for image in expected[4].json()["images"]], np.float32)
    assert_close_ulps(ws, reference, MAPPING_ULPS, "ws through the API")


def committed(settings: Settings, **update) -> Settings:
    """The test settings on the committed models (demo64, emoji32) and their repository."""
    return settings.model_copy(update={"models_dir": REPO_ROOT / "models", "model_repository": REPO_ROOT / "model_repository", **update})


def test_models_say_fast_runs_exact_where_there_is_no_bf16(settings, monkeypatch):
    monkeypatch.setattr(openvino_engine, "detect_bf16", lambda core: Bf16Support(False, "no BF16 in this test"))
    fast = committed(settings, engine="openvino", openvino_precision="fast")
    with TestClient(create_app(fast)) as client:
        models = client.get("/v1/models").json()["models"]
        one = client.get("/v1/models/demo64").json()
    assert {m["name"]: (m["engine"], m["precision"]) for m in models} == {m["name"]: ("openvino", "f32") for m in models}
    assert all("fast, but no native bf16" in m["precision_reason"] for m in models)
    assert (one["precision"], one["precision_reason"]) == ("f32", models[[m["name"] for m in models].index("demo64")]["precision_reason"])


@needs_bf16
def test_models_say_fast_runs_bf16_and_its_images_have_their_own_tags(settings):
    exact, fast = (committed(settings, engine="openvino", openvino_precision=mode) for mode in ("exact", "fast"))
    tags = {}
    for name, configured in (("exact", exact), ("fast", fast)):
        with TestClient(create_app(configured)) as client:
            demo = client.get("/v1/models/demo64").json()
            tags[name] = client.get("/v1/models/demo64/seeds/5.png").headers["etag"]
        assert demo["precision"] == ("bf16" if name == "fast" else "f32"), demo
    assert tags["exact"] != tags["fast"]  # other bytes, another entity tag (and image-cache key)
