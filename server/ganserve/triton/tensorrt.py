"""TensorRT engines (fp16, one optimisation profile over the batch range), built where they run.

With the `tensorrt` Python package installed (a GPU host), `build_engine` builds a plan directly.
Otherwise `ganserve compile --target tensorrt` writes `build_engines.sh`, which the one-shot
`trt-build` docker-compose service runs with trtexec inside NVIDIA's TensorRT container. Engines
are specific to the GPU and the TensorRT version, so they are never committed.
"""

from __future__ import annotations

from pathlib import Path

from ganserve.artifacts import ModelConfig
from ganserve.repository import VERSION, Target, entry_name
from ganserve.triton.config import BatchingOptions, tensor_specs

UNAVAILABLE_REASON = (
    "TensorRT is not installed: its PyPI packages download the real wheels from NVIDIA's own index. "
    "Build the engines on the GPU host (docker compose --profile gpu runs build_engines.sh)."
)


def available() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return True


def profile_shapes(config: ModelConfig, part: str, options: BatchingOptions) -> dict[str, list[tuple[int, ...]]]:
    """min / opt / max shape per input: batch 1, the largest preferred size, max_batch_size."""
    inputs, _ = tensor_specs(config, part)
    opt = max(b for b in options.preferred_batch_sizes if b <= options.max_batch_size)
    return {s.name: [(batch, *s.dims) for batch in (1, opt, options.max_batch_size)] for s in inputs}


def trtexec_command(config: ModelConfig, part: str, options: BatchingOptions, version: int = VERSION) -> str:
    shapes = profile_shapes(config, part, options)
    flags = []
    for label, index in (("min", 0), ("opt", 1), ("max", 2)):
        spec = ",".join(f"{name}:{'x'.join(map(str, dims[index]))}" for name, dims in shapes.items())
        flags.append(f"--{label}Shapes={spec}")
    entry = entry_name(config.name, part)
    onnx = f'"$root/{Target.onnx}/{entry}/{version}/model.onnx"'
    plan = f'"$root/{Target.tensorrt}/{entry}/{version}/model.plan"'
    return f'[ -f {plan} ] || {{ mkdir -p "$(dirname {plan})" && trtexec --onnx={onnx} --saveEngine={plan} --fp16 {" ".join(flags)}; }}'


RUN_ALL = """#!/usr/bin/env bash
# Builds every model's TensorRT engines: runs each build_<model>.sh beside this file.
set -euo pipefail
root="${1:-/models}"
for script in "$root"/tensorrt/build_*.sh; do
  [ "$script" = "$root/tensorrt/build_engines.sh" ] || bash "$script" "$root"
done
"""


def write_build_scripts(root: Path, config: ModelConfig, options: BatchingOptions, versions: list[int] | None = None) -> Path:
    """`tensorrt/build_<model>.sh` (skips engines that exist) and `tensorrt/build_engines.sh` for all
    models: an engine per graph and compiled version."""
    directory = Path(root) / Target.tensorrt
    directory.mkdir(parents=True, exist_ok=True)
    lines = [
        "#!/usr/bin/env bash",
        f"# TensorRT engines for {config.name}, from the onnx target. Written by `ganserve compile --target tensorrt`.",
        "# Run it where the engines will run, with the TensorRT version of that Triton release.",
        "set -euo pipefail",
        'root="${1:-/models}"',
        *(trtexec_command(config, part, options, v) for v in versions or [VERSION] for part in config.graph_parts),
    ]
    script = directory / f"build_{config.name}.sh"
    for path, text in ((script, "\n".join(lines) + "\n"), (directory / "build_engines.sh", RUN_ALL)):
        path.write_text(text)
        path.chmod(0o755)
    return script


def build_engine(onnx_path: Path, plan_path: Path, shapes: dict[str, list[tuple[int, ...]]]) -> Path:
    """Build an fp16 engine with the TensorRT Python API (GPU hosts only)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    build_config = builder.create_builder_config()
    build_config.set_flag(trt.BuilderFlag.FP16)
    profile = builder.create_optimization_profile()
    for name, (low, opt, high) in shapes.items():
        profile.set_shape(name, low, opt, high)
    build_config.add_optimization_profile(profile)
    plan = builder.build_serialized_network(network, build_config)
    if plan is None:
        raise RuntimeError(f"TensorRT failed to build {onnx_path}")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_bytes(bytes(plan))
    return plan_path
