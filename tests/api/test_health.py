from conftest import metric


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "demo64" in ready.json()["models"]


def test_metrics_count_requests_images_and_cache(client):
    """Two requests for one seed URL move the series by exactly what they did: two 200s and their
    latencies, one image synthesised in one engine batch, one image cache miss then one hit."""
    route, url = "/v1/models/{model}/seeds/{filename}", "/v1/models/demo64/seeds/9001.png"
    series = {
        "requests": ("ganserve_requests_total", {"route": route, "status": "200"}),
        "timed": ("ganserve_request_seconds_count", {"route": route}),
        "timed under 10 s": ("ganserve_request_seconds_bucket", {"route": route, "le": "10.0"}),
        "images": ("ganserve_images_total", {"model": "demo64"}),
        "batches": ("ganserve_engine_batches_total", {"model": "demo64", "graph": "synthesis"}),
        "batched images": ("ganserve_engine_batch_images_total", {"model": "demo64", "graph": "synthesis"}),
        "image misses": ("ganserve_cache_lookups_total", {"cache": "image", "result": "miss"}),
        "image hits": ("ganserve_cache_lookups_total", {"cache": "image", "result": "hit"}),
    }

    def values() -> dict[str, float]:
        text = client.get("/metrics").text
        return {key: metric(text, name, **labels) for key, (name, labels) in series.items()}

    before = values()
    first, again = client.get(url), client.get(url)
    assert first.status_code == again.status_code == 200 and first.content == again.content
    after = values()
    increments = {"requests": 2, "timed": 2, "timed under 10 s": 2, "images": 1, "batches": 1, "batched images": 1}
    increments |= {"image misses": 1, "image hits": 1}
    assert {key: after[key] - before[key] for key in series} == increments
    queued = metric(client.get("/metrics").text, "ganserve_queue_images", model="demo64", graph="synthesis")
    assert queued == 0  # answered: nothing left waiting for the engine


def test_openapi_declares_media_types(client):
    spec = client.get("/openapi.json").json()
    seed_route = spec["paths"]["/v1/models/{model}/seeds/{filename}"]["get"]
    assert {"image/png", "image/jpeg", "image/webp"} <= set(seed_route["responses"]["200"]["content"])
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            success = next(code for code in operation["responses"] if code.startswith("2"))
            if success != "204":  # No Content has no media type
                assert operation["responses"][success].get("content"), f"{method} {path} declares no media type"
    assert client.get("/docs").status_code == 200
