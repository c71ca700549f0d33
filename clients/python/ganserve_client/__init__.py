"""Python client for ganserve, over HTTP or gRPC: Client (blocking) and AsyncClient.

from ganserve_client import Client, Latent

with Client("grpc://127.0.0.1:50051") as client:        # or "http://127.0.0.1:8000"; api_key= or $GANSERVE_API_KEY
    for image in client.generate("demo64", [1, 2, 3], psi=0.7):
        ...
"""

from ganserve_client.client import AsyncClient, Client
from ganserve_client.errors import (
    DeadlineExceeded,
    GanserveError,
    InvalidInput,
    NotFound,
    Overloaded,
    PermissionDenied,
    QuotaExceeded,
    RateLimited,
    RequestTooLarge,
    Unauthenticated,
    Unavailable,
)
from ganserve_client.types import (
    ChildrenResult,
    Direction,
    Edit,
    Frame,
    Image,
    ImageFormat,
    Latent,
    LatentKind,
    LatentPage,
    MixCell,
    MixResult,
    ModelInfo,
    Noise,
    ProjectionEvent,
    ProjectionState,
    SavedLatent,
    Space,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "ChildrenResult",
    "DeadlineExceeded",
    "Direction",
    "Edit",
    "Frame",
    "GanserveError",
    "Image",
    "ImageFormat",
    "InvalidInput",
    "Latent",
    "LatentKind",
    "LatentPage",
    "MixCell",
    "MixResult",
    "ModelInfo",
    "Noise",
    "NotFound",
    "Overloaded",
    "PermissionDenied",
    "ProjectionEvent",
    "ProjectionState",
    "QuotaExceeded",
    "RateLimited",
    "RequestTooLarge",
    "SavedLatent",
    "Space",
    "Unauthenticated",
    "Unavailable",
]
