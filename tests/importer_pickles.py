"""Writes NVlabs-format snapshot pickles for the importer tests (our code, not NVlabs').

NVlabs' `torch_utils/persistence.py` pickles each network module as a call
`torch_utils.persistence._reconstruct_persistent_obj(meta)` with
`meta = dict(type='class', version=6, module_src=<source>, class_name=<name>, state=<module __dict__>)`.
This module produces the same byte layout: module states are real `torch.nn.Module().__dict__`s holding
real Parameters and buffers, so torch's own reducers write the tensors and storages, and constructor
kwargs are a `dnnlib.util.EasyDict`. The two NVlabs names exist in sys.modules only while pickling.
"""

from __future__ import annotations

import contextlib
import copy
import json
import pickle
import re
import sys
import types
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch

import nvlabs_reference
from ganserve.artifacts import ModelConfig

PLACEHOLDER_SRC = "# stands in for NVlabs' training/networks.py: ganserve never executes module_src\n"
BUFFER_NAMES = {"w_avg", "resample_filter", "noise_const", "transform", "freqs", "phases", "magnitude_ema", "up_filter", "down_filter"}
PERSISTENCE_VERSION = 6


def _reconstruct_persistent_obj(meta):
    raise RuntimeError("only a name for the pickler: the importer must never call this")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"


class EasyDict(dict):
    """dnnlib.util.EasyDict: a dict with attribute access, pickled as a dict subclass (NEWOBJ + SETITEMS)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


EasyDict.__module__ = "dnnlib.util"


@contextlib.contextmanager
def nvlabs_names():
    """Registers torch_utils.persistence and dnnlib.util just long enough for pickle to name them."""
    persistence = types.ModuleType("torch_utils.persistence")
    persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
    util = types.ModuleType("dnnlib.util")
    util.EasyDict = EasyDict
    fakes = {"torch_utils": types.ModuleType("torch_utils"), "torch_utils.persistence": persistence}
    fakes |= {"dnnlib": types.ModuleType("dnnlib"), "dnnlib.util": util}
    saved = {name: sys.modules.get(name) for name in fakes}
    sys.modules.update(fakes)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


class PersistentModule:
    """Pickles exactly like an instance of an NVlabs @persistent_class."""

    def __init__(self, class_name: str, state: dict, module_src: str = PLACEHOLDER_SRC):
        self.class_name, self.state, self.module_src = class_name, state, module_src

    def __reduce__(self):
        meta = dict(type="class", version=PERSISTENCE_VERSION, module_src=self.module_src, class_name=self.class_name, state=self.state)
        return _reconstruct_persistent_obj, (meta,)


def easy(value):
    """Nested dicts -> EasyDicts, as NVlabs' train.py builds its kwargs."""
    return EasyDict({k: easy(v) for k, v in value.items()}) if isinstance(value, dict) else value


def module_state(params=(), buffers=(), modules=(), init_kwargs=None, **attrs) -> dict:
    """A torch.nn.Module __dict__ (this torch's hook dicts and all) in eval mode, as snapshots hold."""
    state = copy.deepcopy(torch.nn.Module().__dict__)
    state.update(training=False, _parameters=OrderedDict(params), _buffers=OrderedDict(buffers), _modules=OrderedDict(modules))
    state.update(_init_args=(), _init_kwargs=easy(init_kwargs or {}), **attrs)
    return state


def class_name(path: str, stylegan3: bool) -> str:
    """NVlabs class of the module at `path` (e.g. 'synthesis.b8.conv0')."""
    last = path.rsplit(".", 1)[-1]
    rules = [
        ("", "Generator"),
        ("mapping", "MappingNetwork"),
        ("synthesis", "SynthesisNetwork"),
        ("synthesis.input", "SynthesisInput"),
    ]
    for prefix, name in rules:
        if path == prefix:
            return name
    if last in ("embed", "affine") or re.fullmatch(r"fc\d+", last):
        return "FullyConnectedLayer"
    if re.fullmatch(r"b\d+", last):
        return "SynthesisBlock"
    if last == "torgb":
        return "ToRGBLayer"
    return "SynthesisLayer" if stylegan3 or last.startswith("conv") else "Module"


def _tensor(value: np.ndarray, exotic: bool) -> torch.Tensor:
    """With `exotic`, matrices are stored transposed in memory and at an offset in a larger storage,
    so the reader must honour strides and storage offsets."""
    t = torch.from_numpy(np.array(value, dtype=np.float32))
    if not exotic or t.ndim < 2:
        return t
    big = torch.zeros(t.numel() + 7)
    big[7:] = t.transpose(0, 1).contiguous().flatten()
    return big[7:].view(t.shape[1], t.shape[0], *t.shape[2:]).transpose(0, 1)


def generator_tree(state: dict[str, np.ndarray], init_kwargs: dict, *, module_src=PLACEHOLDER_SRC, exotic=False, extra_state=None):
    """A PersistentModule tree whose state_dict() is `state` (NVlabs names)."""
    stylegan3 = "synthesis.input.freqs" in state
    nodes: dict[str, dict] = {"": {"params": {}, "buffers": {}, "children": []}}
    for key, value in state.items():
        path, _, leaf = key.rpartition(".")
        parts = path.split(".") if path else []
        for depth in range(len(parts)):
            sub, parent = ".".join(parts[: depth + 1]), ".".join(parts[:depth])
            if sub not in nodes:
                nodes[sub] = {"params": {}, "buffers": {}, "children": []}
                nodes[parent]["children"].append(sub)
        kind = "buffers" if leaf in BUFFER_NAMES else "params"
        tensor = _tensor(value, exotic)
        nodes[path][kind][leaf] = torch.nn.Parameter(tensor, requires_grad=False) if kind == "params" else tensor

    def build(path: str) -> PersistentModule:
        node = nodes[path]
        children = [(child.rsplit(".", 1)[-1], build(child)) for child in node["children"]]
        attrs = {}
        if path == "":
            attrs = {k: init_kwargs[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")} | (extra_state or {})
        elif stylegan3 and path.startswith("synthesis.L"):  # NVlabs keeps numpy geometry on each layer
            size = int(path.split("_")[1])
            attrs = {"in_size": np.broadcast_to(np.asarray(size), [2]), "in_cutoff": np.float64(2.0)}
        kwargs = init_kwargs if path == "" else {"w_dim": init_kwargs["w_dim"]}
        state_ = module_state(node["params"].items(), node["buffers"].items(), children, kwargs, **attrs)
        return PersistentModule(class_name(path, stylegan3), state_, module_src)

    return build("")


def discriminator_stand_in(resolution: int, module_src=PLACEHOLDER_SRC) -> PersistentModule:
    gen = torch.Generator().manual_seed(1)
    block = module_state(
        [("weight", torch.nn.Parameter(torch.randn([8, 3, 1, 1], generator=gen), requires_grad=False))],
        [("resample_filter", torch.full([4, 4], 1 / 16))],
        init_kwargs={"in_channels": 0, "tmp_channels": 8, "out_channels": 8, "resolution": resolution},
    )
    epilogue = module_state([("weight", torch.nn.Parameter(torch.randn([1, 8], generator=gen), requires_grad=False))])
    modules = [
        (f"b{resolution}", PersistentModule("DiscriminatorBlock", block, module_src)),
        ("b4", PersistentModule("DiscriminatorEpilogue", epilogue, module_src)),
    ]
    return PersistentModule(
        "Discriminator", module_state(modules=modules, init_kwargs={"c_dim": 0, "img_resolution": resolution}), module_src
    )


def augment_pipe_stand_in(module_src=PLACEHOLDER_SRC) -> PersistentModule:
    state = module_state(
        buffers=[("p", torch.tensor(0.125)), ("Hz_geom", torch.randn(12))],
        init_kwargs={"xflip": 1, "rotate90": 1},
        xflip=1.0,
        aniso_std=np.float64(0.2),
    )
    return PersistentModule("AugmentPipe", state, module_src)


def write_snapshot(
    path: Path,
    state: dict[str, np.ndarray],
    init_kwargs: dict,
    *,
    networks=("G", "D", "G_ema", "augment_pipe"),
    module_src: str = PLACEHOLDER_SRC,
    exotic: bool = False,
    extra_state: dict | None = None,
    protocol: int = pickle.DEFAULT_PROTOCOL,
) -> Path:
    """An NVlabs training snapshot: G_ema holds `state`; G differs (so taking the wrong one shows)."""
    resolution = init_kwargs["img_resolution"]
    rng = np.random.default_rng(0)
    training_state = {k: v + rng.standard_normal(v.shape).astype(v.dtype) for k, v in state.items()}
    snapshot = {
        "training_set_kwargs": {
            "class_name": "training.dataset.ImageFolderDataset",
            "path": "datasets/x.zip",
            "use_labels": init_kwargs["c_dim"] > 0,
            "max_size": 1000,
            "xflip": False,
            "resolution": resolution,
            "random_seed": 0,
        }
    }
    makers = {
        "G": lambda: generator_tree(training_state, init_kwargs, module_src=module_src),
        "D": lambda: discriminator_stand_in(resolution, module_src),
        "G_ema": lambda: generator_tree(state, init_kwargs, module_src=module_src, exotic=exotic, extra_state=extra_state),
        "augment_pipe": lambda: augment_pipe_stand_in(module_src),
    }
    for name in networks:
        snapshot[name] = makers[name]()
    with nvlabs_names():
        Path(path).write_bytes(pickle.dumps(snapshot, protocol=protocol))
    return Path(path)


def case_kwargs(case: str) -> dict:
    """The NVlabs Generator kwargs the reference case was built with."""
    return json.loads((nvlabs_reference.DATA / f"{case}.json").read_text())["generator_kwargs"]


def case_snapshot(path: Path, case: str, **options) -> tuple[ModelConfig, dict[str, np.ndarray]]:
    """Writes a snapshot of a committed reference case; returns its (config, NVlabs state dict)."""
    config, state, _ = nvlabs_reference.load_case(case)
    write_snapshot(path, state, case_kwargs(case), **options)
    return config, state
