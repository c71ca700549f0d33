import numpy as np
import pytest
from pydantic import ValidationError

from ganserve.artifacts import Artifact, ModelConfig, Source
from ganserve.generator.demo import demo_config
from ganserve.settings import REPO_ROOT


def test_layer_groups_follow_the_paper_convention():
    assert demo_config().layer_groups == {"coarse": [0, 1, 2, 3], "middle": [4, 5, 6, 7], "fine": [8, 9]}
    big = ModelConfig(name="ffhq", resolution=1024, z_dim=512, w_dim=512, num_ws=18, source=Source(kind="x"))
    assert big.layer_groups["fine"] == list(range(8, 18))


def test_noise_shapes_one_per_conv_layer():
    assert demo_config().noise_shapes == [(4, 4)] + [(r, r) for r in (8, 8, 16, 16, 32, 32, 64, 64)]


def test_config_is_validated():
    with pytest.raises(ValidationError):
        ModelConfig(name="Bad Name", resolution=64, z_dim=1, w_dim=1, num_ws=10, source=Source(kind="x"))
    with pytest.raises(ValidationError):
        ModelConfig(name="ok", resolution=48, z_dim=1, w_dim=1, num_ws=10, source=Source(kind="x"))


def test_committed_demo_artifact():
    artifact = Artifact(REPO_ROOT / "models" / "demo64")
    assert artifact.config.num_ws == 10 and artifact.config.resolution == 64
    assert len(artifact.digest) == 64
    assert "layer_groups" in (artifact.directory / "generator.json").read_text()
    weights = artifact.load_weights()
    assert weights["mapping.w_avg"].shape == (256,) and "synthesis.b64.torgb.weight" in weights


def test_saved_weights_keep_their_shapes(tmp_path):
    from ganserve.artifacts import save_artifact

    state = {"scalar": np.float32(0.5) * np.ones([], np.float32), "matrix": np.ones([3, 2], np.float64).T}
    loaded = save_artifact(tmp_path / "m", demo_config(), state).load_weights()
    assert loaded["scalar"].shape == () and loaded["matrix"].shape == (2, 3) and loaded["matrix"].dtype == np.float32
