"""Layout of the compiled-model repository (Triton's layout, also read by the embedded engine).

`<repository>/<model>_<part>/config.pbtxt` and `<repository>/<model>_<part>/1/model.onnx`.
"""

from __future__ import annotations

from pathlib import Path

GRAPH_PARTS = ("mapping", "synthesis", "synthesis_noise")
DIGEST_KEY = "ganserve.artifact_digest"  # ONNX metadata: the artifact the graph was compiled from
VERSION = 1


def entry_name(model: str, part: str) -> str:
    return f"{model}_{part}"


def graph_path(repository: Path, model: str, part: str) -> Path:
    return Path(repository) / entry_name(model, part) / str(VERSION) / "model.onnx"
