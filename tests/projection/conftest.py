"""The trained emoji32 model with a discriminator, built in a temporary folder from what is committed:
the generator of models/emoji32 and the D of runs/emoji32's resume checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from projection_helpers import MODEL_DIR, RUN_DIR

from ganserve.artifacts import CONFIG_FILE, WEIGHTS_FILE, Artifact
from ganserve.training.export import export_discriminator
from ganserve.training.loop import OPTIONS_FILE
from ganserve.training.options import TrainingOptions


def _copy_generator(directory: Path) -> None:
    directory.mkdir(parents=True)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copy(MODEL_DIR / name, directory / name)


@pytest.fixture(scope="session")
def emoji_with_d(tmp_path_factory) -> Artifact:
    directory = tmp_path_factory.mktemp("projection") / "emoji32"
    _copy_generator(directory)
    options = TrainingOptions.model_validate_json((RUN_DIR / OPTIONS_FILE).read_text())
    export_discriminator(RUN_DIR, directory, options, c_dim=Artifact(directory).config.c_dim)
    return Artifact(directory)


@pytest.fixture(scope="session")
def emoji_without_d(tmp_path_factory) -> Artifact:
    directory = tmp_path_factory.mktemp("projection-no-d") / "emoji32"
    _copy_generator(directory)
    return Artifact(directory)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread in these tests (the fastest and steadiest on a shared 2-core machine), then
    torch's setting as it was, for the tests that follow."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def projector(emoji_with_d):
    from ganserve.projection import Projector

    return Projector(emoji_with_d)
