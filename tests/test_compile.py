"""`ganserve compile` versions: new weights under a model's name become a new Triton version beside
the previous one (what a rollout serves while gateways switch), the same weights keep their
version, older versions are removed, and each engine picks the version of its own weights."""

import numpy as np
import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from ganserve.artifacts import Artifact, save_artifact
from ganserve.compile import compile_model
from ganserve.engines import EngineError
from ganserve.engines.onnxruntime import OnnxRuntimeEngine
from ganserve.repository import DIGEST_KEY, Target, entry_dir, graph_versions, version_digest_key
from ganserve.settings import Settings
from ganserve.triton.config import BatchingOptions
from nvlabs_reference import load_case

TARGETS = [Target.onnx, Target.python, Target.openvino]


@pytest.fixture(scope="module")
def retrained(tmp_path_factory):
    """Four sets of weights for one model name, as successive training runs would give."""
    config, state, _ = load_case("sg2_cond_16_map2")
    config = config.model_copy(update={"name": "tiny"})
    root = tmp_path_factory.mktemp("weights")
    made = []
    for i in range(4):
        changed = {**state, "synthesis.b4.conv1.weight": state["synthesis.b4.conv1.weight"] * np.float32(1 + 0.1 * i)}
        made.append(save_artifact(root / str(i) / "tiny", config, changed))
    return made


def versions_in(root, target, part="synthesis"):
    directory = entry_dir(root, target, "tiny", part)
    return sorted((int(d.name) for d in directory.iterdir() if d.name.isdigit()), reverse=True)


def triton_config_of(root, target, part="synthesis"):
    text = (entry_dir(root, target, "tiny", part) / "config.pbtxt").read_text()
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def engine_digest(artifact: Artifact, root) -> str:
    """The weights of the graph the embedded engine loaded for `artifact` (its metadata)."""
    engine = OnnxRuntimeEngine(artifact, Settings(model_repository=root))
    return engine.sessions["synthesis"].get_modelmeta().custom_metadata_map[DIGEST_KEY]


def test_new_weights_become_a_new_version_and_the_previous_is_kept(retrained, tmp_path):
    first, second, third, fourth = retrained
    root = tmp_path / "repo"
    compile_model(first, root, TARGETS, BatchingOptions())
    assert graph_versions(root, "tiny", "synthesis") == [1]
    compile_model(second, root, TARGETS, BatchingOptions())
    assert graph_versions(root, "tiny", "synthesis") == [2, 1]
    for target in TARGETS:
        assert versions_in(root, target) == [2, 1]
        config = triton_config_of(root, target)
        assert list(config.version_policy.specific.versions) == [2, 1]  # Triton loads both
        assert config.parameters[version_digest_key(2)].string_value == second.digest
        assert config.parameters[version_digest_key(1)].string_value == first.digest
        assert config.parameters[DIGEST_KEY].string_value == second.digest
    for version in (1, 2):
        assert (entry_dir(root, Target.python, "tiny", "mapping") / str(version) / "model.py").is_file()
        for part in ("mapping", "synthesis"):  # each version's IR, from its own graph
            ir = entry_dir(root, Target.openvino, "tiny", part) / str(version)
            assert (ir / "model.bin").is_file() and (ir / "model.xml").is_file()
            assert f'<{DIGEST_KEY} value="{retrained[version - 1].digest}"' in (ir / "model.xml").read_text()
    # Each engine serves the version of its own weights: the gateway that has not switched yet too.
    assert engine_digest(first, root) == first.digest and engine_digest(second, root) == second.digest

    compile_model(second, root, TARGETS, BatchingOptions())  # the same weights again: the same version
    assert graph_versions(root, "tiny", "synthesis") == [2, 1]

    compile_model(third, root, TARGETS, BatchingOptions())  # version 1 is now two behind: removed
    for target in TARGETS:
        assert versions_in(root, target) == [3, 2]
        assert list(triton_config_of(root, target).version_policy.specific.versions) == [3, 2]
    with pytest.raises(EngineError, match=r"compiled from other weights \(versions 3, 2\)"):
        OnnxRuntimeEngine(first, Settings(model_repository=root))

    compile_model(fourth, root, TARGETS, BatchingOptions(), keep_versions=1)  # no rollout to serve: only the new
    for target in TARGETS:
        assert versions_in(root, target) == [4]
        config = triton_config_of(root, target)
        assert list(config.version_policy.specific.versions) == [4] and version_digest_key(3) not in config.parameters
