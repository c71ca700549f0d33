"""The embedded default: ONNX Runtime in-process, on the graphs in the model repository."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from ganserve.artifacts import Artifact
from ganserve.engines.base import EngineError
from ganserve.repository import DIGEST_KEY, graph_path, graph_versions
from ganserve.settings import Settings


class OnnxRuntimeEngine:
    name = "onnxruntime"
    precision, precision_reason = "f32", "ONNX Runtime's CPU kernels, float32"

    def __init__(self, artifact: Artifact, settings: Settings):
        self.c_dim = artifact.config.c_dim
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        # Idle worker threads would otherwise spin between runs, taking cores that HTTP handling
        # and encoding need (measured: 1.8 -> 1.3 cores busy and +25% throughput on 2 cores).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.sessions = {}
        for part in artifact.config.graph_parts:
            self.sessions[part] = self._session(artifact, settings, part, options)
        if "synthesis_noise" in self.sessions:
            self.noise_inputs = [i.name for i in self.sessions["synthesis_noise"].get_inputs()[1:]]

    @staticmethod
    def _session(artifact: Artifact, settings: Settings, part: str, options: ort.SessionOptions) -> ort.InferenceSession:
        """The graph of the version compiled from these weights, newest first (during a rollout the
        repository holds the previous version too)."""
        name = artifact.config.name
        versions = graph_versions(settings.model_repository, name, part)
        if not versions:
            missing = graph_path(settings.model_repository, name, part)
            raise EngineError(f"{missing} is missing: run `ganserve compile {artifact.directory}`")
        for version in versions:
            path = graph_path(settings.model_repository, name, part, version)
            session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            if session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY) == artifact.digest:
                return session
        listed = ", ".join(map(str, versions))
        raise EngineError(f"{name}_{part} was compiled from other weights (versions {listed}): run `ganserve compile {artifact.directory}`")

    def map(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        feeds = {"z": z.astype(np.float32)}
        if self.c_dim:
            feeds["c"] = c.astype(np.float32)
        return self.sessions["mapping"].run(None, feeds)[0]

    def synthesize(self, ws: np.ndarray, noise_gain: np.ndarray) -> np.ndarray:
        return self.sessions["synthesis"].run(None, {"ws": ws, "noise_gain": noise_gain})[0]

    def synthesize_with_noise(self, ws: np.ndarray, noise_maps: list[np.ndarray]) -> np.ndarray:
        feeds = {"ws": ws, **dict(zip(self.noise_inputs, noise_maps, strict=True))}
        return self.sessions["synthesis_noise"].run(None, feeds)[0]

    def synthesize_transformed(self, ws: np.ndarray, transform: np.ndarray) -> np.ndarray:
        return self.sessions["synthesis"].run(None, {"ws": ws, "transform": transform})[0]

    async def check_ready(self) -> None:
        """In-process: ready once constructed."""

    async def prepare(self) -> None:
        """In-process: the graphs are loaded."""

    def close(self) -> None:
        self.sessions.clear()
