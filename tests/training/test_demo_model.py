"""The committed emoji model as the server gives it (HTTP, embedded engine), judged by the run's own
evaluation classifier (runs/emoji32/classifier.safetensors): its images are the classes they were
asked for about as often as the model card says, and a class direction moves images to its class."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from ganserve.api.app import create_app
from ganserve.artifacts import Artifact
from ganserve.settings import REPO_ROOT, Settings

MODEL = "emoji32"
RUN = REPO_ROOT / "runs" / MODEL
SEEDS = list(range(16))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    latents_path = tmp_path_factory.mktemp("demo") / "latents.sqlite3"
    # No rate limits: these tests generate hundreds of images at once (tests/api/test_access.py tests the limits).
    settings = Settings(grpc_port=0, latents_path=latents_path, rate_limit_requests_per_s=0, rate_limit_images_per_s=0)
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def classifier():
    import torch  # noqa: F401  (the training extra: the classifier is a torch module)
    from safetensors.torch import load_file

    from ganserve.training.evaluate import EmojiClassifier

    model = EmojiClassifier(len(Artifact(REPO_ROOT / "models" / MODEL).config.class_names))
    model.load_state_dict(load_file(RUN / "classifier.safetensors"))
    return model.eval()


def predicted(classifier, client, latents: list[dict], class_name: str) -> np.ndarray:
    import torch

    from ganserve.training.evaluate import to_tensor

    response = client.post(f"/v1/models/{MODEL}/images", json={"latents": latents, "class": class_name})
    assert response.status_code == 200, response.text
    images = np.stack([np.asarray(Image.open(io.BytesIO(base64.b64decode(e["data"]))).convert("RGB")) for e in response.json()["images"]])
    with torch.no_grad():
        return classifier(to_tensor(images)).argmax(1).numpy()


def test_served_images_are_their_class_as_often_as_the_card_says(served, classifier):
    info = served.get(f"/v1/models/{MODEL}").json()
    names = info["class_names"]
    hits = [np.mean(predicted(classifier, served, [{"seed": s} for s in SEEDS], name) == i) for i, name in enumerate(names)]
    evaluation = Artifact(REPO_ROOT / "models" / MODEL).config.source.details["evaluation"]
    # 144 images against the evaluation's 1,906: a binomial standard error of about 4 points.
    assert abs(float(np.mean(hits)) - evaluation["class_accuracy"]) < 0.15, (hits, evaluation)


@pytest.mark.parametrize("target", [7, 8])  # Symbols, Flags: the classes least like smileys
def test_a_class_direction_moves_the_classifiers_prediction(served, classifier, target):
    names = served.get(f"/v1/models/{MODEL}").json()["class_names"]
    plain = predicted(classifier, served, [{"seed": s} for s in SEEDS], names[0])
    edited = [{"seed": s, "edits": [{"direction": f"class-0-{target}", "strength": 1}]} for s in SEEDS]
    moved = predicted(classifier, served, edited, names[0])
    assert np.mean(moved == target) >= np.mean(plain == target) + 0.4, (plain, moved)


def test_it_is_the_default_model(served):
    models = served.get("/v1/models").json()["models"]
    assert [m["name"] for m in models if m["default"]] == [MODEL]
    assert next(m for m in models if m["name"] == MODEL)["training_log"]  # runs/emoji32: the playground's training view


def test_the_model_card_and_docs_show_this_model():
    artifact = Artifact(REPO_ROOT / "models" / MODEL)
    card = (artifact.directory / "MODEL_CARD.md").read_text()
    assert "Noto Emoji" in card and "Twemoji" in card and "CC-BY 4.0" in card
    images = json.loads((REPO_ROOT / "docs" / "images" / "images.json").read_text())
    assert images["version"] == artifact.digest[:16], "the README's pictures are of other weights: make docs-images"
    for picture in images["pictures"].values():
        assert (REPO_ROOT / "docs" / picture["file"]).is_file()
