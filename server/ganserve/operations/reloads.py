"""Reloads across gateways. POST /v1/admin/reload reloads the gateway it reaches (behind a Service,
any one), then tells every other gateway sharing the cache Redis (GANSERVE_REDIS_URL) over a
pub/sub channel, and each reloads from its own models folder. Without Redis each gateway is
reloaded on its own: the call, or SIGHUP. A gateway that misses the message (Redis down, or not
yet started) has loaded whatever is in the folder when it starts."""

from __future__ import annotations

import asyncio
import logging
import uuid

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ganserve.operations.models import reload_models
from ganserve.protocol import Reload
from ganserve.state import AppState

log = logging.getLogger("ganserve")

CHANNEL = "ganserve:reload"
RESUBSCRIBE_S = 1.0  # after Redis failed under the listener


class ReloadBroadcast:
    def __init__(self, state: AppState):
        self.state = state
        self.origin = uuid.uuid4().hex  # this gateway's own messages are not for it
        url = state.settings.redis_url
        timeout_s = state.settings.store_timeout_s
        self.client = aioredis.Redis.from_url(url, socket_connect_timeout=timeout_s) if url else None
        self.listener: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.client is not None:
            self.listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        assert self.client is not None
        while True:
            try:
                async with self.client.pubsub() as pubsub:
                    await pubsub.subscribe(CHANNEL)
                    async for message in pubsub.listen():
                        if message["type"] == "message" and message["data"].decode() != self.origin:
                            await self.state.reload_models()
            except (RedisError, OSError) as exc:
                log.warning("reload messages: Redis %s; listening again in %.0f s", type(exc).__name__, RESUBSCRIBE_S)
                await asyncio.sleep(RESUBSCRIBE_S)

    async def reload_everywhere(self) -> Reload:
        """This gateway's reload, then the others told; `notified` is how many heard (None: no Redis, or it failed)."""
        result = await reload_models(self.state)
        if self.client is None:
            return result
        try:
            receivers = await self.client.publish(CHANNEL, self.origin)
        except (RedisError, OSError) as exc:
            log.error("reload: the other gateways could not be told (Redis %s): reload them one by one", type(exc).__name__)
            return result
        listening_here = self.listener is not None and not self.listener.done()
        return result.model_copy(update={"notified": max(receivers - listening_here, 0)})

    async def close(self) -> None:
        if self.listener is not None:
            self.listener.cancel()
        if self.client is not None:
            await self.client.aclose()
