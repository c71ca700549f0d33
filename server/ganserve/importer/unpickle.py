"""A restricted unpickler: reads NVlabs snapshot pickles without running anything from them.

Unpickling calls whatever global the pickle names. `RestrictedUnpickler.find_class` answers only the
names in `ALLOWED_GLOBALS`, each with a stand-in of ours: tensors become numpy arrays, NVlabs'
persisted modules become inert `PersistedObject` records (their `module_src` is hashed, never exec'd),
dnnlib's EasyDict becomes a dict. Any other global, and any persistent id other than a torch storage's,
raises ImportRefused naming it, before anything is called.
"""

from __future__ import annotations

import _compat_pickle
import collections
import hashlib
import io
import pickle
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ganserve.importer import numpy_format, torch_format
from ganserve.importer.errors import ImporterError, ImportRefused, PickleFormatError

MAX_PICKLE_BYTES = 16 << 30  # the largest official snapshots are a few GiB
_CLASS_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")


class PersistedObject:
    """An NVlabs persistent object (`torch_utils.persistence`), recorded instead of imported."""

    __slots__ = ("class_name", "module_src_sha256", "version", "state")

    def __init__(self, class_name: str, module_src_sha256: str, version, state: dict):
        self.class_name, self.module_src_sha256, self.version, self.state = class_name, module_src_sha256, version, state

    def __setstate__(self, state):
        raise PickleFormatError(f"unexpected state for NVlabs object {self.class_name}")

    def __repr__(self) -> str:
        return f"<persisted {self.class_name}>"


def reconstruct_persistent_obj(meta) -> PersistedObject:
    """torch_utils.persistence._reconstruct_persistent_obj(meta), minus the exec of meta['module_src']."""
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise ImportRefused(f"refused an NVlabs persistent object of type {meta.get('type') if isinstance(meta, dict) else meta!r:.40}")
    class_name, module_src, state = meta.get("class_name"), meta.get("module_src"), meta.get("state")
    if not isinstance(class_name, str) or not _CLASS_NAME.fullmatch(class_name):
        raise PickleFormatError(f"an NVlabs persistent object with class name {class_name!r:.60}")
    if not isinstance(module_src, str) or not isinstance(state, dict):
        raise PickleFormatError(f"NVlabs object {class_name}: module_src or state missing")
    digest = hashlib.sha256(module_src.encode("utf-8", "surrogatepass")).hexdigest()
    return PersistedObject(class_name, digest, meta.get("version"), state)


def _is_one_of(obj, types: tuple) -> bool:
    return any(obj is t for t in types)  # identity: pickled objects could compare equal to anything


def _reconstructor(cls, base, state):
    """copyreg._reconstructor (protocols 0 and 1) for the dict types only."""
    if not _is_one_of(cls, (dict, collections.OrderedDict)) or not _is_one_of(base, (object, dict)):
        raise ImportRefused(f"refused copyreg._reconstructor for {cls!r:.60}")
    return cls() if state is None else cls(state)


def _newobj(cls, *args):
    """copyreg.__newobj__ for the container types only (pickle normally emits the NEWOBJ opcode)."""
    if not _is_one_of(cls, (dict, collections.OrderedDict, set, frozenset)):
        raise ImportRefused(f"refused copyreg.__newobj__ for {cls!r:.60}")
    return cls()


def _torch_device(kind, index=None) -> str:
    if not isinstance(kind, str) or not (index is None or type(index) is int):
        raise PickleFormatError("bad torch.device")
    return kind if index is None else f"{kind}:{index}"


def _torch_size(dims=()) -> tuple:
    return tuple(dims)


def _codecs_encode(text, encoding="utf-8"):
    """How protocol 2 pickles bytes: _codecs.encode(str, 'latin1')."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ImportRefused(f"refused _codecs.encode with encoding {encoding!r:.20}")
    return text.encode("latin-1")


def _tensor(data):
    if not isinstance(data, np.ndarray):
        raise PickleFormatError("a torch parameter without tensor data")
    return data


# module.name -> (unpickler -> stand-in). Nothing here can import a module or run code from the pickle.
# Types are returned only where pickle's NEWOBJ needs one, and only builtin ones.
_FUNCTIONS = {
    "torch._utils._rebuild_tensor_v2": lambda u: u.rebuild_tensor_v2,
    "torch._utils._rebuild_tensor_v3": lambda u: u.rebuild_tensor_v3,
    "torch._utils._rebuild_parameter": lambda u: lambda data, requires_grad, hooks: _tensor(data),
    "torch._utils._rebuild_parameter_with_state": lambda u: lambda data, requires_grad, hooks, state: _tensor(data),
    "torch.storage._load_from_bytes": lambda u: u.load_from_bytes,
    "torch.Size": lambda u: _torch_size,
    "torch.device": lambda u: _torch_device,
    "torch_utils.persistence._reconstruct_persistent_obj": lambda u: reconstruct_persistent_obj,
    "_codecs.encode": lambda u: _codecs_encode,
    "copyreg._reconstructor": lambda u: _reconstructor,
    "copyreg.__newobj__": lambda u: _newobj,
    "numpy.dtype": lambda u: numpy_format.DtypeStub,
    "numpy.core.multiarray._reconstruct": lambda u: numpy_format.reconstruct,
    "numpy._core.multiarray._reconstruct": lambda u: numpy_format.reconstruct,
    "numpy.core.multiarray.scalar": lambda u: numpy_format.scalar,
    "numpy._core.multiarray.scalar": lambda u: numpy_format.scalar,
    "numpy.core.numeric._frombuffer": lambda u: numpy_format.frombuffer,
    "numpy._core.numeric._frombuffer": lambda u: numpy_format.frombuffer,
}
_VALUES = {
    "dnnlib.util.EasyDict": dict,  # NVlabs' dict subclass with attribute access: a dict is all we need
    "dnnlib.EasyDict": dict,
    "collections.OrderedDict": collections.OrderedDict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "builtins.object": object,
    "builtins.dict": dict,
    "numpy.ndarray": numpy_format.NDARRAY,
    **{f"torch.{name}": torch_format.TorchDtype(name) for name in torch_format.TORCH_TYPE_NAMES},
}
ALLOWED_GLOBALS = sorted([*_FUNCTIONS, *_VALUES])

_HINTS = {
    "dnnlib.tflib": " (a TensorFlow StyleGAN pickle: convert it with NVlabs' legacy.py first, in an environment you trust)",
    "torch.nn.": " (a plain torch module: only NVlabs' persistent classes are read)",
}


def _python3_name(module: str, name: str) -> tuple[str, str]:
    """Protocol 2 pickles (torch's storage streams) use Python 2 names; map them as pickle itself does."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle._Unpickler):
    """`storages`: None for the outer pickle (no persistent ids allowed), or the dict collecting the
    storages of a legacy torch stream (nested: no further `_load_from_bytes`).

    This is pickle's pure-Python unpickler: its memo is a dict, where the C one allocates (and zeroes)
    an array as long as the largest memo index a pickle names, so 5 bytes could ask for tens of GB.
    Being Python, its BUILD opcode can also be limited to the two numpy stand-ins that need it.
    """

    # pickle's own opcode table, some entries replaced below (typeshed types its values for the base class).
    dispatch: ClassVar[dict[int, Callable[[Any], Any]]] = dict(pickle._Unpickler.dispatch)

    def __init__(self, file, input_bytes: int, budget: torch_format.Budget, storages: dict | None = None, nested: bool = False):
        super().__init__(file)
        self.input_bytes, self.budget, self.storages, self.nested = input_bytes, budget, storages, nested

    def find_class(self, module: str, name: str):
        key = ".".join(_python3_name(module, name))
        if key in _VALUES:
            return _VALUES[key]
        if key not in _FUNCTIONS or (self.nested and key == "torch.storage._load_from_bytes"):
            hint = next((text for prefix, text in _HINTS.items() if key.startswith(prefix)), "")
            raise ImportRefused(
                f"refused to load global {key} from the pickle{hint}: only tensors, numbers, containers and "
                "NVlabs' module records are read, because unpickling anything else can run code"
            )
        return _FUNCTIONS[key](self)

    def load_build(self):
        """BUILD sets an object's state; only our numpy stand-ins take one (and check it)."""
        inst = self.stack[-2] if len(self.stack) > 1 else None  # the stack ends (..., inst, state)
        if not isinstance(inst, numpy_format.DtypeStub | numpy_format.PickledArray):
            raise ImportRefused(f"refused to set the state of a {type(inst).__name__} from the pickle")
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def load_newobj(self):
        """NEWOBJ calls cls.__new__: pickles use it for dnnlib's EasyDict (a dict here) only."""
        cls = self.stack[-2] if len(self.stack) > 1 else None  # the stack ends (..., cls, args)
        if not _is_one_of(cls, (dict, collections.OrderedDict)):
            raise ImportRefused("refused NEWOBJ on anything but a dict from the pickle")
        super().load_newobj()

    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = lambda self: self._refuse_opcode("NEWOBJ_EX")
    dispatch[pickle.INST[0]] = lambda self: self._refuse_opcode("INST")
    dispatch[pickle.OBJ[0]] = lambda self: self._refuse_opcode("OBJ")

    def load_bytearray8(self):
        """pickle's own version allocates (and zeroes) the declared length before reading any data."""
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self.input_bytes:
            raise PickleFormatError(f"a bytearray of {size} bytes in a pickle of {self.input_bytes}")
        data = self.read(size)
        if len(data) != size:
            raise PickleFormatError("pickle data was truncated")
        self.append(bytearray(data))

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def _refuse_opcode(self, name: str):
        raise ImportRefused(f"refused the {name} opcode in the pickle: torch and NVlabs do not write it")

    def persistent_load(self, pid):
        if self.storages is None:
            raise ImportRefused(f"refused persistent id {pid!r:.80} in the pickle: snapshot pickles have none")
        return torch_format.storage_persistent_id(pid, self.storages)

    def load_from_bytes(self, data) -> torch_format.Storage:
        return torch_format.read_legacy_storage(
            data, lambda f, storages: RestrictedUnpickler(f, len(data), self.budget, storages, nested=True)
        )

    def rebuild_tensor_v2(self, storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
        return torch_format.rebuild_tensor(storage, offset, size, stride, self.budget)

    def rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad, hooks, dtype, metadata=None):
        if not isinstance(dtype, torch_format.TorchDtype):
            raise PickleFormatError("a tensor without a torch dtype")
        return torch_format.rebuild_tensor(storage, offset, size, stride, self.budget, dtype)


def loads(data: bytes, max_tensor_bytes: int | None = None):
    """Unpickle bytes with the allow-list (tests and small inputs)."""
    return _load(io.BytesIO(data), len(data), max_tensor_bytes)


def read_pickle(path: Path) -> tuple[object, str]:
    """(the unpickled tree, sha256 of the file). Raises ImporterError subclasses only."""
    path = Path(path)
    try:
        size = path.stat().st_size
        digest = _sha256(path)
        if size > MAX_PICKLE_BYTES:
            raise ImportRefused(f"{path.name}: {size} bytes is more than the {MAX_PICKLE_BYTES} bytes an import reads")
        with path.open("rb") as f:
            head = f.read(2)
            if len(head) < 2 or head[0] != 0x80 or not 2 <= head[1] <= 5:
                kind = "a zip archive (torch.save checkpoint?)" if head == b"PK" else f"starts with {head!r}"
                raise PickleFormatError(f"{path.name} is not a binary pickle: {kind}")
            f.seek(0)
            return _load(_BoundedReader(f, size), size, None), digest
    except OSError as exc:
        raise ImporterError(f"cannot read {path}: {exc.strerror or exc}") from None


def _load(file, size: int, max_tensor_bytes: int | None):
    # Tensors never need more memory than the pickle holds data for, except views that repeat elements
    # (stride 0), which snapshots do not use; the slack covers small ones.
    budget = torch_format.Budget(max_tensor_bytes if max_tensor_bytes is not None else 2 * size + (64 << 20))
    try:
        tree = RestrictedUnpickler(file, size, budget).load()
    except ImporterError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error) as exc:
        raise PickleFormatError(f"not a readable pickle ({type(exc).__name__}: {exc})") from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise ImportRefused(f"refused a pickle that is too large or too deep ({type(exc).__name__})") from None
    if file.read(1):
        raise PickleFormatError("trailing data after the pickle")
    return tree


class _BoundedReader:
    """A file whose reads never ask for more than is left: file objects allocate the size asked for,
    and a pickle declares its own lengths."""

    def __init__(self, file, size: int):
        self.file, self.size = file, size

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.file.tell()
        return self.file.read(left if n < 0 else min(n, left))

    def readline(self) -> bytes:
        return self.file.readline()

    def readinto(self, buffer) -> int:
        return self.file.readinto(buffer)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
