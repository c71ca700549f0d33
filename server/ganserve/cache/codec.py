"""Arrays as bytes for caches and stores: raw little-endian float32 with dtype and shape, never pickles."""

from __future__ import annotations

import numpy as np

DTYPE = np.dtype("<f4")


def encode_array(array: np.ndarray) -> bytes:
    array = np.ascontiguousarray(array, dtype=DTYPE)
    header = f"{DTYPE.str}|{','.join(map(str, array.shape))}|".encode()
    return header + array.tobytes()


def decode_array(data: bytes) -> np.ndarray:
    dtype, shape, raw = data.split(b"|", 2)
    if dtype.decode() != DTYPE.str:
        raise ValueError(f"unexpected dtype {dtype!r}")
    dims = tuple(int(d) for d in shape.decode().split(",") if d)
    return np.frombuffer(raw, dtype=DTYPE).reshape(dims)
