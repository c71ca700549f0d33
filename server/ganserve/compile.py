"""`ganserve compile`: a model artifact -> Triton model-repository entries for each target, and the
model's latent directions (ganserve.directions) beside its weights.

The ONNX graphs are exported first (torch); the python and tensorrt targets are built from them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ganserve.artifacts import Artifact
from ganserve.repository import VERSION, Target, entry_dir, graph_path
from ganserve.triton import tensorrt
from ganserve.triton.config import BatchingOptions, triton_config

PYTHON_MODEL = Path(__file__).parent / "triton" / "python_model.py"


def compile_model(artifact: Artifact, root: Path, targets: list[Target], options: BatchingOptions) -> list[Path]:
    """Returns the files written. TensorRT engines are built only where TensorRT is installed."""
    from ganserve.generator.export import export_onnx  # torch: compiling only
    from ganserve.generator.sampling import compute_directions

    written = [compute_directions(artifact), *export_onnx(artifact, root)]
    cfg = artifact.config
    for target in targets:
        for part in cfg.graph_parts:
            directory = entry_dir(root, target, cfg.name, part)
            (directory / str(VERSION)).mkdir(parents=True, exist_ok=True)
            config_path = directory / "config.pbtxt"
            config_path.write_text(triton_config(cfg, part, target, artifact.digest, options))
            written.append(config_path)
            if target == Target.python:
                written.append(Path(shutil.copyfile(PYTHON_MODEL, directory / str(VERSION) / "model.py")))
            if target == Target.tensorrt and tensorrt.available():
                plan = directory / str(VERSION) / "model.plan"
                shapes = tensorrt.profile_shapes(cfg, part, options)
                written.append(tensorrt.build_engine(graph_path(root, cfg.name, part), plan, shapes))
        if target == Target.tensorrt:
            written.append(tensorrt.write_build_scripts(root, cfg, options))
    return written
