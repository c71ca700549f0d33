"""Latent directions: what an edit moves along, computed once per model and stored beside its weights.

- GANSpace (Härkönen et al. 2020): PCA of w sampled from the mapping. Each component's scale σ is
  the standard deviation of w along it.
- SeFa (Shen & Zhou 2021), closed form from the weights: for a range of ws layers, stack the style
  affine weights of those layers (rows normalised), and take the eigenvectors of AᵀA by eigenvalue.
  Every style affine counts (StyleGAN2 conv and toRGB layers; StyleGAN3 layers, but not the input
  layer's affine, which gives a transform, not styles). σ is the spread of sampled w along it.
- Class directions (conditional models): from class i's mean w to class j's; σ is their distance,
  so strength 1 moves exactly from one mean to the other.

Every direction is a unit vector in W with a scale σ; an edit of strength s adds s·σ·vector to the
chosen ws layers, after truncation. `models/<name>/directions.{json,safetensors}` hold them, with
how they were computed and the digest of the weights they belong to. This module is numpy-only:
the serving path loads it; sampling w (torch) happens at compile time, in ganserve.generator.sampling.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
from safetensors.numpy import load_file, save_file

from ganserve.artifacts import Artifact, ModelConfig

log = logging.getLogger("ganserve")

JSON_FILE = "directions.json"
WEIGHTS_FILE = "directions.safetensors"
FORMAT = "ganserve-directions/1"
SAMPLES = 100_000
COMPONENTS = 32
SEED = 0
LISTED_CLASS_PAIRS_MAX_CLASSES = 32  # beyond this, class-I-J ids resolve but are not listed
CLASS_ID = re.compile(r"^class-(\d+)-(\d+)$")

Method = Literal["ganspace", "sefa", "class"]
WSampler = Callable[[np.ndarray, np.ndarray | None], np.ndarray]  # (z [N, z_dim], c [N, c_dim] | None) -> w [N, w_dim]


@dataclass(frozen=True)
class Direction:
    id: str
    method: Method
    label: str
    layers: str  # the layer range it was computed for, and the default range of its edits: all, coarse, ...
    sigma: float  # the scale: strength 1 moves w by sigma along the vector
    explained_variance: float | None  # GANSpace: the component's share of the variance of w
    eigenvalue: float | None  # SeFa: the eigenvalue of AᵀA
    vector: np.ndarray  # unit [w_dim], float32


def layer_ranges(config: ModelConfig) -> dict[str, list[int]]:
    """'all' and the model's named groups (coarse, middle, fine where it has them)."""
    return {"all": list(range(config.num_ws)), **config.layer_groups}


def style_affines(config: ModelConfig, weights: dict[str, np.ndarray]) -> list[tuple[int, np.ndarray]]:
    """(ws index, affine weight [channels, w_dim]) of every style affine, in ws order."""
    found = []
    for name, weight in weights.items():
        if not name.endswith(".affine.weight"):
            continue
        if config.architecture == "stylegan3":
            match = re.match(r"^synthesis\.L(\d+)_", name)  # input.affine: a transform, left out
            if match:
                found.append((int(match[1]) + 1, weight))
            continue
        match = re.match(r"^synthesis\.b(\d+)\.(conv0|conv1|torgb)\.affine\.weight$", name)
        if match:
            k = int(match[1]).bit_length() - 1  # block resolution 2**k
            found.append(({"conv0": 2 * k - 5, "conv1": 2 * k - 4, "torgb": 2 * k - 3}[match[2]], weight))
    return sorted(found, key=lambda pair: pair[0])


def _signed(vectors: np.ndarray) -> np.ndarray:
    """Eigenvectors have no sign; fix one (largest entry positive) so that recomputing gives the same."""
    rows = np.arange(len(vectors))
    signs = np.sign(vectors[rows, np.argmax(np.abs(vectors), axis=1)])
    return vectors * signs[:, None]


def ganspace(w: np.ndarray, count: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(components [k, w_dim] orthonormal, σ [k], explained variance ratio [k]), by variance, descending."""
    centred = w.astype(np.float64) - w.mean(axis=0, dtype=np.float64)
    covariance = centred.T @ centred / (len(w) - 1)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    order = np.argsort(eigenvalues)[::-1][:count]
    variance = np.clip(eigenvalues[order], 0, None)
    return _signed(eigenvectors[:, order].T), np.sqrt(variance), variance / np.clip(eigenvalues, 0, None).sum()


def sefa(affines: list[tuple[int, np.ndarray]], layers: list[int], count: int = COMPONENTS) -> tuple[np.ndarray, np.ndarray]:
    """(eigenvectors [k, w_dim], eigenvalues [k]) of AᵀA for the affines of `layers`, descending."""
    stacked = np.concatenate([weight for index, weight in affines if index in layers]).astype(np.float64)
    stacked /= np.linalg.norm(stacked, axis=1, keepdims=True)
    eigenvalues, eigenvectors = np.linalg.eigh(stacked.T @ stacked)
    order = np.argsort(eigenvalues)[::-1][:count]
    return _signed(eigenvectors[:, order].T), eigenvalues[order]


def sample_latents(config: ModelConfig, sample_w: WSampler, count: int = SAMPLES, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(w [count, w_dim], class index per row, -1 for unconditional): z from RandomState(seed) in
    chunks; conditional models take the classes in turn."""
    rng = np.random.RandomState(seed)
    classes = np.arange(count) % config.c_dim if config.c_dim else np.full(count, -1)
    chunks = []
    for start in range(0, count, 10_000):
        rows = slice(start, min(start + 10_000, count))
        z = rng.randn(rows.stop - rows.start, config.z_dim).astype(np.float32)
        c = np.eye(config.c_dim, dtype=np.float32)[classes[rows]] if config.c_dim else None
        chunks.append(sample_w(z, c))
    return np.concatenate(chunks).astype(np.float32), classes


def compute(artifact: Artifact, sample_w: WSampler, samples: int = SAMPLES, seed: int = SEED) -> Path:
    """Every direction of a model, written beside its weights. Returns the JSON file's path."""
    config = artifact.config
    w, classes = sample_latents(config, sample_w, samples, seed)
    centred = w.astype(np.float64) - w.mean(axis=0)
    entries: list[dict[str, Any]] = []
    vectors: list[np.ndarray] = []

    components, sigmas, ratios = ganspace(w)
    for i, (vector, sigma, ratio) in enumerate(zip(components, sigmas, ratios, strict=True)):
        entries.append(
            {
                "id": f"ganspace-{i}",
                "method": "ganspace",
                "label": f"GANSpace component {i}",
                "layers": "all",
                "sigma": float(sigma),
                "explained_variance": float(ratio),
            }
        )
        vectors.append(vector)

    affines = style_affines(config, artifact.load_weights())
    for name, layers in layer_ranges(config).items():
        eigenvectors, eigenvalues = sefa(affines, layers)
        spreads = (centred @ eigenvectors.T).std(axis=0)
        for i, (vector, eigenvalue, spread) in enumerate(zip(eigenvectors, eigenvalues, spreads, strict=True)):
            label = f"SeFa {name} layers, eigenvector {i}"
            entries.append(
                {
                    "id": f"sefa-{name}-{i}",
                    "method": "sefa",
                    "label": label,
                    "layers": name,
                    "sigma": float(spread),
                    "eigenvalue": float(eigenvalue),
                }
            )
            vectors.append(vector)

    arrays = {"vectors": np.stack(vectors).astype(np.float32)}
    if config.c_dim:
        arrays["class_means"] = np.stack([w[classes == i].mean(axis=0, dtype=np.float64) for i in range(config.c_dim)]).astype(np.float32)
    save_file(arrays, artifact.directory / WEIGHTS_FILE)
    how = {
        "samples": samples,
        "seed": seed,
        "z": "RandomState(seed).randn in chunks of 10000",
        "classes": "in turn" if config.c_dim else None,
    }
    document = {"format": FORMAT, "model_digest": artifact.digest, "computed": how, "directions": entries}
    path = artifact.directory / JSON_FILE
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


class Directions:
    """A model's directions, as served: look one up by id, list them, and turn edits into offsets."""

    def __init__(
        self, config: ModelConfig, entries: list[dict[str, Any]], vectors: np.ndarray, class_means: np.ndarray | None, digest: str
    ):
        self.config, self.digest = config, digest  # digest: of the stored vectors, part of edited images' ETags
        self.class_means = class_means
        self._by_id = {
            entry["id"]: Direction(
                id=entry["id"],
                method=entry["method"],
                label=entry["label"],
                layers=entry["layers"],
                sigma=entry["sigma"],
                explained_variance=entry.get("explained_variance"),
                eigenvalue=entry.get("eigenvalue"),
                vector=vector,
            )
            for entry, vector in zip(entries, vectors, strict=True)
        }

    @classmethod
    def empty(cls, config: ModelConfig) -> Directions:
        return cls(config, [], np.zeros([0, config.w_dim], np.float32), None, "")

    @classmethod
    def load(cls, artifact: Artifact) -> Directions:
        """The stored directions; none (with a warning) when they are missing or belong to other weights."""
        config, path = artifact.config, artifact.directory / JSON_FILE
        if not path.exists():
            log.warning("model %s has no directions (%s): run `ganserve directions %s`", config.name, path.name, artifact.directory)
            return cls.empty(config)
        document = json.loads(path.read_text())
        if document.get("model_digest") != artifact.digest:
            log.warning("model %s: its directions belong to other weights; run `ganserve directions %s`", config.name, artifact.directory)
            return cls.empty(config)
        weights_path = artifact.directory / WEIGHTS_FILE
        arrays = load_file(weights_path)
        digest = hashlib.sha256(weights_path.read_bytes()).hexdigest()
        return cls(config, document["directions"], arrays["vectors"], arrays.get("class_means"), digest)

    def __len__(self) -> int:
        return len(self._by_id) + (self.config.c_dim * (self.config.c_dim - 1) if self.class_means is not None else 0)

    def get(self, direction_id: str) -> Direction | None:
        found = self._by_id.get(direction_id)
        if found is not None or self.class_means is None:
            return found
        match = CLASS_ID.match(direction_id)
        if not match:
            return None
        source, target = int(match[1]), int(match[2])
        if source == target or max(source, target) >= len(self.class_means):
            return None
        return self._class_direction(source, target)

    def _class_direction(self, source: int, target: int) -> Direction:
        assert self.class_means is not None
        delta = self.class_means[target].astype(np.float64) - self.class_means[source]
        distance = float(np.linalg.norm(delta))
        names = self.config.class_names
        label = f"class {names[source] if source < len(names) else source} → {names[target] if target < len(names) else target}"
        vector = (delta / max(distance, 1e-12)).astype(np.float32)
        return Direction(f"class-{source}-{target}", "class", label, "all", distance, None, None, vector)

    def listed(self) -> list[Direction]:
        """Every direction, class pairs included up to LISTED_CLASS_PAIRS_MAX_CLASSES classes."""
        found = list(self._by_id.values())
        if self.class_means is not None and len(self.class_means) <= LISTED_CLASS_PAIRS_MAX_CLASSES:
            count = len(self.class_means)
            found += [self._class_direction(i, j) for i in range(count) for j in range(count) if i != j]
        return found

    @cached_property
    def ganspace_basis(self) -> tuple[np.ndarray, np.ndarray]:
        """(components [k, w_dim], σ [k]): the basis children are drawn in (k = 0 without directions)."""
        chosen = [d for d in self._by_id.values() if d.method == "ganspace"]
        if not chosen:
            return np.zeros([0, self.config.w_dim], np.float32), np.zeros([0], np.float32)
        return np.stack([d.vector for d in chosen]), np.asarray([d.sigma for d in chosen], np.float32)
