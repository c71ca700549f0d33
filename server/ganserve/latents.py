"""Latent-space operations in numpy: the gateway does these, the engines only map and synthesise.

Conventions follow NVlabs: seed -> z with np.random.RandomState, truncation as a lerp towards
w_avg, slerp in Z and lerp in W, style mixing by copying ws rows at chosen layer indices.
"""

from __future__ import annotations

import numpy as np

SEED_MAX = 2**32 - 1


def seeds_to_z(seeds: list[int], z_dim: int) -> np.ndarray:
    """One row per seed, exactly as gen_images.py: RandomState(seed).randn(1, z_dim), then float32."""
    return np.concatenate([np.random.RandomState(seed).randn(1, z_dim) for seed in seeds]).astype(np.float32)


def one_hot(class_indices: list[int | None], c_dim: int) -> np.ndarray:
    c = np.zeros([len(class_indices), c_dim], dtype=np.float32)
    for row, idx in enumerate(class_indices):
        if idx is not None:
            c[row, idx] = 1
    return c


def broadcast_ws(w: np.ndarray, num_ws: int) -> np.ndarray:
    """[N, w_dim] -> [N, num_ws, w_dim]."""
    return np.repeat(w[:, None, :], num_ws, axis=1)


def truncate(ws: np.ndarray, w_avg: np.ndarray, psi: float, cutoff: int | None = None) -> np.ndarray:
    """w_avg.lerp(w, psi), on all layers or only on ws[:, :cutoff]."""
    if psi == 1:
        return ws
    out = ws.copy()
    layers = slice(None) if cutoff is None else slice(0, cutoff)
    out[:, layers] = w_avg + (ws[:, layers] - w_avg) * np.float32(psi)
    return out.astype(np.float32)


def lerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    return (a + (b - a) * np.float32(t)).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation along the last axis (NVlabs perceptual_path_length.py). The mapping
    normalises z, so only the direction matters; the norm is interpolated linearly for display."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    norm_a = np.linalg.norm(a64, axis=-1, keepdims=True)
    norm_b = np.linalg.norm(b64, axis=-1, keepdims=True)
    a_n, b_n = a64 / norm_a, b64 / norm_b
    d = np.clip(np.sum(a_n * b_n, axis=-1, keepdims=True), -1.0, 1.0)
    c = b_n - d * a_n
    c_norm = np.linalg.norm(c, axis=-1, keepdims=True)
    c = np.divide(c, c_norm, out=np.zeros_like(c), where=c_norm > 1e-12)
    p = t * np.arccos(d)
    direction = a_n * np.cos(p) + c * np.sin(p)
    return (direction * (norm_a + (norm_b - norm_a) * t)).astype(np.float32)


def walk(keyframes: np.ndarray, frames: int, loop: bool, spherical: bool) -> np.ndarray:
    """`frames` evenly spaced latents through the keyframes; a loop returns to the first one
    without repeating it, so the sequence plays seamlessly on repeat."""
    count = len(keyframes)
    segments = count if loop else count - 1
    positions = np.arange(frames) * segments / (frames if loop else max(frames - 1, 1))
    out = np.empty((frames,) + keyframes.shape[1:], dtype=np.float32)
    interpolate = slerp if spherical else lerp
    for i, pos in enumerate(positions):
        seg = min(int(pos), segments - 1)
        out[i] = interpolate(keyframes[seg], keyframes[(seg + 1) % count], pos - seg)
    return out


def mix(row_ws: np.ndarray, col_ws: np.ndarray, layers: list[int]) -> np.ndarray:
    """style_mixing.py: cell (r, c) is row r's ws with `layers` taken from column c. -> [R, C, num_ws, w_dim]."""
    grid = np.repeat(row_ws[:, None], len(col_ws), axis=1).copy()
    grid[:, :, layers] = col_ws[None, :, layers]
    return grid


def parse_layers(spec: str, num_ws: int, groups: dict[str, list[int]]) -> list[int]:
    """'coarse', 'middle+fine', '0-6', '0,2,4-5' -> sorted ws indices. Raises ValueError naming the problem."""
    indices: set[int] = set()
    for part in spec.replace("+", ",").split(","):
        part = part.strip()
        if part in groups:
            indices.update(groups[part])
        elif part.replace("-", "").isdigit() and part.count("-") <= 1 and not part.startswith("-"):
            low, _, high = part.partition("-")
            low_i, high_i = int(low), int(high or low)
            if low_i > high_i or high_i >= num_ws:
                raise ValueError(f"layer range {part!r} is outside 0-{num_ws - 1}")
            indices.update(range(low_i, high_i + 1))
        else:
            names = ", ".join(groups) or "none"
            raise ValueError(f"unknown layers {part!r}: use indices 0-{num_ws - 1}, ranges like 0-6, or a group ({names})")
    return sorted(indices)


def random_noise_maps(seeds: list[int], shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Reproducible 'random' noise: per image, RandomState(noise_seed) draws each layer's map in order."""
    per_image = []
    for seed in seeds:
        rng = np.random.RandomState(seed)
        per_image.append([rng.randn(1, h, w).astype(np.float32) for h, w in shapes])
    return [np.stack([maps[i] for maps in per_image]) for i in range(len(shapes))]


def input_transform(translate: tuple[float, float], rotate: float) -> np.ndarray:
    """StyleGAN3's input transform [3, 3] float32 for a view, exactly as gen_images.py sets it:
    the inverse of make_transform(translate, rotate), computed in float64 (rotate in degrees)."""
    angle = rotate / 360.0 * np.pi * 2
    s, c = np.sin(angle), np.cos(angle)
    m = np.array([[c, s, translate[0]], [-s, c, translate[1]], [0.0, 0.0, 1.0]], dtype=np.float64)
    return np.linalg.inv(m).astype(np.float32)
