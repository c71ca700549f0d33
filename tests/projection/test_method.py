"""Projection on the trained emoji32 model: it recovers generated images, keeps to NVlabs' schedule,
reports what the server renders, and honours the interface the worker relies on."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from projection_helpers import HELD_OUT_SEED, generated

from ganserve.projection import ProjectionCancelled, ProjectionOptions, ProjectionProgress, Projector
from ganserve.projection.features import psnr
from ganserve.projection.method import learning_rate, w_noise_factor
from ganserve.repository import DIGEST_KEY, graph_path, graph_versions
from ganserve.settings import REPO_ROOT

pytestmark = pytest.mark.usefixtures("one_thread")

CLASS = 0  # Smileys & Emotion


@pytest.fixture(scope="module")
def target(projector) -> tuple[np.ndarray, np.ndarray]:
    return generated(projector, HELD_OUT_SEED, CLASS)


def psnr_of(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR of two uint8 [H, W, 3] images."""
    import torch

    return float(psnr(torch.from_numpy(a[None]), torch.from_numpy(b[None]))[0])


def render_start(projector, class_index: int | None) -> np.ndarray:
    """The image projection starts from: w_avg of the class, const noise."""
    import torch

    from ganserve.generator.networks import to_uint8_nhwc

    w_avg, _ = projector.w_stats(0, class_index)
    with torch.no_grad():
        return to_uint8_nhwc(projector.synthesize(w_avg.reshape(1, 1, -1).repeat(1, projector.config.num_ws, 1)))[0].numpy()


@pytest.mark.parametrize("space", ["w", "w+"])
def test_recovers_a_generated_image(projector, target, space):
    """A held-out seed's image, 50 steps: a close reconstruction, far better than the starting point."""
    image, w_true = target
    result = projector.project(image, ProjectionOptions(steps=50, space=space, class_index=CLASS))
    start = psnr_of(render_start(projector, CLASS), image)
    assert result.psnr > 25 and result.psnr > start + 8, (result.psnr, start)  # measured: 26.9 (w), 27.5 (w+) from 16.5
    assert result.ws.shape == (8, 128) and result.ws.dtype == np.float32 and result.steps == 50 and result.seconds > 0


def test_w_and_w_plus_shapes(projector, target):
    image, _ = target
    in_w = projector.project(image, ProjectionOptions(steps=3, space="w"))
    assert in_w.ws.shape == (8, 128) and in_w.w is not None and in_w.w.shape == (128,) and in_w.w.dtype == np.float32
    assert (in_w.ws == in_w.w).all()  # one w on every layer
    in_w_plus = projector.project(image, ProjectionOptions(steps=3, space="w+"))
    assert in_w_plus.ws.shape == (8, 128) and in_w_plus.w is None
    assert not np.allclose(in_w_plus.ws[0], in_w_plus.ws[-1])  # a w per layer


def test_psnr_is_of_what_the_server_renders(projector, target):
    """The compiled synthesis graph that serving runs (ONNX, noise_gain 1 = const) renders the returned
    ws to the image the progress showed last, with the PSNR reported."""
    from ganserve.artifacts import Artifact

    root = REPO_ROOT / "model_repository"
    path = graph_path(root, "emoji32", "synthesis", graph_versions(root, "emoji32", "synthesis")[0])  # the newest, as served
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    if session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY) != Artifact(REPO_ROOT / "models" / "emoji32").digest:
        pytest.skip("model_repository's emoji32 graphs are not compiled from models/emoji32 (run `ganserve compile`)")
    image, _ = target
    seen: list[ProjectionProgress] = []
    result = projector.project(image, ProjectionOptions(steps=8, class_index=CLASS), on_progress=seen.append)
    (served,) = session.run(None, {"ws": result.ws[None], "noise_gain": np.ones(1, np.float32)})
    last = seen[-1].preview
    assert last is not None
    assert np.abs(served[0].astype(int) - last.astype(int)).max() <= 1 and (served[0] == last).mean() > 0.999
    assert result.psnr == seen[-1].psnr
    assert result.psnr == pytest.approx(psnr_of(served[0], image), abs=0.05)


def test_progress_and_previews(projector, target):
    image, _ = target
    seen: list[ProjectionProgress] = []
    projector.project(image, ProjectionOptions(steps=10, preview_every=4), on_progress=seen.append)
    assert [p.step for p in seen] == list(range(1, 11)) and all(p.steps == 10 for p in seen)
    assert [p.step for p in seen if p.preview is not None] == [4, 8, 10]  # every 4 steps, and the last
    preview = seen[3].preview
    assert preview is not None and preview.shape == (32, 32, 3) and preview.dtype == np.uint8
    assert all(np.isfinite(p.loss) and np.isfinite(p.psnr) for p in seen)
    assert seen[-1].psnr > seen[0].psnr
    quiet: list[ProjectionProgress] = []
    projector.project(image, ProjectionOptions(steps=3, preview_every=0), on_progress=quiet.append)
    assert len(quiet) == 3 and all(p.preview is None for p in quiet)


def test_cancel_from_progress(projector, target):
    image, _ = target
    steps = []

    def on_progress(progress: ProjectionProgress) -> bool:
        steps.append(progress.step)
        return progress.step < 3  # False after step 3: cancel; True and None go on

    with pytest.raises(ProjectionCancelled) as cancelled:
        projector.project(image, ProjectionOptions(steps=20), on_progress=on_progress)
    assert steps == [1, 2, 3] and cancelled.value.step == 3
    assert projector.project(image, ProjectionOptions(steps=2), on_progress=lambda p: None).steps == 2


def test_deterministic_for_a_seed(projector, target):
    image, _ = target
    options = ProjectionOptions(steps=6, space="w+", seed=7)
    first, again = projector.project(image, options), projector.project(image, options)
    assert np.array_equal(first.ws, again.ws) and first.psnr == again.psnr
    other = projector.project(image, ProjectionOptions(steps=6, space="w+", seed=8))
    assert not np.array_equal(first.ws, other.ws)


def test_a_batch_is_independent_projections(projector, target):
    """project_many (the benchmark's): target 0 of a batch is exactly `project`'s projection."""
    image, _ = target
    options = ProjectionOptions(steps=4, class_index=CLASS)
    alone = projector.project(image, options)
    other = generated(projector, HELD_OUT_SEED + 1, CLASS)[0]
    batch = projector.project_many(np.stack([image, other]), options)
    np.testing.assert_allclose(batch[0].ws, alone.ws, atol=1e-4)
    assert len(batch) == 2 and not np.allclose(batch[1].ws, alone.ws)


def test_class_start(projector):
    """A class starts from its own average w; None from the average over classes."""
    smileys, flags, average = (projector.w_stats(0, c)[0] for c in (0, 8, None))
    assert not np.allclose(smileys.numpy(), flags.numpy())
    assert float((average - smileys).norm()) < float((flags - smileys).norm())
    with pytest.raises(ValueError, match="out of range"):
        projector.project(np.zeros((32, 32, 3), np.uint8), ProjectionOptions(steps=1, class_index=9))


def test_bad_targets_and_options_are_refused(projector):
    with pytest.raises(ValueError, match="uint8"):
        projector.project(np.zeros((64, 64, 3), np.uint8), ProjectionOptions(steps=1))
    with pytest.raises(ValueError, match="uint8"):
        projector.project(np.zeros((32, 32, 3), np.float32), ProjectionOptions(steps=1))
    for bad in ({"steps": 0}, {"space": "z"}, {"preview_every": -1}, {"seed": -1}):
        with pytest.raises(ValueError):
            ProjectionOptions(**bad)  # type: ignore[arg-type]


def test_without_a_discriminator(emoji_without_d, target):
    projector = Projector(emoji_without_d)
    assert not projector.has_discriminator
    image, _ = target
    result = projector.project(image, ProjectionOptions(steps=20, space="w+", class_index=CLASS))
    assert result.psnr > psnr_of(render_start(projector, CLASS), image) + 5


def test_the_schedule_is_nvlabs():
    """Ramp-up over the first 5%, 0.1 in the middle, cosine ramp-down over the last 25%; noise on w
    from 5% of w_std, squared ramp to 0 at 75%."""
    steps = 200
    lr = [learning_rate(s, steps) for s in range(steps)]
    assert lr[0] == 0 and lr[5] == pytest.approx(0.05) and lr[10] == pytest.approx(0.1) and lr[100] == pytest.approx(0.1)
    assert lr[150] == pytest.approx(0.1) and lr[175] == pytest.approx(0.05) and 0 < lr[-1] < 1e-3
    assert all(a >= b for a, b in zip(lr[150:], lr[151:], strict=False))
    noise = [w_noise_factor(s, steps) for s in range(steps)]
    assert noise[0] == 0.05 and noise[75] == pytest.approx(0.05 * 0.25) and noise[150] == 0 and noise[-1] == 0
