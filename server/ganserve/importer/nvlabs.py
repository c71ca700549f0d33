"""An unpickled NVlabs snapshot -> our ModelConfig and a flat state dict with NVlabs names.

The snapshot is `dict(G, D, G_ema, augment_pipe, training_set_kwargs)`; we take G_ema (the network
NVlabs' own tools generate with), or G when G_ema is missing. Each module is a PersistedObject whose
state is the module's __dict__: `_parameters`, `_buffers` (minus `_non_persistent_buffers_set`) and
`_modules` give exactly `G_ema.state_dict()`; `_init_args`/`_init_kwargs` are the constructor arguments.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from pydantic import ValidationError

from ganserve.artifacts import MappingConfig, ModelConfig, Source, StyleGAN3Options, SynthesisConfig
from ganserve.importer import layout
from ganserve.importer.errors import UnsupportedNetwork
from ganserve.importer.unpickle import PersistedObject

MAX_MODULE_DEPTH = 16
# Generator positional arguments (stylegan2-ada-pytorch has a 7th, synthesis_kwargs; the stylegan3
# repository's generators take synthesis arguments as **kwargs).
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs")
# Arguments that only matter for training or GPU speed: recorded in provenance, otherwise ignored.
TRAINING_ONLY = {"num_fp16_res", "fp16_channels_last", "channels_last", "fused_modconv_default", "w_avg_beta", "magnitude_ema_beta"}
STYLEGAN2_SYNTHESIS = {
    "channel_base",
    "channel_max",
    "conv_clamp",
    "architecture",
    "resample_filter",
    "kernel_size",
    "use_noise",
    "activation",
}
STYLEGAN2_MAPPING = {"num_layers", "lr_multiplier", "embed_features", "layer_features", "activation"}
STYLEGAN3_SYNTHESIS = {"channel_base", "channel_max", "conv_clamp", *StyleGAN3Options.model_fields}
STYLEGAN3_MAPPING = {"num_layers", "lr_multiplier"}


@dataclass
class ImportedNetwork:
    config: ModelConfig
    state: dict[str, np.ndarray]
    network: str  # "G_ema", "G", or "network" for a generator pickled on its own
    notes: list[str] = field(default_factory=list)


def convert_snapshot(tree, *, name: str, file_name: str, sha256: str) -> ImportedNetwork:
    network_key, generator, notes = _pick_generator(tree)
    state = flatten_state(generator)
    family = detect_family(state)
    kwargs = _constructor_kwargs(generator)
    synthesis, mapping = kwargs["synthesis"], kwargs["mapping"]
    _check_known(family, synthesis, mapping)
    config = _model_config(name, family, kwargs["generator"], synthesis, mapping, state)
    problems = layout.compare(state, layout.expected_shapes(config))
    if problems:
        raise UnsupportedNetwork(f"the {family} generator's tensors do not match its constructor arguments: {'; '.join(problems)}")
    _check_dtypes(state)
    stored_num_ws = generator.state.get("num_ws")
    if isinstance(stored_num_ws, int) and stored_num_ws != config.num_ws:
        raise UnsupportedNetwork(f"the generator records num_ws={stored_num_ws}, its layers give {config.num_ws}")
    details = {
        "sha256": sha256,
        "family": family,
        "class_name": generator.class_name,
        "module_src_sha256": generator.module_src_sha256,
        "persistence_version": json_safe(generator.version),
        "network": network_key,
        "pickle_keys": sorted(str(k) for k in tree) if isinstance(tree, dict) else [],
        "init_kwargs": json_safe(generator.state.get("_init_kwargs", {})),
        "num_fp16_res": json_safe(synthesis.get("num_fp16_res", 0 if family == "stylegan2" else 4)),
    }
    if generator.state.get("_init_args"):
        details["init_args"] = json_safe(generator.state["_init_args"])
    if notes:
        details["notes"] = notes
    config = config.model_copy(update={"source": Source(kind="nvlabs-pickle", detail=file_name, details=details)})
    return ImportedNetwork(config, state, network_key, notes)


def _pick_generator(tree) -> tuple[str, PersistedObject, list[str]]:
    if isinstance(tree, PersistedObject):  # a network pickled on its own
        return "network", _generator(tree, "the pickled network"), []
    if not isinstance(tree, dict):
        raise UnsupportedNetwork(f"the pickle holds a {type(tree).__name__}, not an NVlabs snapshot dict(G, D, G_ema, ...)")
    if tree.get("G_ema") is not None:
        return "G_ema", _generator(tree["G_ema"], "G_ema"), []
    if tree.get("G") is not None:
        note = "no G_ema in the snapshot: imported G (the training network, not the moving average NVlabs generates with)"
        return "G", _generator(tree["G"], "G"), [note]
    raise UnsupportedNetwork(f"the snapshot has no G_ema or G network (keys: {', '.join(map(str, tree)) or 'none'})")


def _generator(obj, label: str) -> PersistedObject:
    if not isinstance(obj, PersistedObject):
        raise UnsupportedNetwork(f"{label} is a {type(obj).__name__}, not an NVlabs persistent network")
    if obj.class_name != "Generator":
        raise UnsupportedNetwork(f"{label} is an NVlabs {obj.class_name}, not a Generator")
    return obj


def flatten_state(module: PersistedObject, prefix: str = "", depth: int = 0) -> dict[str, np.ndarray]:
    """module.state_dict(): parameters, persistent buffers, then submodules, in torch's order."""
    if depth > MAX_MODULE_DEPTH:
        raise UnsupportedNetwork("modules nested too deeply")
    state = module.state
    if not all(k in state for k in ("_parameters", "_buffers", "_modules")):
        raise UnsupportedNetwork(f"{prefix or 'the network'}: NVlabs {module.class_name} is not a torch module")
    params, buffers, modules = state["_parameters"], state["_buffers"], state["_modules"]
    skip = state.get("_non_persistent_buffers_set", set())
    if not all(isinstance(d, dict) for d in (params, buffers, modules)) or not isinstance(skip, set | frozenset):
        raise UnsupportedNetwork(f"{prefix or 'the network'}: not a torch module layout ({module.class_name})")
    out = {}
    for name, value in [*params.items(), *((n, v) for n, v in buffers.items() if n not in skip)]:
        if value is None:  # registered as None: not in state_dict
            continue
        if not isinstance(value, np.ndarray):
            raise UnsupportedNetwork(f"{prefix}{name} is a {type(value).__name__}, not a tensor")
        out[f"{prefix}{name}"] = value
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistedObject):
            raise UnsupportedNetwork(f"{prefix}{name} is a {type(child).__name__}, not an NVlabs persistent module")
        out |= flatten_state(child, f"{prefix}{name}.", depth + 1)
    return out


def detect_family(state: dict[str, np.ndarray]) -> str:
    if "synthesis.input.freqs" in state:
        return "stylegan3"
    if "synthesis.b4.const" in state:
        return "stylegan2"
    sample = ", ".join(list(state)[:4]) or "no tensors"
    raise UnsupportedNetwork(f"neither a StyleGAN2 (synthesis.b4.const) nor a StyleGAN3 (synthesis.input.freqs) generator: {sample}")


def _constructor_kwargs(generator: PersistedObject) -> dict[str, dict]:
    """Generator arguments split into generator / synthesis / mapping, positional ones named."""
    args, kwargs = generator.state.get("_init_args", ()), generator.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or not isinstance(args, tuple | list) or len(args) > len(GENERATOR_ARGS):
        raise UnsupportedNetwork("the Generator has no readable constructor arguments (_init_args/_init_kwargs)")
    merged = dict(zip(GENERATOR_ARGS, args, strict=False)) | kwargs
    synthesis = {k: v for k, v in merged.items() if k not in GENERATOR_ARGS}
    nested, mapping = merged.get("synthesis_kwargs", {}), merged.get("mapping_kwargs", {})
    if not isinstance(nested, dict) or not isinstance(mapping, dict):
        raise UnsupportedNetwork("Generator synthesis_kwargs/mapping_kwargs are not dicts")
    generator_args = {k: merged[k] for k in GENERATOR_ARGS[:5] if k in merged}
    return {"generator": generator_args, "synthesis": synthesis | nested, "mapping": dict(mapping)}


def _check_known(family: str, synthesis: dict, mapping: dict) -> None:
    known_synthesis, known_mapping = (
        (STYLEGAN3_SYNTHESIS, STYLEGAN3_MAPPING) if family == "stylegan3" else (STYLEGAN2_SYNTHESIS, STYLEGAN2_MAPPING)
    )
    for where, given, known in (("synthesis", synthesis, known_synthesis), ("mapping", mapping, known_mapping)):
        unknown = sorted(set(given) - known - TRAINING_ONLY)
        if unknown:
            raise UnsupportedNetwork(f"unknown {family} {where} argument(s) {', '.join(unknown)}: not an NVlabs network ganserve knows")
    if family == "stylegan2":
        if synthesis.get("architecture", "skip") != "skip":
            raise UnsupportedNetwork(f"StyleGAN2 architecture {synthesis['architecture']!r}: ganserve serves the default 'skip' only")
        for where, given in (("synthesis", synthesis), ("mapping", mapping)):
            if given.get("activation", "lrelu") != "lrelu":
                raise UnsupportedNetwork(f"{where} activation {given['activation']!r}: ganserve serves 'lrelu' only")
        if synthesis.get("use_noise", True) is not True:
            raise UnsupportedNetwork("StyleGAN2 without noise inputs (use_noise=False) is not served")


def _model_config(name: str, family: str, gen: dict, synthesis: dict, mapping: dict, state: dict) -> ModelConfig:
    missing = [k for k in GENERATOR_ARGS[:5] if k not in gen]
    if missing:
        raise UnsupportedNetwork(f"Generator constructor arguments missing: {', '.join(missing)}")
    fc_layers = sum(1 for k in state if k.startswith("mapping.fc") and k.endswith(".weight"))
    default_layers = 2 if family == "stylegan3" else 8
    if _integer(mapping.get("num_layers", default_layers), "mapping num_layers") != fc_layers:
        raise UnsupportedNetwork(
            f"mapping num_layers={mapping.get('num_layers', default_layers)} but the network has {fc_layers} fc layers"
        )
    stylegan3 = None
    if family == "stylegan3":
        options = {k: _plain(synthesis[k]) for k in StyleGAN3Options.model_fields if k in synthesis}
        stylegan3 = _validated(StyleGAN3Options, options, "StyleGAN3 options")
    resolution = _integer(gen["img_resolution"], "img_resolution")
    num_ws = stylegan3.num_layers + 2 if stylegan3 else 2 * int(math.log2(max(resolution, 1))) - 2
    conv_clamp = synthesis.get("conv_clamp", 256 if family == "stylegan3" else None)  # NVlabs' layer defaults
    values = {
        "name": name,
        "architecture": family,
        "resolution": resolution,
        "img_channels": _integer(gen["img_channels"], "img_channels"),
        "z_dim": _integer(gen["z_dim"], "z_dim"),
        "w_dim": _integer(gen["w_dim"], "w_dim"),
        "c_dim": _integer(gen["c_dim"], "c_dim"),
        "num_ws": num_ws,
        "mapping": _validated(
            MappingConfig, {"num_layers": fc_layers, "lr_multiplier": _plain(mapping.get("lr_multiplier", 0.01))}, "mapping arguments"
        ),
        "synthesis": _validated(
            SynthesisConfig,
            {
                "channel_base": _plain(synthesis.get("channel_base", 32768)),
                "channel_max": _plain(synthesis.get("channel_max", 512)),
                "conv_clamp": _plain(conv_clamp),
            },
            "synthesis arguments",
        ),
        "stylegan3": stylegan3,
        "source": Source(kind="nvlabs-pickle"),
    }
    return _validated(ModelConfig, values, "generator arguments")


def _validated(model, values: dict, what: str):
    try:
        return model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise UnsupportedNetwork(f"{what}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _integer(value, what: str) -> int:
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value < 0:
        raise UnsupportedNetwork(f"Generator argument {what}={value!r:.40} is not a non-negative integer")
    return int(value)


def _plain(value):
    """numpy scalars -> Python numbers (NVlabs passes np.float64 cutoffs and the like)."""
    return value.item() if isinstance(value, np.generic) else value


def _check_dtypes(state: dict[str, np.ndarray]) -> None:
    for key, value in state.items():
        if value.dtype.kind != "f":
            raise UnsupportedNetwork(f"{key} has dtype {value.dtype}; generator tensors are floating point")


def json_safe(value, depth: int = 0):
    """Constructor arguments as JSON: numpy values become numbers or lists, other objects their repr."""
    if depth > 8:
        return "..."
    value = _plain(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [json_safe(v, depth + 1) for v in list(items)[:200]]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), depth + 1) if value.size <= 64 else f"<array {list(value.shape)} {value.dtype}>"
    return repr(value)[:200]
