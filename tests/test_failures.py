"""One error table for both transports (ganserve.failures), request ids on every response, and a
JSON error, never a plain-text 500, for an exception that escapes (a bug), logged with its id."""

from __future__ import annotations

import logging

import grpc
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from ganserve.api.app import create_app
from ganserve.batching import Overloaded
from ganserve.engines import EngineError
from ganserve.errors import BodyTooLarge, Busy, InvalidInput, NotFound, PermissionDenied, QuotaExceeded, RateLimited, Unauthenticated
from ganserve.failures import FAILURES, INTERNAL, describe, failure_of, request_id
from ganserve.rpc.interceptors import status_of
from ganserve.settings import Settings
from ganserve.store import StoreUnavailable
from ganserve.triton.local import free_port
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc


class Positive(BaseModel):
    value: int


def validation_error() -> ValidationError:
    with pytest.raises(ValidationError) as raised:
        Positive(value="x")
    return raised.value


TABLE = [
    (InvalidInput("psi", "too large"), 422, "invalid_input", grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound("model", "unknown model 'x'"), 404, "not_found", grpc.StatusCode.NOT_FOUND),
    (BodyTooLarge(), 413, "body_too_large", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Overloaded("queue full"), 503, "overloaded", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (EngineError("triton down"), 503, "engine_unavailable", grpc.StatusCode.UNAVAILABLE),
    (StoreUnavailable("redis down"), 503, "store_unavailable", grpc.StatusCode.UNAVAILABLE),
    (Unauthenticated("generate", "no key"), 401, "unauthenticated", grpc.StatusCode.UNAUTHENTICATED),
    (PermissionDenied("admin", "lacks admin"), 403, "permission_denied", grpc.StatusCode.PERMISSION_DENIED),
    (QuotaExceeded("full"), 403, "quota_exceeded", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (RateLimited("slow down", 2, {}), 429, "rate_limited", grpc.StatusCode.RESOURCE_EXHAUSTED),
    (Busy("at the cap"), 503, "busy", grpc.StatusCode.UNAVAILABLE),
    (ZeroDivisionError(), 500, "internal", grpc.StatusCode.INTERNAL),
]


@pytest.mark.parametrize(("exc", "http_status", "code", "grpc_status"), TABLE, ids=lambda v: type(v).__name__)
def test_each_failure_has_one_row_for_both_transports(exc, http_status, code, grpc_status):
    failure = failure_of(exc)
    assert (failure.http_status, failure.code, grpc.StatusCode[failure.grpc_status]) == (http_status, code, grpc_status)
    assert status_of(exc, "r-1")[0] == grpc_status


def test_every_row_names_a_grpc_status_and_transient_ones_ask_for_a_retry():
    for failure in [*FAILURES.values(), INTERNAL]:
        assert grpc.StatusCode[failure.grpc_status]
        assert failure.retry == (failure.http_status in (429, 503))


def test_a_rate_limit_report_carries_its_delay_and_fields():
    report = describe(RateLimited("slow down", 3, {"RateLimit-Limit": "200"}))
    assert report is not None and report.retry_after_s == 3 and dict(report.headers) == {"RateLimit-Limit": "200"}
    assert describe(PermissionDenied("metrics", "lacks metrics")).scope == "metrics"


def test_reports_name_the_field():
    assert describe(InvalidInput("latents[0].z", "expected 512 numbers")).message == "latents[0].z: expected 512 numbers"
    report = describe(validation_error())
    assert (report.failure.code, report.field) == ("invalid_input", "value")
    assert describe(RuntimeError("bug")) is None  # not a known failure: internal, see below
    assert status_of(RuntimeError("bug"), "r-2")[1] == "internal error (RuntimeError); request id r-2"


def test_request_ids_are_the_clients_own_only_when_sane():
    assert request_id("abc-123") == "abc-123"
    for insane in (None, "", "a" * 65, "bad id", "x\r\nSet-Cookie: y", "ü"):
        made = request_id(insane)
        assert made != insane and len(made) == 16


@pytest.fixture
def bare_settings(tmp_path) -> Settings:
    """No models: the app starts in a moment."""
    (tmp_path / "models").mkdir()
    return Settings(models_dir=tmp_path / "models", latents_path=tmp_path / "latents.sqlite3", grpc_port=free_port())


def test_an_escaping_exception_is_a_json_500_with_a_logged_request_id(bare_settings, caplog):
    app = create_app(bare_settings)

    async def broken():
        raise RuntimeError("a bug in a route")

    app.add_api_route("/broken", broken)  # only in this test's app
    with TestClient(app) as client, caplog.at_level(logging.ERROR, logger="ganserve"):
        response = client.get("/broken", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-request-id"] == "trace-42"
    assert response.json() == {
        "error": {
            "code": "internal",
            "message": "internal error (RuntimeError); request id trace-42",
            "field": None,
            "request_id": "trace-42",
        }
    }
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == "trace-42"]
    assert record.exc_info[0] is RuntimeError and "a bug in a route" in caplog.text  # the traceback, under the same id


def test_every_http_response_carries_a_request_id(bare_settings):
    with TestClient(create_app(bare_settings)) as client:
        ok = client.get("/healthz")
        not_found = client.get("/v1/models/nothing")
        too_large = client.post("/v1/latents", content=b"x" * (bare_settings.max_body_bytes + 1))
        insane = client.get("/healthz", headers={"X-Request-ID": "no spaces please"})
    assert ok.headers["x-request-id"] and ok.headers["x-request-id"] != not_found.headers["x-request-id"]
    assert not_found.status_code == 404 and not_found.headers["x-request-id"]
    assert too_large.status_code == 413 and too_large.headers["x-request-id"]
    assert insane.headers["x-request-id"] != "no spaces please"


def test_an_escaping_exception_over_grpc_is_internal_with_the_request_id(bare_settings, monkeypatch, caplog):
    def broken(state):
        raise RuntimeError("a bug in an operation")

    monkeypatch.setattr("ganserve.rpc.servicer.list_models", broken)
    with TestClient(create_app(bare_settings)), grpc.insecure_channel(f"127.0.0.1:{bare_settings.grpc_port}") as channel:
        stub = ganserve_pb2_grpc.GeneratorStub(channel)
        with caplog.at_level(logging.ERROR, logger="ganserve"), pytest.raises(grpc.RpcError) as raised:
            stub.ListModels(pb.ListModelsRequest(), metadata=(("x-request-id", "trace-43"),), timeout=10)
        with pytest.raises(grpc.RpcError) as not_found:
            stub.GetLatent(pb.GetLatentRequest(id="nothing"), timeout=10)
    error = raised.value
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error (RuntimeError); request id trace-43"
    assert dict(error.trailing_metadata())["x-request-id"] == "trace-43"
    (record,) = [r for r in caplog.records if getattr(r, "request_id", None) == "trace-43"]
    assert record.exc_info[0] is RuntimeError
    assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
    assert dict(not_found.value.trailing_metadata())["x-request-id"]  # made up for a call that sent none
