"""In-process OpenVINO on the CPU (GANSERVE_ENGINE=openvino): the ONNX graphs the embedded ONNX
Runtime engine reads (the same versions, chosen by the same weights' digest), compiled by
OpenVINO's CPU plugin. No torch.

GANSERVE_OPENVINO_PRECISION:

- `exact` (the default): float32 throughout, ONNX Runtime's images within the parity tolerance
  (tests/test_engine_openvino.py). On CPUs with native bf16 the plugin's own default inference
  precision is bf16, so exact asks for f32 explicitly (and EXECUTION_MODE_HINT=ACCURACY).
- `fast`: synthesis in bfloat16 where the CPU has native bf16 (AVX512-BF16 or AMX; `detect_bf16`).
  Mapping stays float32 in both modes, so w vectors (cached, saved, returned to clients) are
  exact either way: only pixels move (benchmarks/ganserve_bench/openvino.py measures how far).
  Where the CPU has no bf16, fast runs exact and says so: `precision` and `precision_reason`,
  shown per model in GET /v1/models.

Configured for the micro-batcher, which sends one batch at a time per graph: the LATENCY hint,
one stream, INFERENCE_NUM_THREADS = GANSERVE_THREADS or every core this process may use. The
THROUGHPUT hint would split the cores into streams that only concurrent infer requests can fill,
and the batcher never makes those (docs/performance.md#openvino).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.properties as props
import openvino.properties.hint as hints

from ganserve.artifacts import Artifact
from ganserve.engines.base import EngineError
from ganserve.repository import DIGEST_KEY, graph_path, graph_versions
from ganserve.settings import OpenVinoPrecision, Settings

log = logging.getLogger(__name__)

DEVICE = "CPU"
CPUINFO = Path("/proc/cpuinfo")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # native bf16 arithmetic; without them OpenVINO would emulate it


@dataclass(frozen=True)
class Bf16Support:
    available: bool
    reason: str


def cpu_flags(cpuinfo: Path = CPUINFO) -> set[str] | None:
    """The CPU's feature flags as Linux reports them; None where /proc/cpuinfo cannot be read."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return None


def detect_bf16(core: ov.Core) -> Bf16Support:
    """Native bf16: OpenVINO's CPU plugin lists BF16 among its OPTIMIZATION_CAPABILITIES, and the
    CPU flags (where readable) have avx512_bf16 or amx_bf16. The tests monkeypatch this."""
    capabilities = list(core.get_property(DEVICE, "OPTIMIZATION_CAPABILITIES"))
    flags = cpu_flags()
    if "BF16" not in capabilities:
        return Bf16Support(False, f"OpenVINO's CPU capabilities are {', '.join(capabilities)}: no BF16")
    if flags is None:
        return Bf16Support(True, "OpenVINO's CPU capabilities list BF16 (no /proc/cpuinfo to cross-check)")
    native = [flag for flag in BF16_CPU_FLAGS if flag in flags]
    if not native:
        return Bf16Support(False, "OpenVINO lists BF16, but the CPU flags have neither avx512_bf16 nor amx_bf16 (it would be emulated)")
    return Bf16Support(True, f"OpenVINO's CPU capabilities list BF16 and the CPU has {', '.join(native)}")


def compile_config(threads: int, precision: str) -> dict:
    """The CPU plugin's properties: one infer request at a time, on `threads` cores, in `precision`."""
    config = {
        hints.performance_mode: hints.PerformanceMode.LATENCY,
        props.num_streams: 1,
        props.inference_num_threads: threads,
    }
    if precision == "bf16":
        return config | {hints.inference_precision: ov.Type.bf16, hints.execution_mode: hints.ExecutionMode.PERFORMANCE}
    return config | {hints.inference_precision: ov.Type.f32, hints.execution_mode: hints.ExecutionMode.ACCURACY}


def graph_digest(model: ov.Model) -> str:
    """The weights' digest the ONNX export recorded in its metadata (OpenVINO keeps it as rt_info)."""
    key = ["framework", DIGEST_KEY]
    return str(model.get_rt_info(key).astype(str)) if model.has_rt_info(key) else ""


class _Graph:
    """One compiled graph and its one infer request. A lock, because the request is reused: the
    batcher calls each graph once at a time anyway, but a direct caller may not."""

    def __init__(self, compiled: ov.CompiledModel):
        self.compiled = compiled
        self.request = compiled.create_infer_request()
        self.lock = threading.Lock()

    def run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        inputs = {name: np.ascontiguousarray(array, dtype=np.float32) for name, array in feeds.items()}
        with self.lock:
            return self.request.infer(inputs)[0]  # copied out (share_outputs=False): the request's buffers are reused


class OpenVinoEngine:
    name = "openvino"

    def __init__(self, artifact: Artifact, settings: Settings):
        self.c_dim = artifact.config.c_dim
        core = ov.Core()
        self.threads = settings.threads or len(os.sched_getaffinity(0))
        self.precision, self.precision_reason = "f32", "GANSERVE_OPENVINO_PRECISION=exact: float32"
        if settings.openvino_precision == OpenVinoPrecision.fast:
            support = detect_bf16(core)
            if support.available:
                self.precision = "bf16"
                self.precision_reason = f"GANSERVE_OPENVINO_PRECISION=fast: synthesis in bfloat16, mapping in float32 ({support.reason})"
            else:
                self.precision_reason = f"GANSERVE_OPENVINO_PRECISION=fast, but no native bf16 here, so exact float32: {support.reason}"
                log.warning("model %s: %s", artifact.config.name, self.precision_reason)
        self.graphs: dict[str, _Graph] = {}
        for part in artifact.config.graph_parts:
            precision = "f32" if part == "mapping" else self.precision
            model = self._model(core, artifact, settings, part)
            self.graphs[part] = _Graph(core.compile_model(model, DEVICE, compile_config(self.threads, precision)))
        if "synthesis_noise" in self.graphs:
            self.noise_inputs = [port.get_any_name() for port in self.graphs["synthesis_noise"].compiled.inputs[1:]]

    @staticmethod
    def _model(core: ov.Core, artifact: Artifact, settings: Settings, part: str) -> ov.Model:
        """The graph of the version compiled from these weights, newest first (as OnnxRuntimeEngine)."""
        name = artifact.config.name
        versions = graph_versions(settings.model_repository, name, part)
        if not versions:
            missing = graph_path(settings.model_repository, name, part)
            raise EngineError(f"{missing} is missing: run `ganserve compile {artifact.directory}`")
        for version in versions:
            model = core.read_model(graph_path(settings.model_repository, name, part, version))
            if graph_digest(model) == artifact.digest:
                return model
        listed = ", ".join(map(str, versions))
        raise EngineError(f"{name}_{part} was compiled from other weights (versions {listed}): run `ganserve compile {artifact.directory}`")

    def map(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        feeds = {"z": z}
        if self.c_dim:
            feeds["c"] = c
        return self.graphs["mapping"].run(feeds)

    def synthesize(self, ws: np.ndarray, noise_gain: np.ndarray) -> np.ndarray:
        return self.graphs["synthesis"].run({"ws": ws, "noise_gain": noise_gain})

    def synthesize_with_noise(self, ws: np.ndarray, noise_maps: list[np.ndarray]) -> np.ndarray:
        return self.graphs["synthesis_noise"].run({"ws": ws, **dict(zip(self.noise_inputs, noise_maps, strict=True))})

    def synthesize_transformed(self, ws: np.ndarray, transform: np.ndarray) -> np.ndarray:
        return self.graphs["synthesis"].run({"ws": ws, "transform": transform})

    async def check_ready(self) -> None:
        """In-process: ready once compiled."""

    async def prepare(self) -> None:
        """In-process: the graphs are compiled."""

    def close(self) -> None:
        self.graphs.clear()
