"""torch's pickle format for tensors, read into numpy without torch.

A tensor pickles as `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
backward_hooks[, metadata])`, a parameter as `_rebuild_parameter(tensor, requires_grad, hooks)`, and a
storage as `torch.storage._load_from_bytes(b)` where `b` is a legacy (non-zip) `torch.save` stream:
  pickle(magic number), pickle(protocol version 1001), pickle(sys_info),
  pickle(the storage, as persistent id ('storage', storage_type, key, location, numel, view_metadata)),
  pickle([keys]), then per key: 8-byte little-endian element count and the raw little-endian data.
The pickles inside the stream are read with the same restricted unpickler (see unpickle.py).
"""

from __future__ import annotations

import io
import math
import pickle
from collections.abc import Callable

import numpy as np

from ganserve.importer.errors import ImportRefused, PickleFormatError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_NDIM = 16

# torch dtype name (how torch.float32 pickles: by name) -> numpy dtype; bfloat16 is decoded to float32.
_DTYPES = {
    "float64": "<f8",
    "float32": "<f4",
    "float16": "<f2",
    "bfloat16": "<u2",
    "int64": "<i8",
    "int32": "<i4",
    "int16": "<i2",
    "int8": "i1",
    "uint8": "u1",
    "bool": "?",
    "complex64": "<c8",
    "complex128": "<c16",
}
# Legacy storage classes (torch.FloatStorage, ...) name the element type of the storage.
_STORAGE_CLASSES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64",
    "ComplexDoubleStorage": "complex128",
    "UntypedStorage": "uint8",
}
TORCH_TYPE_NAMES = frozenset(_DTYPES) | frozenset(_STORAGE_CLASSES)


class TorchDtype:
    """What `torch.float32` or `torch.FloatStorage` resolves to: an element type, nothing callable."""

    __slots__ = ("name", "raw")

    def __init__(self, name: str):
        self.name = _STORAGE_CLASSES.get(name, name)
        self.raw = np.dtype(_DTYPES[self.name])

    def decode(self, raw: np.ndarray) -> np.ndarray:
        """Raw little-endian elements -> a numpy array (bfloat16 widened exactly to float32)."""
        if self.name == "bfloat16":
            return (raw.astype(np.uint32) << 16).view(np.float32)
        return raw

    def __setstate__(self, state):
        raise PickleFormatError(f"unexpected state for torch type {self.name}")

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class Budget:
    """Caps the bytes of tensors materialised, so a small pickle cannot ask for huge strided copies."""

    def __init__(self, max_bytes: int):
        self.left = max_bytes

    def take(self, nbytes: int, what: str) -> None:
        if nbytes > self.left:
            raise ImportRefused(f"refused {what}: the pickle asks for more tensor memory than it holds data for")
        self.left -= nbytes


class Storage:
    """A storage read from a legacy stream: a flat numpy array."""

    def __init__(self, dtype: TorchDtype, numel: int):
        self.dtype, self.numel = dtype, numel
        self.array: np.ndarray | None = None

    def __setstate__(self, state):
        raise PickleFormatError("unexpected state for a torch storage")


def rebuild_tensor(storage, offset, size, stride, budget: Budget, dtype: TorchDtype | None = None) -> np.ndarray:
    """A C-contiguous copy of the strided view torch would build."""
    if not isinstance(storage, Storage) or storage.array is None:
        raise PickleFormatError("a tensor without a storage read from the pickle")
    flat = storage.array
    if dtype is not None and dtype.name != storage.dtype.name:
        # _rebuild_tensor_v3 reinterprets an untyped (byte) storage as the tensor's dtype.
        if storage.dtype.name != "uint8" or flat.nbytes % dtype.raw.itemsize:
            raise PickleFormatError(f"a {dtype} tensor on a {storage.dtype} storage")
        flat = dtype.decode(flat.view(dtype.raw))
    size, stride = _int_tuple(size, "size"), _int_tuple(stride, "stride")
    if len(size) != len(stride) or type(offset) is not int or offset < 0:
        raise PickleFormatError(f"bad tensor geometry: size {size}, stride {stride}, offset {offset!r}")
    numel = math.prod(size)  # exact: an int64 product could wrap
    if numel == 0:
        return np.zeros(size, dtype=flat.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
    if last >= flat.size:
        raise PickleFormatError(f"tensor of size {list(size)} reaches element {last} of a storage of {flat.size}")
    budget.take(numel * flat.itemsize, f"a tensor of size {list(size)}")
    view = np.lib.stride_tricks.as_strided(flat[offset:], size, [s * flat.itemsize for s in stride], writeable=False)
    return np.array(view, order="C")


def read_legacy_storage(data: bytes, make_unpickler: Callable[[io.BytesIO, dict | None], pickle._Unpickler]) -> Storage:
    """Parse the bytes given to torch.storage._load_from_bytes; `make_unpickler(file, storages)` returns a
    restricted unpickler whose persistent ids are collected into `storages` (see unpickle.py)."""
    if not isinstance(data, bytes | bytearray):
        raise PickleFormatError("torch storage bytes expected")
    data = bytes(data)  # arrays below are views of it: immutable bytes, never a buffer the pickle shares
    if data[:2] == b"PK":
        raise ImportRefused("refused a zip-format torch storage inside the pickle (not written by torch's pickler)")
    f = io.BytesIO(data)

    def small_pickle():
        return make_unpickler(f, None).load()

    if small_pickle() != LEGACY_MAGIC or small_pickle() != LEGACY_PROTOCOL:
        raise PickleFormatError("a torch storage with a bad magic number or protocol version")
    sys_info = small_pickle()
    if not isinstance(sys_info, dict) or sys_info.get("little_endian", True) is not True:
        raise PickleFormatError("a big-endian (or unknown) torch storage: not supported")
    storages: dict[str, tuple] = {}
    root = make_unpickler(f, storages).load()
    keys = small_pickle()
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise PickleFormatError("a torch storage stream without its key list")
    roots: dict[str, Storage] = {}
    for key in keys:
        if key not in storages or key in roots:
            raise PickleFormatError(f"torch storage key {key!r:.40} is not in the stream (or repeated)")
        storage = storages[key][0]
        pos = f.tell()
        count = int.from_bytes(data[pos : pos + 8], "little")
        nbytes = count * storage.dtype.raw.itemsize
        if count != storage.numel or pos + 8 + nbytes > len(data):
            raise PickleFormatError(f"torch storage {key!r:.40}: {count} elements recorded, {storage.numel} expected, or truncated")
        raw = np.frombuffer(data, dtype=storage.dtype.raw, count=count, offset=pos + 8)
        storage.array = storage.dtype.decode(raw)
        roots[key] = storage
        f.seek(pos + 8 + nbytes)
    return _resolve_view(root, storages, roots)


def storage_persistent_id(saved_id, storages: dict) -> Storage:
    """The persistent_load of a legacy stream: ('storage', type, key, location, numel[, view])."""
    if not isinstance(saved_id, tuple) or not saved_id or saved_id[0] not in ("storage", b"storage"):
        raise ImportRefused(f"refused persistent id {saved_id!r:.80} in a torch storage: only 'storage' ids are read")
    if len(saved_id) not in (5, 6):
        raise PickleFormatError(f"bad torch storage id {saved_id!r:.120}")
    storage_type, key, _location, numel = saved_id[1:5]
    view = saved_id[5] if len(saved_id) == 6 else None
    if not isinstance(storage_type, TorchDtype) or not isinstance(key, str) or type(numel) is not int or numel < 0:
        raise PickleFormatError(f"bad torch storage id {saved_id!r:.120}")
    if key not in storages:
        storages[key] = (Storage(storage_type, numel), [])
    root, views = storages[key]
    if root.dtype.name != storage_type.name:
        raise PickleFormatError(f"torch storage {key!r:.40} read as two element types")
    if view is None:
        return root
    # Old torch (< 1.0) could pickle views of a storage: (view_key, offset, size) in elements.
    placeholder = Storage(storage_type, 0)
    views.append((placeholder, view))
    return placeholder


def _resolve_view(root, storages: dict, roots: dict[str, Storage]) -> Storage:
    if not isinstance(root, Storage):
        raise PickleFormatError("a torch storage stream that does not hold a storage")
    for key, (base, views) in storages.items():
        for placeholder, view in views:
            if not (isinstance(view, tuple) and len(view) == 3 and all(type(v) is int for v in view[1:])):
                raise PickleFormatError(f"bad torch storage view {view!r:.80}")
            _, offset, size = view
            if offset < 0 or size < 0 or offset + size > base.numel or key not in roots:
                raise PickleFormatError("a torch storage view outside its storage")
            placeholder.numel, placeholder.array = size, base.array[offset : offset + size]
    if root.array is None:
        raise PickleFormatError("a torch storage with no data in the stream")
    return root


def _int_tuple(value, what: str) -> tuple[int, ...]:
    if not isinstance(value, tuple | list) or len(value) > MAX_NDIM or not all(type(n) is int and n >= 0 for n in value):
        raise PickleFormatError(f"bad tensor {what} {value!r:.100}")
    return tuple(value)
