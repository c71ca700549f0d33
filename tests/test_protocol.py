"""The contract (ganserve.protocol): both transports build the same request models, and the HTTP
API's request bodies are the contract's own models."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute
from pydantic import ValidationError

from ganserve import protocol
from ganserve.api.routes import health, images, interpolations, latents, mixes, models, stable_images
from ganserve.failures import describe
from ganserve.protocol import BatchRequest, Latent, NoiseMode, SaveLatentRequest, StableImageRequest, View
from ganserve.rpc import convert
from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2 as pb

ROUTERS = (health, images, interpolations, latents, mixes, models, stable_images)


def test_every_http_request_body_is_a_contract_model():
    routes = [route for module in ROUTERS for route in module.router.routes if isinstance(route, APIRoute)]
    bodies = {route.path: route.dependant.body_params[0].field_info.annotation for route in routes if route.dependant.body_params}
    assert len(bodies) == 4, bodies  # images, interpolations, mixes, latents
    assert all(body.__module__ == protocol.__name__ for body in bodies.values()), bodies


def test_grpc_and_json_give_the_same_request():
    options = pb.GenerationOptions(psi=0.5, cutoff=3, class_name="dog", noise=pb.NOISE_MODE_RANDOM, noise_seed=9, rotate=10)
    options.translate.x, options.translate.y = 0.25, -1
    from_grpc = BatchRequest.model_validate(
        {"latents": convert.latents([pb.Latent(seed=3), pb.Latent(id="Aw5dBiEku0")], "latents"), **convert.generation(options)}
    )
    from_json = BatchRequest.model_validate_json(
        '{"latents": [{"seed": 3}, {"id": "Aw5dBiEku0"}], "psi": 0.5, "cutoff": 3, "class": "dog", "noise": "random",'
        ' "noise_seed": 9, "translate": [0.25, -1], "rotate": 10}'
    )
    assert from_grpc == from_json
    assert from_grpc.view == View(translate=(0.25, -1.0), rotate=10.0) and from_grpc.noise == NoiseMode.random


def test_both_transports_name_the_same_field():
    """A proto latent with a bad value fails validation at the same path as its JSON twin."""
    with pytest.raises(ValidationError) as from_grpc:
        BatchRequest.model_validate({"latents": convert.latents([pb.Latent(seed=1), pb.Latent(id="not an id!")], "latents")})
    with pytest.raises(ValidationError) as from_json:
        BatchRequest.model_validate_json('{"latents": [{"seed": 1}, {"id": "not an id!"}]}')
    assert describe(from_grpc.value) == describe(from_json.value)
    assert describe(from_grpc.value).field == "latents[1].id"


def test_latents_take_exactly_one_value():
    assert Latent(seed=3).kind == "seed" and Latent(ws=[[0.0, 1.0]]).kind == "ws"
    for fields in ({}, {"seed": 1, "z": [0.0]}):
        with pytest.raises(ValidationError, match="exactly one of seed, z, w, ws or id"):
            Latent(**fields)


def test_stable_image_and_saved_latent_requests_use_the_json_names():
    image = StableImageRequest.model_validate({"latent": {"seed": 42}, "class": "3", "format": "webp"})
    assert (image.class_, image.format, image.view.is_identity) == ("3", protocol.ImageFormat.webp, True)
    saved = SaveLatentRequest.model_validate({"model": "demo64", "latent": {"seed": 1}, "class": 2, "kind": "w"})
    assert (saved.class_, saved.kind, saved.psi) == (2, "w", 1.0)
    with pytest.raises(ValidationError):
        SaveLatentRequest.model_validate({"model": "demo64", "latent": {"seed": 1}, "kind": "zz"})
