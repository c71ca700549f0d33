"""Resume checkpoints without pickles: every tensor (G, D, G_ema, both Adam states, the RNG) in one
safetensors file, everything else (progress, options, Adam hyper-parameters) in a JSON beside it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

TENSORS_FILE = "resume.safetensors"
STATE_FILE = "resume.json"


def _optimizer_tensors(prefix: str, optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict]:
    state = optimizer.state_dict()
    tensors = {
        f"{prefix}.{index}.{key}": value.detach().clone().contiguous()
        for index, slots in state["state"].items()
        for key, value in slots.items()
    }
    return tensors, {"param_groups": state["param_groups"], "slots": {str(i): sorted(s) for i, s in state["state"].items()}}


def _load_optimizer(prefix: str, optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], saved: dict) -> None:
    state = {int(i): {key: tensors[f"{prefix}.{i}.{key}"] for key in keys} for i, keys in saved["slots"].items()}
    optimizer.load_state_dict({"state": state, "param_groups": saved["param_groups"]})


def save_checkpoint(
    run_dir: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer], progress: dict
) -> Path:
    """Writes both files atomically (temporary name, then rename), so a kill mid-write loses nothing."""
    tensors: dict[str, torch.Tensor] = {}
    for name, module in modules.items():
        tensors.update({f"{name}.{k}": v.detach().clone().contiguous() for k, v in module.state_dict().items()})
    optimizer_state = {}
    for name, optimizer in optimizers.items():
        slots, saved = _optimizer_tensors(name, optimizer)
        tensors.update(slots)
        optimizer_state[name] = saved
    tensors["rng.torch"] = torch.get_rng_state()
    state = {"progress": progress, "optimizers": optimizer_state}
    tmp_tensors, tmp_state = run_dir / (TENSORS_FILE + ".tmp"), run_dir / (STATE_FILE + ".tmp")
    save_file(tensors, tmp_tensors)
    tmp_state.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(tmp_tensors, run_dir / TENSORS_FILE)
    os.replace(tmp_state, run_dir / STATE_FILE)
    return run_dir / TENSORS_FILE


def has_checkpoint(run_dir: Path) -> bool:
    return (run_dir / TENSORS_FILE).exists() and (run_dir / STATE_FILE).exists()


def load_checkpoint(run_dir: Path, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restores modules, optimizers and the RNG in place; returns the saved progress."""
    tensors = load_file(run_dir / TENSORS_FILE)
    state = json.loads((run_dir / STATE_FILE).read_text())
    for name, module in modules.items():
        prefix = f"{name}."
        module.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}, strict=True)
    for name, optimizer in optimizers.items():
        _load_optimizer(name, optimizer, tensors, state["optimizers"][name])
    torch.set_rng_state(tensors["rng.torch"])
    return state["progress"]
