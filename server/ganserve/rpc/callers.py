"""Who is making a gRPC call: the interceptor authenticates each ganserve.v1 call (metadata
`authorization: Bearer <key>`) against its method's scope and leaves the Caller here, in a context
variable of the call's task, for the servicer's operations."""

from __future__ import annotations

from contextvars import ContextVar

import grpc

from ganserve.access.gate import Caller
from ganserve.access.keys import Scope

# Every method of ganserve.v1.Generator; a method missing here needs admin (tests/rpc check the table is complete).
METHOD_SCOPES: dict[str, Scope] = {
    "ListModels": Scope.generate,
    "Generate": Scope.generate,
    "Interpolate": Scope.generate,
    "Mix": Scope.generate,
    "ListDirections": Scope.generate,
    "Children": Scope.generate,
    "SaveLatent": Scope.latents_write,
    "DeleteLatent": Scope.latents_write,
    "GetLatent": Scope.latents_read,
    "ListLatents": Scope.latents_read,
    "Project": Scope.latents_write,  # makes a saved latent
    "CancelProjection": Scope.latents_write,
    "GetProjection": Scope.latents_read,
}

_caller: ContextVar[Caller] = ContextVar("ganserve_caller")


def scope_of(method: str) -> Scope:
    return METHOD_SCOPES.get(method, Scope.admin)


def set_caller(caller: Caller) -> None:
    _caller.set(caller)


def current_caller() -> Caller:
    return _caller.get()


def peer_address(context: grpc.aio.ServicerContext) -> str:
    """'ipv4:127.0.0.1:50321' -> '127.0.0.1', 'ipv6:[::1]:50321' -> '::1' (rate limits of anonymous callers)."""
    peer = context.peer() or ""
    _, _, rest = peer.partition(":")
    host = rest.rsplit(":", 1)[0] if rest.count(":") >= 1 and not rest.startswith("/") else rest
    return host.strip("[]") or peer
