"""NVIDIA Triton over gRPC: the production engine.

One long-lived `tritonclient.grpc.aio` client per gateway, made in the lifespan and shared by
every model. Tensors travel as raw binary; images come back as uint8. Each call has a deadline.
Any failure to reach Triton becomes EngineError, which the API answers 503 with Retry-After;
the gRPC channel reconnects by itself, so service resumes when Triton is back.

Every call names the Triton model version compiled from this gateway's weights (each config lists
its versions' digests: ganserve.repository), so that while a new version rolls out, a gateway
never mixes its weights' ETags with another version's images.
"""

from __future__ import annotations

import numpy as np
import tritonclient.grpc.aio as grpcclient
from tritonclient.grpc import MAX_GRPC_MESSAGE_SIZE
from tritonclient.utils import InferenceServerException

from ganserve.artifacts import Artifact
from ganserve.engines.base import EngineError
from ganserve.repository import DIGEST_KEY, entry_name, version_digest_key
from ganserve.settings import Settings

DTYPES = {np.dtype(np.float32): "FP32", np.dtype(np.uint8): "UINT8"}


# tritonclient's defaults, plus short reconnect backoff: after a Triton restart the gateway is
# serving again within about a second, instead of waiting out gRPC's backoff of up to minutes.
CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_GRPC_MESSAGE_SIZE),
    ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_SIZE),
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]


def connect(settings: Settings) -> grpcclient.InferenceServerClient:
    return grpcclient.InferenceServerClient(settings.triton_url, channel_args=CHANNEL_ARGS)


class TritonEngine:
    name = "triton"
    precision = None
    precision_reason = "set by the Triton target that serves the model (onnx, python: float32; tensorrt: fp16; docs/deployment.md)"

    def __init__(self, artifact: Artifact, settings: Settings, client: grpcclient.InferenceServerClient):
        self.client, self.timeout_s = client, settings.triton_timeout_s
        self.digest = artifact.digest
        self.c_dim = artifact.config.c_dim
        self.models = {part: entry_name(artifact.config.name, part) for part in artifact.config.graph_parts}
        self.batches_in_flight = settings.triton_batches_in_flight
        self.load_timeout_s = settings.triton_load_timeout_s
        self.versions: dict[str, str] = {}  # part -> the Triton version with these weights, once found

    async def _infer(self, part: str, feeds: dict[str, np.ndarray], output: str) -> np.ndarray:
        inputs = []
        for name, array in feeds.items():
            array = np.ascontiguousarray(array)
            tensor = grpcclient.InferInput(name, list(array.shape), DTYPES[array.dtype])
            tensor.set_data_from_numpy(array)
            inputs.append(tensor)
        if part not in self.versions:
            await self.check_ready()
        try:
            result = await self.client.infer(self.models[part], inputs, self.versions[part], client_timeout=self.timeout_s)
        except InferenceServerException as exc:
            raise EngineError(f"Triton {self.models[part]}: {exc.message()}") from None
        return result.as_numpy(output)

    async def map(self, z: np.ndarray, c: np.ndarray) -> np.ndarray:
        feeds = {"z": z.astype(np.float32)}
        if self.c_dim:
            feeds["c"] = c.astype(np.float32)
        return await self._infer("mapping", feeds, "w")

    async def synthesize(self, ws: np.ndarray, noise_gain: np.ndarray) -> np.ndarray:
        # Triton's config declares the per-sample scalar as [1], reshaped to [] for the graph.
        return await self._infer("synthesis", {"ws": ws, "noise_gain": noise_gain.reshape(-1, 1)}, "images")

    async def synthesize_with_noise(self, ws: np.ndarray, noise_maps: list[np.ndarray]) -> np.ndarray:
        feeds = {"ws": ws, **{f"noise_{i}": m for i, m in enumerate(noise_maps)}}
        return await self._infer("synthesis_noise", feeds, "images")

    async def synthesize_transformed(self, ws: np.ndarray, transform: np.ndarray) -> np.ndarray:
        return await self._infer("synthesis", {"ws": ws, "transform": transform}, "images")

    async def check_ready(self) -> None:
        """Finds the version of each graph compiled from these weights and ready in Triton (for every
        call after); raises EngineError naming the graph when there is none."""
        found = {}
        for part, model in self.models.items():
            try:
                config = (await self.client.get_model_config(model, as_json=True, client_timeout=self.timeout_s))["config"]
                digests = {key: value.get("string_value") for key, value in config.get("parameters", {}).items()}
                versions = [str(v) for v in config.get("version_policy", {}).get("specific", {}).get("versions", [])]
                version = next((v for v in versions if digests.get(version_digest_key(int(v))) == self.digest), None)
                if version is None and not versions and digests.get(DIGEST_KEY) == self.digest:
                    version = ""  # a repository compiled before versions were listed: its one version
                if version is None:
                    raise EngineError(f"Triton model {model} was compiled from other weights: recompile and reload it")
                if not await self.client.is_model_ready(model, version, client_timeout=self.timeout_s):
                    raise EngineError(f"Triton model {model} is not ready")
            except InferenceServerException as exc:
                raise EngineError(f"Triton unreachable for {model}: {exc.message()}") from None
            found[part] = version
        self.versions = found

    async def prepare(self) -> None:
        """When Triton has no version of these weights loaded, asks it to load the graphs again from
        its repository (explicit model control: it loads the new version beside the old one, which
        keeps serving meanwhile)."""
        try:
            await self.check_ready()
            return
        except EngineError:
            pass
        for model in self.models.values():
            try:
                await self.client.load_model(model, client_timeout=self.load_timeout_s)
            except InferenceServerException as exc:
                raise EngineError(f"Triton could not load {model}: {exc.message()}") from None
        await self.check_ready()

    def close(self) -> None:
        """The shared client is closed by its owner, the app's lifespan."""
