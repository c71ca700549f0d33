"""Layout of the compiled-model repository: one Triton model repository per target.

model_repository/onnx/<model>_<part>/{config.pbtxt, 1/model.onnx}      onnxruntime_onnx; also read
                                                                       by the embedded engine
model_repository/python/<model>_<part>/{config.pbtxt, 1/model.py}      Python backend running the
                                                                       onnx target's graph
model_repository/tensorrt/<model>_<part>/{config.pbtxt, 1/model.plan}  built where it runs
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

GRAPH_PARTS = ("mapping", "synthesis", "synthesis_noise")  # every part there is; a model's own: ModelConfig.graph_parts
DIGEST_KEY = "ganserve.artifact_digest"  # ONNX metadata and Triton config parameter: the weights compiled
VERSION = 1


class Target(StrEnum):
    onnx = "onnx"  # Triton's ONNX Runtime backend (CPU, or GPU without TensorRT)
    python = "python"  # Triton's Python backend running ONNX Runtime (the pytriton-shipped tritonserver)
    tensorrt = "tensorrt"  # TensorRT engines, fp16, built on the GPU host


def entry_name(model: str, part: str) -> str:
    return f"{model}_{part}"


def entry_dir(root: Path, target: Target, model: str, part: str) -> Path:
    return Path(root) / target / entry_name(model, part)


def graph_path(root: Path, model: str, part: str) -> Path:
    """The ONNX graph every target starts from."""
    return entry_dir(root, Target.onnx, model, part) / str(VERSION) / "model.onnx"
