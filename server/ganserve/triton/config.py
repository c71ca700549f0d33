"""config.pbtxt for each graph and target, derived from the model config (no torch, no onnx needed).

Batching and instance counts live here, in config, not in code: Triton's dynamic batcher merges
requests (from several gateways too) into the preferred batch sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ganserve.artifacts import ModelConfig
from ganserve.repository import DIGEST_KEY, VERSION, Target, entry_name, version_digest_key


@dataclass(frozen=True)
class TensorSpec:
    name: str
    data_type: str  # Triton's TYPE_*
    dims: tuple[int, ...]  # without the batch dimension


@dataclass(frozen=True)
class BatchingOptions:
    max_batch_size: int = 32
    preferred_batch_sizes: tuple[int, ...] = (8, 16, 32)
    max_queue_delay_us: int = 1000
    instances: int = 1


def tensor_specs(config: ModelConfig, part: str) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """(inputs, outputs) of a graph, as the ONNX export names them."""
    images = TensorSpec("images", "TYPE_UINT8", (config.resolution, config.resolution, config.img_channels))
    if part == "mapping":
        inputs = [TensorSpec("z", "TYPE_FP32", (config.z_dim,))]
        if config.c_dim:
            inputs.append(TensorSpec("c", "TYPE_FP32", (config.c_dim,)))
        return inputs, [TensorSpec("w", "TYPE_FP32", (config.w_dim,))]
    ws = TensorSpec("ws", "TYPE_FP32", (config.num_ws, config.w_dim))
    if part == "synthesis" and config.stylegan3 is not None:
        return [ws, TensorSpec("transform", "TYPE_FP32", (3, 3))], [images]
    if part == "synthesis":
        return [ws, TensorSpec("noise_gain", "TYPE_FP32", ())], [images]
    noise = [TensorSpec(f"noise_{i}", "TYPE_FP32", (1, h, w)) for i, (h, w) in enumerate(config.noise_shapes)]
    return [ws, *noise], [images]


def _tensor(spec: TensorSpec) -> str:
    # A per-sample scalar has no dims beyond the batch: Triton wants [1] reshaped to [].
    shape = f"dims: [ {', '.join(map(str, spec.dims))} ]" if spec.dims else "dims: [ 1 ], reshape: { shape: [ ] }"
    return f'  {{ name: "{spec.name}", data_type: {spec.data_type}, {shape} }}'


def _warmup(inputs: list[TensorSpec]) -> str:
    """One zero-filled batch of 1 at load, so the first request does not pay for lazy initialisation."""
    entries = []
    for spec in inputs:
        dims = ", ".join(map(str, spec.dims or (1,)))
        entries.append(f'    inputs {{ key: "{spec.name}" value: {{ data_type: {spec.data_type}, dims: [ {dims} ], zero_data: true }} }}')
    return 'model_warmup [\n  {\n    name: "zeros"\n    batch_size: 1\n' + "\n".join(entries) + "\n  }\n]\n"


BACKEND_LINES = {
    Target.onnx: 'platform: "onnxruntime_onnx"',
    Target.python: 'backend: "python"',
    Target.tensorrt: 'platform: "tensorrt_plan"',
    Target.openvino: 'backend: "openvino"',
}
INSTANCE_KIND = {Target.onnx: "KIND_AUTO", Target.python: "KIND_CPU", Target.tensorrt: "KIND_GPU", Target.openvino: "KIND_CPU"}
# Triton's OpenVINO backend (its README and src/openvino.cc): one stream on the LATENCY hint, as the
# embedded openvino engine runs (docs/performance.md#openvino). The backend fixes the IR's batch at
# max_batch_size (ov::set_batch) and refuses smaller batches unless it may pad them: a batch of 1
# then costs a batch of max_batch_size (`ganserve compile --max-batch-size`). It has no parameter that
# asks for f32 (only HINT_BF16=YES for bf16), so on CPUs with native bf16 it runs OpenVINO's default
# there, bf16.
OPENVINO_PARAMETERS = {"NUM_STREAMS": "1", "PERFORMANCE_HINT": "LATENCY", "ENABLE_BATCH_PADDING": "YES"}


def triton_config(
    config: ModelConfig, part: str, target: Target, digest: str, options: BatchingOptions, versions: dict[int, str] | None = None
) -> str:
    """`versions` ({version: digest}, default {1: digest}) are all loaded: during a rollout gateways
    that have not switched yet still ask for the previous version by number."""
    versions = versions or {VERSION: digest}
    inputs, outputs = tensor_specs(config, part)
    preferred = ", ".join(str(b) for b in options.preferred_batch_sizes if b <= options.max_batch_size)
    parameters = {DIGEST_KEY: digest, **{version_digest_key(v): d for v, d in sorted(versions.items(), reverse=True)}}
    if target == Target.python:
        # The Python backend runs the onnx target's graph of its version; one compiled copy serves both.
        parameters["onnx_model"] = f"../../{Target.onnx}/{entry_name(config.name, part)}"
    if target == Target.openvino:
        parameters |= OPENVINO_PARAMETERS
    params = "\n".join(f'parameters {{ key: "{k}" value: {{ string_value: "{v}" }} }}' for k, v in parameters.items())
    input_lines = ",\n".join(_tensor(s) for s in inputs)
    output_lines = ",\n".join(_tensor(s) for s in outputs)
    return (
        f'name: "{entry_name(config.name, part)}"\n'
        f"{BACKEND_LINES[target]}\n"
        f"max_batch_size: {options.max_batch_size}\n"
        f"version_policy: {{ specific: {{ versions: [ {', '.join(map(str, sorted(versions, reverse=True)))} ] }} }}\n"
        f"input [\n{input_lines}\n]\n"
        f"output [\n{output_lines}\n]\n"
        f"dynamic_batching {{ preferred_batch_size: [ {preferred} ], max_queue_delay_microseconds: {options.max_queue_delay_us} }}\n"
        f"instance_group [ {{ count: {options.instances}, kind: {INSTANCE_KIND[target]} }} ]\n"
        f"{_warmup(inputs)}"
        f"{params}\n"
    )
