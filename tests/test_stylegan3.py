"""Our StyleGAN3 (configs T and R) against NVlabs stylegan3, on weights and gen_images.py outputs
computed with their code (tests/data/nvlabs, made by tests/data/make_nvlabs_reference.py), in torch
and through the exported ONNX graphs."""

import numpy as np
import onnxruntime as ort
import pytest
import torch

from ganserve import latents
from ganserve.artifacts import save_artifact
from ganserve.generator.export import export_onnx
from ganserve.generator.networks import to_uint8_nhwc
from ganserve.generator.stylegan3 import Generator3, build_generator, filtered_lrelu
from ganserve.repository import DIGEST_KEY, graph_path
from nvlabs_reference import SG3_CASES, SG3_SETTINGS, assert_nvlabs_parity, load_case, load_filtered_lrelu_ops
from tolerances import FILTERED_LRELU_ULPS, MAPPING_ULPS, SYNTHESIS_ULPS, assert_close_ulps


def view(setting: str, count: int) -> np.ndarray:
    """The setting's gen_images.py transform, one per sample: [count, 3, 3]."""
    _, _, translate, rotate = SG3_SETTINGS[setting]
    return np.repeat(latents.input_transform(translate, rotate)[None], count, axis=0)


def all_settings(ref: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (setting, seed) as one mixed batch: ws, transforms, reference floats and uint8 images."""
    ws, transforms, floats, images = [], [], [], []
    for setting in SG3_SETTINGS:
        ws.append(ref[f"ws_{setting}"])
        transforms.append(view(setting, len(ws[-1])))
        floats.append(ref[f"float_{setting}"])
        images.append(ref[f"img_{setting}"])
    return tuple(np.concatenate(parts) for parts in (ws, transforms, floats, images))


def synthesize(generator: Generator3, ws: np.ndarray, transform: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return generator.synthesis(torch.from_numpy(ws), torch.from_numpy(transform))


@pytest.fixture(scope="module", params=SG3_CASES)
def case(request):
    config, state, reference = load_case(request.param)
    generator = build_generator(config)
    assert isinstance(generator, Generator3)
    generator.load_numpy_state(state)  # strict: every NVlabs parameter and buffer name matches
    return generator.eval(), state, reference


@pytest.mark.parametrize("op_index", range(5))
def test_filtered_lrelu_matches_nvlabs_reference_op(op_index):
    """Asymmetric filters and uneven padding/cropping: the flip and the pad order are NVlabs'."""
    op, arrays = load_filtered_lrelu_ops()[op_index]
    t = {k: torch.from_numpy(v) for k, v in arrays.items()}
    args = (op["up"], op["down"], tuple(op["padding"]), op["gain"], op["slope"], op["clamp"])
    y = filtered_lrelu(t["x"], t["b"], t.get("fu"), t.get("fd"), *args)
    assert_close_ulps(y.numpy(), arrays["y"], FILTERED_LRELU_ULPS)


@pytest.mark.parametrize("up", [2, 3, 4])
@pytest.mark.parametrize("padding", [(9, 8, 9, 8), (-6, -9, -6, -9), (-11, -12, 3, 0), (13, -1, -7, 12), (0, 0, 0, 0)])
def test_filtered_lrelu_separable_upsampling_matches_zero_insertion(up, padding):
    """The separable/polyphase upsampling against the plain zero-insertion path (taken for a 2-D
    filter): the 1-D filter's outer product, asymmetric, even and odd lengths, pads and crops."""
    generator = torch.Generator().manual_seed(up)
    for taps in (5, 6 * up):
        x = torch.randn(2, 3, 21, 19, generator=generator, dtype=torch.float64)
        b, fu = torch.randn(3, generator=generator, dtype=torch.float64), torch.randn(taps, generator=generator, dtype=torch.float64)
        args = (up, 1, padding, 1.4, 0.2, None)
        y = filtered_lrelu(x, b, fu, None, *args)
        expected = filtered_lrelu(x, b, fu[:, None] * fu[None, :], None, *args)
        assert y.shape == expected.shape
        assert_close_ulps(y.numpy(), expected.numpy(), FILTERED_LRELU_ULPS)  # float64


def test_mapping_reproduces_reference_ws(case):
    generator, state, ref = case
    config = generator.config
    with torch.no_grad():
        c = torch.from_numpy(ref["c"]) if config.c_dim else None
        w = generator.mapping(torch.from_numpy(ref["z"]), c).numpy()
    for setting, (psi, cutoff, _, _) in SG3_SETTINGS.items():
        ws = latents.truncate(latents.broadcast_ws(w, config.num_ws), state["mapping.w_avg"], psi, cutoff)
        assert_close_ulps(ws, ref[f"ws_{setting}"], MAPPING_ULPS, setting)


@pytest.mark.parametrize("setting", list(SG3_SETTINGS))
def test_matches_gen_images(case, setting):
    generator, _, ref = case
    transform = view(setting, len(ref["z"]))
    np.testing.assert_array_equal(transform[0], ref[f"transform_{setting}"])  # what gen_images.py copies in
    image = synthesize(generator, ref[f"ws_{setting}"], transform)
    assert_close_ulps(image.numpy(), ref[f"float_{setting}"], SYNTHESIS_ULPS, setting)
    assert_nvlabs_parity(to_uint8_nhwc(image).numpy(), ref[f"img_{setting}"], setting)


def test_mixed_batch_equals_one_at_a_time(case):
    """Samples with different ws and views in one batch: each image is the one it gets alone."""
    generator, _, ref = case
    ws, transforms, floats, images = all_settings(ref)
    batch = synthesize(generator, ws, transforms)
    single = torch.cat([synthesize(generator, ws[i : i + 1], transforms[i : i + 1]) for i in range(len(ws))])
    assert_close_ulps(batch.numpy(), single.numpy(), SYNTHESIS_ULPS, "batch against one at a time")
    assert_close_ulps(batch.numpy(), floats, SYNTHESIS_ULPS, "mixed batch")
    assert_nvlabs_parity(to_uint8_nhwc(batch).numpy(), images, "mixed batch")


def test_no_transform_uses_the_stored_buffer(case):
    generator, _, ref = case
    ws = ref["ws_psi1"]
    with torch.no_grad():
        stored = generator.synthesis(torch.from_numpy(ws))
    torch.testing.assert_close(stored, synthesize(generator, ws, view("psi1", len(ws))))


@pytest.fixture(scope="module", params=SG3_CASES)
def compiled(request, tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    config, state, reference = load_case(request.param)
    artifact = save_artifact(root / "models" / config.name, config, state)
    export_onnx(artifact, root / "repo")
    sessions = {part: ort.InferenceSession(str(graph_path(root / "repo", config.name, part))) for part in config.graph_parts}
    return artifact, sessions, reference


@pytest.mark.slow
def test_onnx_graphs(compiled):
    """Both graphs have a dynamic batch and record their weights; mapping matches the reference ws."""
    artifact, sessions, ref = compiled
    assert set(sessions) == {"mapping", "synthesis"}
    for session in sessions.values():
        assert session.get_inputs()[0].shape[0] not in (1, 2)  # symbolic, not frozen to the export batch
        assert session.get_modelmeta().custom_metadata_map[DIGEST_KEY] == artifact.digest
    assert [i.name for i in sessions["synthesis"].get_inputs()] == ["ws", "transform"]
    cfg = artifact.config
    feeds = {"z": ref["z"], **({"c": ref["c"]} if cfg.c_dim else {})}
    w = sessions["mapping"].run(None, feeds)[0]
    psi, cutoff, _, _ = SG3_SETTINGS["psi05_cut4_rot30"]
    ws = latents.truncate(latents.broadcast_ws(w, cfg.num_ws), artifact.load_w_avg(), psi, cutoff)
    assert_close_ulps(ws, ref["ws_psi05_cut4_rot30"], MAPPING_ULPS)


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_matches_gen_images(compiled, batch):
    """Every (setting, seed) in mixed batches of `batch` samples."""
    _, sessions, ref = compiled
    ws, transforms, _, images = all_settings(ref)
    out = [
        sessions["synthesis"].run(None, {"ws": ws[i : i + batch], "transform": transforms[i : i + batch]})[0]
        for i in range(0, len(ws), batch)
    ]
    assert_nvlabs_parity(np.concatenate(out), images, f"onnx batch {batch}")
