"""Client and AsyncClient: the same methods, over HTTP (http://host:8000) or gRPC
(grpc://host:50051), chosen by the URL.

    with Client("grpc://127.0.0.1:50051", api_key="gsk_...") as client:
        images = client.generate("demo64", [1, 2, 3], psi=0.7)
        images[0].save("1.png")

Both send the API key (api_key, else $GANSERVE_API_KEY) with every call, and wait out the server's
Retry-After on rate limits and 503s before retrying, up to max_retries times and max_retry_wait_s
seconds in all; calls that do not write are also retried, after a short backoff, when the way to the
server failed (connection refused or lost, a load balancer's 502/503/504), so that a replica dying
under a balancer is not seen by them (transports.RetryPolicy says which calls are retried after
what). `retries` counts the calls sent again.
"""

from __future__ import annotations

import math
import os
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from ganserve_client import calls
from ganserve_client.errors import InvalidInput
from ganserve_client.transports import RetryPolicy, async_transport, connection, sync_transport
from ganserve_client.types import (
    ChildrenResult,
    Direction,
    Frame,
    Image,
    ImageFormat,
    LatentKind,
    LatentLike,
    LatentPage,
    MixResult,
    ModelInfo,
    Noise,
    Options,
    ProjectionEvent,
    SavedLatent,
    Space,
)

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_RETRY_WAIT_S = 10.0
RootCertificates = bytes | str | os.PathLike[str] | None


def _options(
    psi: float,
    cutoff: int | None,
    class_: int | str | None,
    noise: Noise | str,
    noise_seed: int,
    translate: tuple[float, float] = (0.0, 0.0),
    rotate: float = 0.0,
) -> Options:
    if not math.isfinite(psi):
        raise InvalidInput(f"psi: must be a finite number, got {psi}", "psi")
    x, y = translate
    return Options(psi, cutoff, class_, Noise(noise), noise_seed, (float(x), float(y)), float(rotate))


class Client:
    """Blocking client. `url`: http(s)://host:port, grpc://host:port or grpcs://host:port (TLS);
    `timeout`: seconds per try of a call; `api_key`: sent with every call (None: $GANSERVE_API_KEY
    when set; "": none); `max_retries`, `max_retry_wait_s`: retries after a Retry-After or a failure
    on the way to the server, and the seconds they may wait in all (0 retries: every failure is
    raised at once); `tls`: gRPC over TLS;
    `root_certificates`: the PEM (bytes, or a file's path) of the certificate authorities to trust
    instead of the system's, over https:// or gRPC (it implies tls)."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        api_key: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
        tls: bool = False,
        root_certificates: RootCertificates = None,
    ):
        self.transport_name, where = connection(url, timeout, api_key, tls, root_certificates)
        self._transport = sync_transport(self.transport_name, where, RetryPolicy(max_retries, max_retry_wait_s))

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._transport.close()

    @property
    def retries(self) -> int:
        """How many times a call has been sent again since this client was made (see RetryPolicy)."""
        return self._transport.retries

    def models(self) -> list[ModelInfo]:
        return self._transport.unary(calls.list_models())

    def generate(
        self,
        model: str,
        latents: Sequence[LatentLike],
        *,
        psi: float = 1.0,
        cutoff: int | None = None,
        class_: int | str | None = None,
        noise: Noise | str = Noise.const,
        noise_seed: int = 0,
        translate: tuple[float, float] = (0.0, 0.0),
        rotate: float = 0.0,
        format: ImageFormat | str = ImageFormat.png,
        include_ws: bool = False,
        grid: bool = False,
        columns: int | None = None,
    ) -> list[Image]:
        """One image per latent (ints are seeds), in order; with grid, one image of them all."""
        options = _options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
        return self._transport.unary(calls.generate(model, latents, options, ImageFormat(format), include_ws, grid, columns))

    def interpolate(
        self,
        model: str,
        keyframes: Sequence[LatentLike],
        *,
        frames: int = 16,
        space: Space | str = Space.w,
        loop: bool = False,
        psi: float = 1.0,
        cutoff: int | None = None,
        class_: int | str | None = None,
        noise: Noise | str = Noise.const,
        noise_seed: int = 0,
        translate: tuple[float, float] = (0.0, 0.0),
        rotate: float = 0.0,
        format: ImageFormat | str = ImageFormat.png,
        include_ws: bool = False,
        latents_only: bool = False,
    ) -> Iterator[Frame]:
        """Frames in order, as they are made (gRPC streams them; leaving the loop early cancels the rest)."""
        options = _options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
        call = calls.interpolate(model, keyframes, frames, Space(space), loop, options, ImageFormat(format), include_ws, latents_only)
        return self._transport.stream(call)

    def mix(
        self,
        model: str,
        rows: Sequence[LatentLike],
        columns: Sequence[LatentLike],
        *,
        layers: str | Sequence[int] = "coarse",
        psi: float = 1.0,
        cutoff: int | None = None,
        class_: int | str | None = None,
        noise: Noise | str = Noise.const,
        noise_seed: int = 0,
        translate: tuple[float, float] = (0.0, 0.0),
        rotate: float = 0.0,
        format: ImageFormat | str = ImageFormat.png,
        include_ws: bool = False,
        grid: bool = False,
    ) -> MixResult:
        """Every row latent with `layers` taken from every column latent: the cells, or one grid image."""
        options = _options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
        return self._transport.unary(calls.mix(model, rows, columns, layers, options, ImageFormat(format), include_ws, grid))

    def directions(self, model: str) -> list[Direction]:
        """The directions a latent's edits can move along: Latent.seed(1).edited(direction.id, 2.0)."""
        return self._transport.unary(calls.list_directions(model))

    def children(
        self,
        model: str,
        parent: LatentLike,
        *,
        count: int = 8,
        spread: float = 0.5,
        layers: str | Sequence[int] = "all",
        seed: int = 0,
        psi: float = 1.0,
        cutoff: int | None = None,
        class_: int | str | None = None,
        noise: Noise | str = Noise.const,
        noise_seed: int = 0,
        translate: tuple[float, float] = (0.0, 0.0),
        rotate: float = 0.0,
        format: ImageFormat | str = ImageFormat.png,
        include_parent: bool = False,
        latents_only: bool = False,
        grid: bool = False,
        columns: int | None = None,
    ) -> ChildrenResult:
        """`count` random variations of `parent` (its edits applied first), `spread` from it along the
        model's GANSpace directions on `layers`; the same `seed` gives the same children. Their
        images (each with its ws) and ws, the parent first with include_parent; or one grid image."""
        if not math.isfinite(spread):
            raise InvalidInput(f"spread: must be a finite number, got {spread}", "spread")
        if count < 1:  # gRPC would read 0 as the default, 8
            raise InvalidInput(f"count: must be at least 1, got {count}", "count")
        options = _options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
        fmt = ImageFormat(format)
        call = calls.children(model, parent, count, spread, layers, seed, options, fmt, include_parent, latents_only, grid, columns)
        return self._transport.unary(call)

    def save_latent(
        self,
        model: str,
        latent: LatentLike,
        *,
        kind: LatentKind | str | None = None,
        psi: float = 1.0,
        cutoff: int | None = None,
        class_: int | str | None = None,
        name: str = "",
        ttl_s: float | None = None,
    ) -> SavedLatent:
        kind = LatentKind(kind) if kind else None
        return self._transport.unary(calls.save_latent(model, latent, kind, psi, cutoff, class_, name, ttl_s))

    def get_latent(self, id: str) -> SavedLatent:
        return self._transport.unary(calls.get_latent(id))

    def delete_latent(self, id: str) -> None:
        self._transport.unary(calls.delete_latent(id))

    def list_latents(
        self, model: str | None = None, *, limit: int | None = None, cursor: str | None = None, include_values: bool = False
    ) -> LatentPage:
        return self._transport.unary(calls.list_latents(model, limit, cursor, include_values))

    def project(
        self,
        model: str,
        image: bytes | os.PathLike[str] | str,
        *,
        steps: int = 200,
        space: str = "w",
        seed: int = 0,
        class_: int | str | None = None,
        preview_every: int = 25,
        name: str = "",
    ) -> Iterator[ProjectionEvent]:
        """Find the latent of an image (its bytes, or a file's path): the job's events from submission
        to the last one; that one, when succeeded, has latent_id. Over HTTP the job is followed with
        Server-Sent Events; over gRPC, closing the iterator early cancels the job."""
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        return self._transport.stream(calls.project(model, data, steps, space, seed, class_, preview_every, name))

    def projection(self, id: str) -> ProjectionEvent:
        """A projection job as it is now."""
        return self._transport.unary(calls.get_projection(id))

    def cancel_projection(self, id: str) -> ProjectionEvent:
        return self._transport.unary(calls.cancel_projection(id))


class _CallBuilder:
    """A transport that hands the Call back instead of sending it: a Client over it builds the
    calls of AsyncClient, so that the arguments of every method are handled in one place."""

    def unary(self, call: calls.Call) -> calls.Call:
        return call

    stream = unary


# Client's methods over a transport that returns the Call it is given: the Call, not what their
# annotations say (hence Any), for AsyncClient to run.
_BUILD: Any = Client.__new__(Client)
_BUILD._transport = _CallBuilder()


class AsyncClient:
    """The same methods as Client (same arguments, the constructor's too), awaited; interpolate is
    an async iterator."""

    def __init__(
        self,
        url: str = "http://127.0.0.1:8000",
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        api_key: str | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_retry_wait_s: float = DEFAULT_MAX_RETRY_WAIT_S,
        tls: bool = False,
        root_certificates: RootCertificates = None,
    ):
        self.transport_name, where = connection(url, timeout, api_key, tls, root_certificates)
        self._transport = async_transport(self.transport_name, where, RetryPolicy(max_retries, max_retry_wait_s))

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self._transport.close()

    @property
    def retries(self) -> int:
        """How many times a call has been sent again since this client was made (see RetryPolicy)."""
        return self._transport.retries

    async def models(self) -> list[ModelInfo]:
        return await self._transport.unary(calls.list_models())

    async def generate(self, model: str, latents: Sequence[LatentLike], **kwargs) -> list[Image]:
        """See Client.generate."""
        return await self._transport.unary(_BUILD.generate(model, latents, **kwargs))

    def interpolate(self, model: str, keyframes: Sequence[LatentLike], **kwargs) -> AsyncIterator[Frame]:
        """See Client.interpolate."""
        return self._transport.stream(_BUILD.interpolate(model, keyframes, **kwargs))

    async def mix(self, model: str, rows: Sequence[LatentLike], columns: Sequence[LatentLike], **kwargs) -> MixResult:
        """See Client.mix."""
        return await self._transport.unary(_BUILD.mix(model, rows, columns, **kwargs))

    async def directions(self, model: str) -> list[Direction]:
        """See Client.directions."""
        return await self._transport.unary(calls.list_directions(model))

    async def children(self, model: str, parent: LatentLike, **kwargs) -> ChildrenResult:
        """See Client.children."""
        return await self._transport.unary(_BUILD.children(model, parent, **kwargs))

    async def save_latent(self, model: str, latent: LatentLike, **kwargs) -> SavedLatent:
        """See Client.save_latent."""
        return await self._transport.unary(_BUILD.save_latent(model, latent, **kwargs))

    async def get_latent(self, id: str) -> SavedLatent:
        return await self._transport.unary(calls.get_latent(id))

    async def delete_latent(self, id: str) -> None:
        await self._transport.unary(calls.delete_latent(id))

    async def list_latents(self, model: str | None = None, **kwargs) -> LatentPage:
        """See Client.list_latents."""
        return await self._transport.unary(_BUILD.list_latents(model, **kwargs))

    def project(self, model: str, image: bytes | os.PathLike[str] | str, **kwargs) -> AsyncIterator[ProjectionEvent]:
        """See Client.project."""
        return self._transport.stream(_BUILD.project(model, image, **kwargs))

    async def projection(self, id: str) -> ProjectionEvent:
        return await self._transport.unary(calls.get_projection(id))

    async def cancel_projection(self, id: str) -> ProjectionEvent:
        return await self._transport.unary(calls.cancel_projection(id))
