"""Inert stand-ins for the numpy globals a pickle names (arrays, dtypes, scalars).

numpy pickles an array as `_reconstruct(ndarray, (0,), b'b')` followed by BUILD with
`(version, shape, dtype, is_fortran, raw_bytes)`, and a dtype as `dtype('f8', False, True)` followed by
BUILD with its byte order. The real `np.dtype.__setstate__` would accept fields, sub-arrays and object
types from the pickle, so dtypes are parsed here from plain strings, and arrays are only built once
their dtype and byte count have been checked. Object arrays are refused: they hold arbitrary values.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ganserve.importer.errors import ImportRefused, PickleFormatError

# Plain numeric and string types only: no object ('O'), void/structured ('V') or datetime kinds.
_DTYPE_SPEC = re.compile(r"(b1|[iu][1248]|f[248]|c(8|16)|[SU]\d{1,6})")
MAX_NDIM = 32


class DtypeStub:
    """`numpy.dtype(spec, align, copy)` from a pickle; `.numpy` is the real dtype once BUILD ran."""

    def __init__(self, spec, align=False, copy=True):
        if not isinstance(spec, str) or not _DTYPE_SPEC.fullmatch(spec):
            raise ImportRefused(f"refused numpy dtype {spec!r} in the pickle: only plain numeric and string dtypes are read")
        self.spec = spec
        self.byteorder = "="

    def __setstate__(self, state):
        # (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not isinstance(state, tuple) or len(state) < 8 or state[1] not in ("<", ">", "|", "="):
            raise PickleFormatError(f"unexpected numpy dtype state {state!r:.200}")
        if any(part is not None for part in state[2:5]):
            raise ImportRefused("refused a structured numpy dtype in the pickle (sub-arrays or fields)")
        self.byteorder = state[1]

    @property
    def numpy(self) -> np.dtype:
        dtype = np.dtype(self.spec)
        return dtype.newbyteorder(self.byteorder) if self.byteorder in "<>" else dtype


class NdarrayMarker:
    """What `numpy.ndarray` resolves to: only a tag for `_reconstruct`, never instantiated by numpy."""

    __slots__ = ()

    def __setstate__(self, state):
        raise PickleFormatError("unexpected state for numpy.ndarray")


NDARRAY = NdarrayMarker()


class PickledArray(np.ndarray):
    """The array `_reconstruct` returns; its BUILD step is checked before numpy sees the bytes."""

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise PickleFormatError("unexpected numpy array state")
        shape, dtype, is_fortran, raw = state[-4:]
        if not isinstance(dtype, DtypeStub):
            raise PickleFormatError("numpy array state without a dtype")
        shape = _shape(shape)
        raw = _as_bytes(raw)
        if len(raw) != math.prod(shape) * dtype.numpy.itemsize:
            raise PickleFormatError(f"numpy array of shape {shape} {dtype.spec}: {len(raw)} data bytes do not match")
        super().__setstate__((shape, dtype.numpy, bool(is_fortran), raw))


def reconstruct(subtype, shape, typecode) -> PickledArray:
    """numpy.core.multiarray._reconstruct: an empty array that BUILD fills."""
    if subtype is not NDARRAY:
        raise ImportRefused("refused a numpy array subclass in the pickle: only plain ndarrays are read")
    return np.ndarray.__new__(PickledArray, (0,), dtype=np.uint8)


def scalar(dtype, raw) -> np.generic:
    """numpy.core.multiarray.scalar(dtype, raw bytes): a numpy scalar such as np.float64."""
    if not isinstance(dtype, DtypeStub):
        raise PickleFormatError("numpy scalar without a dtype")
    raw = _as_bytes(raw)
    if len(raw) != dtype.numpy.itemsize:
        raise PickleFormatError(f"numpy scalar {dtype.spec}: {len(raw)} bytes")
    return np.frombuffer(raw, dtype=dtype.numpy)[0]


def frombuffer(buffer, dtype, shape, order) -> np.ndarray:
    """numpy.core.numeric._frombuffer: how protocol 5 pickles contiguous arrays."""
    if not isinstance(dtype, DtypeStub):
        raise PickleFormatError("numpy buffer without a dtype")
    raw, shape = _as_bytes(buffer), _shape(shape)
    if len(raw) != math.prod(shape) * dtype.numpy.itemsize:
        raise PickleFormatError(f"numpy buffer of shape {shape}: {len(raw)} bytes do not match")
    return np.frombuffer(raw, dtype=dtype.numpy).reshape(shape, order="F" if order == "F" else "C").copy()


def _shape(shape) -> tuple[int, ...]:
    if not isinstance(shape, tuple | list) or len(shape) > MAX_NDIM or not all(type(n) is int and n >= 0 for n in shape):
        raise PickleFormatError(f"bad numpy shape {shape!r:.100}")
    return tuple(shape)


def _as_bytes(raw) -> bytes:
    if isinstance(raw, bytes | bytearray):
        return bytes(raw)
    if isinstance(raw, str):  # Python 2 pickles store the raw data as a latin-1 string
        return raw.encode("latin-1")
    raise PickleFormatError("numpy data is not bytes (object arrays are not read)")
