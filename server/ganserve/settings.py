"""One way to configure ganserve: this settings object, read from GANSERVE_* environment variables."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]


class EngineKind(StrEnum):
    onnxruntime = "onnxruntime"  # in-process ONNX Runtime: the embedded default, no torch
    torch = "torch"  # in-process PyTorch: reference and GPU path
    triton = "triton"  # NVIDIA Triton over gRPC: the production path
    openvino = "openvino"  # in-process OpenVINO on the CPU: exact f32, or bf16 where the CPU has it (no torch)


class OpenVinoPrecision(StrEnum):
    exact = "exact"  # float32: ONNX Runtime's images within the parity tolerance
    fast = "fast"  # synthesis in bfloat16 on CPUs with native bf16 (AVX512-BF16, AMX); elsewhere exact, and says so


class AuthPolicy(StrEnum):
    open = "open"  # anyone may call every route; a key, when sent, is checked and identifies the caller
    keys = "keys"  # every route but health needs a key with its scope (docs/security.md)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GANSERVE_")

    host: str = "127.0.0.1"
    port: int = 8000
    # gRPC (ganserve.v1, health, reflection), in the same process as HTTP and on the same host.
    grpc_port: int = Field(50051, ge=0, le=65535)  # 0: no gRPC server
    grpc_max_receive_bytes: int = Field(4 * 1024 * 1024, ge=1024)  # a request (16 ws of 18 x 512 floats: 0.6 MiB)
    grpc_max_send_bytes: int = Field(256 * 1024 * 1024, ge=1024)  # a response (16 raw 1024² images: 48 MiB)
    grpc_grace_s: float = Field(10.0, ge=0)  # on shutdown, in-flight calls get this long to finish
    engine: EngineKind = EngineKind.onnxruntime

    # Access (docs/security.md). Keys are kept in the saved-latent store: SQLite or the durable Redis.
    auth: AuthPolicy = AuthPolicy.open  # `make serve`: open; compose and Helm: keys
    keys_file: Path | None = None  # more keys, read-only, from a JSON file of records (a Kubernetes Secret)
    key_cache_s: float = Field(5.0, ge=0)  # a gateway trusts a key it looked up this long: a revocation's delay
    metrics_port: int = Field(0, ge=0, le=65535)  # >0: /metrics on its own port, open; 0: on the main port, scope metrics
    tls_cert_file: Path | None = None  # with tls_key_file: HTTPS and gRPC over TLS, for deployments without a proxy
    tls_key_file: Path | None = None
    # Rate limits per key (per client address without one), shared through GANSERVE_REDIS_URL when set.
    # R per second with a burst of burst_s: R x burst_s in any burst_s-second window. 0: no limit.
    rate_limit_requests_per_s: int = Field(50, ge=0)
    rate_limit_images_per_s: int = Field(50, ge=0)
    rate_limit_burst_s: int = Field(4, ge=1)
    max_saved_latents_per_key: int = Field(10_000, ge=0)  # 0: no quota; anonymous callers share one
    max_concurrent_requests: int = Field(64, ge=1)  # per process, HTTP and gRPC together; past it, 503 busy
    models_dir: Path = REPO_ROOT / "models"
    # A reload (POST /v1/admin/reload, SIGHUP) swaps in new weights; the old ones finish the requests
    # under way, then stop this many seconds after their last work (docs/kubernetes.md).
    model_retire_grace_s: float = Field(10.0, ge=0)
    # Marked "default": true in GET /v1/models and ListModels: the model for a client with no preference.
    # When no model of that name is served, the first served model by name is the default.
    default_model: str = "emoji32"  # the trained demo model (docs/training.md)
    model_repository: Path = REPO_ROOT / "model_repository"
    device: str = "cpu"  # torch engine only: "cpu" or "cuda"
    threads: int = 0  # engine intra-op threads; 0 = all cores
    openvino_precision: OpenVinoPrecision = OpenVinoPrecision.exact  # openvino engine only (docs/performance.md#openvino)

    # Triton engine.
    triton_url: str = "127.0.0.1:8001"  # gRPC host:port
    triton_timeout_s: float = Field(10.0, gt=0)  # deadline of each inference call
    triton_load_timeout_s: float = Field(300.0, gt=0)  # a reload asking Triton to load new weights (TensorRT engines: minutes)
    triton_batches_in_flight: int = Field(4, ge=1)  # gateway batches sent at once; Triton batches them further
    triton_env: Path = REPO_ROOT / ".venv-triton"  # `ganserve triton`: the local tritonserver's environment

    # Redis. Two instances, because the cache and the saved latents must never share an eviction
    # policy: the cache evicts (allkeys-lru, TTLs), the store never does and logs every write (AOF).
    redis_url: str | None = None  # cache of w vectors and images; unset: in-process LRU
    redis_store_url: str | None = None  # saved latents; unset: a local SQLite file (latents_path)
    latents_path: Path = REPO_ROOT / "var" / "latents.sqlite3"
    # Training runs (`ganserve train --run-dir`): a model's log is <runs_dir>/<model>/metrics.jsonl,
    # served read-only to the playground's training view (GET /v1/models/{model}/training).
    runs_dir: Path = REPO_ROOT / "runs"
    redis_timeout_ms: float = Field(25.0, gt=0)  # the cache's budget per call: past it, bypass the cache
    redis_breaker_failures: int = Field(3, ge=1)  # consecutive cache errors that open the circuit...
    redis_breaker_reset_s: float = Field(2.0, gt=0)  # ...for this long, then one call tries again
    store_timeout_s: float = Field(1.0, gt=0)  # saved-latent calls; past it, 503
    w_cache_ttl_s: int = 7 * 24 * 3600
    image_cache_ttl_s: int = 24 * 3600
    max_saved_latents_page: int = Field(100, ge=1)

    # Micro-batching: concurrent requests share one engine call. With no delay, a batch is what
    # queued up while the engine ran the previous one: no added latency when requests are alone.
    batch_max_size: int = Field(16, ge=1)
    batch_max_delay_ms: float = Field(0.0, ge=0)
    queue_max_images: int = Field(256, ge=1)  # beyond this, requests get 503 + Retry-After
    # Every request that reaches the engine has a deadline: this, or the client's (HTTP X-Deadline-Ms,
    # gRPC's own). One the engine's queue cannot meet is refused at once with 503 + Retry-After.
    request_deadline_s: float = Field(10.0, gt=0)
    interactive_max_images: int = Field(1, ge=0)  # requests of at most this many images go ahead of bulk ones

    # Per-request limits, checked before any work starts.
    max_body_bytes: int = 256 * 1024
    max_images: int = Field(16, ge=1)  # images in one batch request
    max_frames: int = Field(64, ge=2)  # frames in one interpolation
    max_keyframes: int = Field(16, ge=2)
    max_mix_side: int = Field(8, ge=1)  # rows and columns of a style-mixing grid
    max_edits: int = Field(16, ge=0)  # edits on one latent
    # Pixels one request may make (images x resolution², grids and animations included): 64 frames of
    # 1024², or 16 images of 2048². Bounds the memory of the engine's output and of the encoder.
    max_request_pixels: int = Field(64 * 1024 * 1024, ge=1)

    # Projection (image -> latent) jobs: queued by the gateway, run by `ganserve worker` (docs/projection.md).
    # The queue is a Redis stream on the store instance when redis_store_url is set, else this SQLite file.
    jobs_path: Path = REPO_ROOT / "var" / "jobs.sqlite3"
    projection_max_steps: int = Field(1000, ge=1)
    projection_max_upload_bytes: int = Field(4 * 1024 * 1024, ge=1024)  # the uploaded file (HTTP body, gRPC field)
    projection_max_image_pixels: int = Field(4096 * 4096, ge=1)  # decoded: a larger image is refused unread (a bomb)
    projection_max_jobs_per_key: int = Field(2, ge=1)  # queued or running, per caller
    projection_max_queued: int = Field(32, ge=1)  # queued or running in all; beyond, 503 + Retry-After
    projection_ttl_s: float = Field(3600.0, gt=0)  # a finished job (and its progress) is kept this long
    projection_stale_s: float = Field(60.0, gt=0)  # a running job whose worker is silent this long runs again elsewhere
    projection_local_workers: int = Field(1, ge=0)  # worker subprocesses the gateway starts on its first job; 0: separate workers
    projection_worker_jobs: int = Field(1, ge=1)  # jobs one worker runs at once
    projection_device: str = "cpu"  # the worker's torch device: "cpu" or "cuda"

    # Encoding. PNG level 4 and WebP method 2 take 0.4-0.5x the time of Pillow's defaults (6, 4) at
    # 512²-1024² for 5-9% more bytes (make bench-encode, docs/performance.md#encoding).
    png_compress_level: int = Field(4, ge=0, le=9)
    jpeg_quality: int = Field(90, ge=1, le=100)
    webp_quality: int = Field(90, ge=1, le=100)
    webp_method: int = Field(2, ge=0, le=6)  # libwebp's effort for still images, 0 fastest
    encode_threads: int = Field(4, ge=1)

    # In-process caches.
    w_cache_entries: int = 65536
    image_cache_bytes: int = 64 * 1024 * 1024

    @model_validator(mode="after")
    def _files(self) -> Settings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("GANSERVE_TLS_CERT_FILE and GANSERVE_TLS_KEY_FILE go together: set both or neither")
        for path in (self.tls_cert_file, self.tls_key_file, self.keys_file):
            if path is not None and not path.is_file():
                raise ValueError(f"file {path} does not exist")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
