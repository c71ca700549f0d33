def test_healthz_and_readyz(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and "demo64" in ready.json()["models"]


def test_metrics_count_requests_images_and_cache(client):
    client.get("/v1/models/demo64/seeds/9001.png")
    client.get("/v1/models/demo64/seeds/9001.png")
    text = client.get("/metrics").text
    assert 'ganserve_requests_total{route="/v1/models/{model}/seeds/{filename}",status="200"}' in text
    assert 'ganserve_images_total{model="demo64"}' in text
    assert 'ganserve_cache_lookups_total{cache="image",result="hit"}' in text
    assert "ganserve_request_seconds_bucket" in text and "ganserve_queue_images" in text
    assert 'ganserve_engine_batches_total{graph="synthesis",model="demo64"}' in text


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
