"""`ganserve compile`: a model artifact -> Triton model-repository entries for each target, and the
model's latent directions (ganserve.directions) beside its weights.

The ONNX graphs are exported first (torch); the python, tensorrt and openvino targets are built from them.
New weights under a model's name become a new version, and the previous version is kept
(`keep_versions`), so that Triton serves both while gateways switch (ganserve.repository).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from ganserve.artifacts import Artifact
from ganserve.repository import DIGEST_KEY, Target, entry_dir, graph_path, graph_versions
from ganserve.triton import tensorrt
from ganserve.triton.config import BatchingOptions, triton_config

PYTHON_MODEL = Path(__file__).parent / "triton" / "python_model.py"


def write_openvino_ir(graph: Path, xml: Path) -> list[Path]:
    """An ONNX graph as OpenVINO IR (model.xml + model.bin) with float32 weights; the graph's
    metadata, the weights' digest included, is kept in the IR's rt_info."""
    import openvino as ov

    ov.save_model(ov.Core().read_model(graph), xml, compress_to_fp16=False)
    return [xml, xml.with_suffix(".bin")]


def compiled_digest(graph: Path) -> str:
    """The digest of the weights an ONNX graph was exported from ("" when it has none)."""
    import onnx

    props = onnx.load(str(graph), load_external_data=False).metadata_props
    return next((p.value for p in props if p.key == DIGEST_KEY), "")


def compiled_versions(root: Path, model: str) -> dict[int, str]:
    """{version: digest} of a model's compiled versions, newest first (read from its mapping graph:
    every part of a version is exported together)."""
    return {v: compiled_digest(graph_path(root, model, "mapping", v)) for v in graph_versions(root, model, "mapping")}


def choose_version(artifact: Artifact, compiled: dict[int, str]) -> int:
    """The version these weights already have, or the next one."""
    same = [v for v, digest in compiled.items() if digest == artifact.digest]
    return same[0] if same else max(compiled, default=0) + 1


def compile_model(artifact: Artifact, root: Path, targets: list[Target], options: BatchingOptions, keep_versions: int = 2) -> list[Path]:
    """Returns the files written. TensorRT engines are built only where TensorRT is installed."""
    from ganserve.generator.export import export_onnx  # torch: compiling only
    from ganserve.generator.sampling import compute_directions

    cfg = artifact.config
    compiled = compiled_versions(root, cfg.name)
    version = choose_version(artifact, compiled)
    previous = [v for v in compiled if v != version][: max(keep_versions - 1, 0)]  # the newest others
    kept = dict(sorted({version: artifact.digest, **{v: compiled[v] for v in previous}}.items(), reverse=True))
    _remove_versions(root, cfg.name, cfg.graph_parts, keep=set(kept))
    written = [compute_directions(artifact), *export_onnx(artifact, root, version)]
    for target in targets:
        for part in cfg.graph_parts:
            directory = entry_dir(root, target, cfg.name, part)
            (directory / str(version)).mkdir(parents=True, exist_ok=True)
            config_path = directory / "config.pbtxt"
            config_path.write_text(triton_config(cfg, part, target, artifact.digest, options, kept))
            written.append(config_path)
            if target == Target.python:
                for v in kept:
                    (directory / str(v)).mkdir(exist_ok=True)
                    written.append(Path(shutil.copyfile(PYTHON_MODEL, directory / str(v) / "model.py")))
            if target == Target.openvino:
                for v in kept:  # kept versions from before this target existed get their IR too
                    xml = directory / str(v) / "model.xml"
                    if (v == version or not xml.exists()) and graph_path(root, cfg.name, part, v).exists():
                        (directory / str(v)).mkdir(exist_ok=True)
                        written.extend(write_openvino_ir(graph_path(root, cfg.name, part, v), xml))
            if target == Target.tensorrt and tensorrt.available():
                plan = directory / str(version) / "model.plan"
                shapes = tensorrt.profile_shapes(cfg, part, options)
                written.append(tensorrt.build_engine(graph_path(root, cfg.name, part, version), plan, shapes))
        if target == Target.tensorrt:
            written.append(tensorrt.write_build_scripts(root, cfg, options, list(kept)))
    return written


def _remove_versions(root: Path, model: str, parts: tuple[str, ...], keep: set[int]) -> None:
    for target in Target:
        for part in parts:
            directory = entry_dir(root, target, model, part)
            for version_dir in directory.iterdir() if directory.is_dir() else []:
                if version_dir.name.isdigit() and int(version_dir.name) not in keep:
                    shutil.rmtree(version_dir)
