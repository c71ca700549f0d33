"""The gate every request passes before any work: who is calling (their key, or their address when
access is open), whether their key has the route's scope, and whether they are within their rate
limits. Transports call it with what they read off the wire (an Authorization header or gRPC
metadata); the operations get the Caller it returns."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from ganserve.access.key_stores import make_key_store
from ganserve.access.keys import ApiKey, Scope, parse_key
from ganserve.access.rate_limits import RateLimits
from ganserve.errors import PermissionDenied, Unauthenticated
from ganserve.settings import AuthPolicy, Settings

CACHED_KEYS = 4096  # keys remembered per gateway (found ones only: made-up ids cannot fill it)
ALL_SCOPES = frozenset(Scope)


@dataclass(frozen=True)
class Caller:
    key_id: str | None  # None: anonymous, only where access is open
    scopes: frozenset[Scope]
    address: str  # the client's address: anonymous callers are rate-limited by it

    @property
    def owner(self) -> str:
        """Whose saved latents: the key's id, or "" for anonymous callers."""
        return self.key_id or ""

    @property
    def sees_everything(self) -> bool:
        """Lists and deletes every saved latent: admin keys, and anyone where access is open without a key."""
        return Scope.admin in self.scopes

    @property
    def rate_key(self) -> str:
        return f"key:{self.key_id}" if self.key_id else f"address:{self.address}"


def bearer_token(authorization: str | None) -> str | None:
    """The key of `Authorization: Bearer <key>` (the scheme in any case); "" when the header is malformed."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


class AccessGate:
    def __init__(self, settings: Settings):
        self.policy = settings.auth
        self.keys = make_key_store(settings)
        self.rate_limits = RateLimits(settings)
        self.cache_s = settings.key_cache_s
        self._cached: OrderedDict[str, tuple[float, ApiKey]] = OrderedDict()

    async def _key(self, id: str) -> ApiKey | None:
        """The stored key, trusted for GANSERVE_KEY_CACHE_S: how long a revocation takes to reach every gateway."""
        now = time.monotonic()
        cached = self._cached.get(id)
        if cached is not None and now - cached[0] < self.cache_s:
            return cached[1]
        key = await self.keys.get(id)
        if key is None:
            self._cached.pop(id, None)
            return None
        self._cached[id] = (now, key)
        self._cached.move_to_end(id)
        while len(self._cached) > CACHED_KEYS:
            self._cached.popitem(last=False)
        return key

    async def authenticate(self, authorization: str | None, address: str, scope: Scope) -> Caller:
        """The caller of a request to a route that needs `scope`, counted against its request rate."""
        caller = await self._caller(bearer_token(authorization), address, scope)
        await self.rate_limits.charge(caller.rate_key, "requests", 1)
        return caller

    async def _caller(self, token: str | None, address: str, scope: Scope) -> Caller:
        if token is None:
            if self.policy == AuthPolicy.open:
                return Caller(None, ALL_SCOPES, address)
            raise Unauthenticated(scope, f"this call needs an API key with scope {scope}: send Authorization: Bearer <key>")
        parsed = parse_key(token)
        if parsed is None:
            raise Unauthenticated(scope, "malformed API key: expected Authorization: Bearer gsk_<id>_<secret>")
        key = await self._key(parsed[0])
        if key is None or not key.matches(parsed[1]):
            raise Unauthenticated(scope, "unknown API key")
        if key.revoked is not None:
            raise Unauthenticated(scope, f"API key {key.id} was revoked")
        if not key.allows(scope):
            have = ", ".join(key.scopes) or "none"
            raise PermissionDenied(scope, f"API key {key.id} lacks scope {scope} (it has: {have})")
        return Caller(key.id, ALL_SCOPES if Scope.admin in key.scopes else frozenset(key.scopes), address)

    async def charge_images(self, caller: Caller, images: int) -> None:
        await self.rate_limits.charge(caller.rate_key, "images", images)

    async def close(self) -> None:
        await self.rate_limits.close()
        await self.keys.close()
