"""`ganserve import`: an NVlabs snapshot pickle -> a model artifact, without running the pickle.

numpy and safetensors only: reading a pickle this way needs no torch (see unpickle.py for why and how).
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ganserve.artifacts import CONFIG_FILE, Artifact, ModelConfig, save_artifact
from ganserve.importer.errors import ImporterError, ImportRefused, ModelExists, PickleFormatError, UnsupportedNetwork
from ganserve.importer.nvlabs import ImportedNetwork, convert_snapshot
from ganserve.importer.unpickle import read_pickle

__all__ = ["ImportResult", "ImporterError", "ImportRefused", "ModelExists", "PickleFormatError", "UnsupportedNetwork", "import_pickle"]

# The model name rule is ModelConfig.name's; read it from there so the two cannot drift apart.
NAME_PATTERN = next(m.pattern for m in ModelConfig.model_fields["name"].metadata if getattr(m, "pattern", None))


@dataclass
class ImportResult:
    artifact: Artifact
    network: ImportedNetwork


def check_name(name: str) -> None:
    if not re.fullmatch(NAME_PATTERN, name):
        raise ImporterError(f"invalid model name {name!r}: use 1-64 of a-z, 0-9, '_' and '-', starting with a letter or digit")


def import_pickle(pkl: Path, name: str, models_dir: Path, *, force: bool = False) -> ImportResult:
    """Read `pkl`, check the generator, write `<models_dir>/<name>/`. Raises ImporterError subclasses."""
    check_name(name)
    target = Path(models_dir) / name
    _check_target(target, force)
    pkl = Path(pkl)
    if not pkl.is_file():
        raise ImporterError(f"{pkl}: no such file")
    tree, sha256 = read_pickle(pkl)
    network = convert_snapshot(tree, name=name, file_name=pkl.name, sha256=sha256)
    return ImportResult(_write(target, network), network)


def _check_target(target: Path, force: bool) -> None:
    if not target.exists():
        return
    if not force:
        raise ModelExists(f"{target} already exists: choose another --name or pass --force to replace it")
    # --force replaces a model directory, never an arbitrary folder that happens to have the name.
    if not target.is_dir() or (any(target.iterdir()) and not (target / CONFIG_FILE).exists()):
        raise ModelExists(f"{target} exists and is not a model directory: not replacing it")


def _write(target: Path, network: ImportedNetwork) -> Artifact:
    """Write next to the target, then swap it in, so a failed import leaves no half-written model."""
    staging = target.with_name(f".{target.name}.importing-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        save_artifact(staging, network.config, network.state)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Artifact(target)
