"""Layout of the compiled-model repository: one Triton model repository per target.

model_repository/onnx/<model>_<part>/{config.pbtxt, N/model.onnx}      onnxruntime_onnx; also read
                                                                       by the embedded engine
model_repository/python/<model>_<part>/{config.pbtxt, N/model.py}      Python backend running the
                                                                       onnx target's graph
model_repository/tensorrt/<model>_<part>/{config.pbtxt, N/model.plan}  built where it runs
model_repository/openvino/<model>_<part>/{config.pbtxt, N/model.xml,   OpenVINO IR (f32 weights) for
                                          N/model.bin}                 Triton's OpenVINO backend

Versions N are Triton's model versions: one per set of weights compiled under the model's name
(1, 2, ...). Compiling new weights adds a version and keeps the previous one, so that a rollout
serves both until every gateway has switched (docs/kubernetes.md). Each version's ONNX graph
records the weights' digest (DIGEST_KEY), and each Triton config lists every version's digest.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

GRAPH_PARTS = ("mapping", "synthesis", "synthesis_noise")  # every part there is; a model's own: ModelConfig.graph_parts
DIGEST_KEY = "ganserve.artifact_digest"  # ONNX metadata and Triton config parameter: the weights compiled
VERSION = 1  # the first version of a model


class Target(StrEnum):
    onnx = "onnx"  # Triton's ONNX Runtime backend (CPU, or GPU without TensorRT)
    python = "python"  # Triton's Python backend running ONNX Runtime (the pytriton-shipped tritonserver)
    tensorrt = "tensorrt"  # TensorRT engines, fp16, built on the GPU host
    openvino = "openvino"  # Triton's OpenVINO backend (CPU): the onnx target's graphs as OpenVINO IR


def entry_name(model: str, part: str) -> str:
    return f"{model}_{part}"


def entry_dir(root: Path, target: Target, model: str, part: str) -> Path:
    return Path(root) / target / entry_name(model, part)


def graph_path(root: Path, model: str, part: str, version: int = VERSION) -> Path:
    """The ONNX graph every target starts from."""
    return entry_dir(root, Target.onnx, model, part) / str(version) / "model.onnx"


def graph_versions(root: Path, model: str, part: str) -> list[int]:
    """The versions of a graph that are compiled, newest first."""
    entry = entry_dir(root, Target.onnx, model, part)
    found = [int(d.name) for d in entry.iterdir() if d.name.isdigit() and (d / "model.onnx").exists()] if entry.is_dir() else []
    return sorted(found, reverse=True)


def version_digest_key(version: int) -> str:
    """The Triton config parameter that names the weights of one version."""
    return f"{DIGEST_KEY}.{version}"
