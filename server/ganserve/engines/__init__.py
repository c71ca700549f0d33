"""Engines turn latents into images. Pick one with GANSERVE_ENGINE."""

from __future__ import annotations

from ganserve.artifacts import Artifact
from ganserve.engines.base import Engine, EngineError
from ganserve.settings import EngineKind, Settings

__all__ = ["Engine", "EngineError", "load_engine"]


def load_engine(artifact: Artifact, settings: Settings, triton_client=None) -> Engine:
    """triton_client: the app's shared tritonclient aio client, for GANSERVE_ENGINE=triton."""
    # Imported on demand so that the embedded default never imports torch.
    if settings.engine == EngineKind.triton:
        from ganserve.engines.triton import TritonEngine

        return TritonEngine(artifact, settings, triton_client)
    if settings.engine == EngineKind.torch:
        from ganserve.engines.torch import TorchEngine

        return TorchEngine(artifact, settings)
    if settings.engine == EngineKind.openvino:
        try:
            from ganserve.engines.openvino import OpenVinoEngine
        except ModuleNotFoundError as exc:  # an optional extra: say which
            raise EngineError(f"GANSERVE_ENGINE=openvino needs OpenVINO: pip install 'ganserve[openvino]' ({exc})") from None

        return OpenVinoEngine(artifact, settings)
    from ganserve.engines.onnxruntime import OnnxRuntimeEngine

    return OnnxRuntimeEngine(artifact, settings)
