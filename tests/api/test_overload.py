"""Overload: past the queue bound, requests are rejected at once with 503 + Retry-After, never a 500;
every request is either served or rejected, and the server serves normally afterwards."""

import asyncio

import httpx

from ganserve.api.app import create_app


async def test_burst_beyond_the_queue_is_rejected_cleanly(settings):
    tight = settings.model_copy(update={"queue_max_images": 4, "batch_max_size": 2})
    app = create_app(tight)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            burst = [client.get(f"/v1/models/demo64/seeds/{70_000 + i}.png") for i in range(40)]
            responses = await asyncio.gather(*burst)
            statuses = [r.status_code for r in responses]
            assert set(statuses) <= {200, 503}, statuses
            assert statuses.count(503) > 0 and statuses.count(200) >= 4
            rejected = next(r for r in responses if r.status_code == 503)
            assert rejected.headers["retry-after"] == "1" and rejected.json()["error"]["code"] == "overloaded"
            assert (await client.get("/v1/models/demo64/seeds/1.png")).status_code == 200
            assert (await client.get("/readyz")).status_code == 200
