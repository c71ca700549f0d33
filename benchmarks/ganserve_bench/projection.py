"""`python -m ganserve_bench projection`: how well and how fast image -> latent projection works on the
emoji32 model with its discriminator (docs/projection.md).

The model is built in a temporary folder from what is committed: models/emoji32's generator and the
discriminator of runs/emoji32's resume checkpoint (the run's latest D, as `ganserve export-run` keeps it).

- Generated targets: images of held-out seeds (class seed % classes, psi 1 and 0.7, const noise), whose
  w is known: reconstruction PSNR and the distance of the recovered ws from the true w (L2 in W, mean
  over layers), also relative to the mean distance between two random ws of one class at that psi.
- Real targets: emoji from the training set (var/data/emoji.npz, box-downsampled as training does),
  started from their own class: PSNR. Skipped, with the reason, where the dataset is absent.
- The loss comparison: pixel L2 alone, with the discriminator's features, with MS-SSIM, and all three
  (the default), on the same targets, steps and w noise.
- Time per step of `Projector.project` on one target, as the worker runs it (progress every step).

Every PSNR is of the image the server renders from the returned ws (const noise). Quality runs are
batches of independent projections (`Projector.project_many`: the loss is a sum of per-image terms and
Adam elementwise, so each target's projection is its own); the times per step of those batches are
recorded too, but the worker's figure is the single-target one.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ganserve import latents
from ganserve.artifacts import CONFIG_FILE, WEIGHTS_FILE, Artifact
from ganserve.generator.networks import to_uint8_nhwc
from ganserve.projection.features import LossWeights, psnr
from ganserve.projection.method import W_AVG_SAMPLES, ProjectionOptions, Projector
from ganserve.settings import REPO_ROOT
from ganserve.training.checkpoint import TENSORS_FILE
from ganserve.training.dataset import load_dataset
from ganserve.training.export import export_discriminator
from ganserve.training.loop import OPTIONS_FILE
from ganserve.training.options import TrainingOptions
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.report import contention, header, write_results

SCHEMA = "ganserve-bench-projection/1"
FIRST_SEED = 5_000_000  # held out: no test, sample grid or picture uses seeds from here on
REAL_SEED = 0  # which dataset images (RandomState)
PAIR_SEED = 123  # the random pairs behind the W distance scale
PAIRS = 2000


def build_model(directory: Path, model_dir: Path, run_dir: Path) -> Artifact:
    """model_dir's generator, plus run_dir's latest D where the run has a resume checkpoint."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        shutil.copy(model_dir / name, directory / name)
    artifact = Artifact(directory)
    if (run_dir / TENSORS_FILE).exists():
        options = TrainingOptions.model_validate_json((run_dir / OPTIONS_FILE).read_text())
        export_discriminator(run_dir, directory, options, artifact.config.c_dim)
    return Artifact(directory)


def _shown(path: Path) -> str:
    """A path as the results file records it: relative to the checkout where it is inside it."""
    return str(path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path)


def mapped(projector: Projector, z: np.ndarray, classes: list[int], psi: float) -> np.ndarray:
    """w [N, w_dim] as the server maps and truncates them (towards the model's w_avg)."""
    cfg = projector.config
    c = latents.one_hot(list(classes), cfg.c_dim) if cfg.c_dim else None
    with torch.no_grad():
        w = projector.G.mapping(torch.from_numpy(z), None if c is None else torch.from_numpy(c)).numpy()
    return latents.truncate(w[:, None], projector.artifact.load_w_avg(), psi)[:, 0]


def generated_targets(projector: Projector, seeds: list[int], psi: float) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """(uint8 images, true w, classes) for seeds at psi: class seed % classes (none if unconditional)."""
    cfg = projector.config
    classes = [seed % cfg.c_dim for seed in seeds] if cfg.c_dim else [0] * len(seeds)
    w = mapped(projector, latents.seeds_to_z(seeds, cfg.z_dim), classes, psi)
    with torch.no_grad():
        images = to_uint8_nhwc(projector.synthesize(torch.from_numpy(latents.broadcast_ws(w, cfg.num_ws)))).numpy()
    return images, w, classes


def pair_distance(projector: Projector, psi: float) -> float:
    """Mean L2 between the w of two random z of one (random) class, at psi."""
    cfg = projector.config
    rng = np.random.RandomState(PAIR_SEED)
    classes = list(rng.randint(0, max(cfg.c_dim, 1), PAIRS))
    a = mapped(projector, rng.randn(PAIRS, cfg.z_dim).astype(np.float32), classes, psi)
    b = mapped(projector, rng.randn(PAIRS, cfg.z_dim).astype(np.float32), classes, psi)
    return float(np.linalg.norm(a - b, axis=1).mean())


def start_psnr(projector: Projector, targets: np.ndarray, classes: list[int | None], seed: int) -> np.ndarray:
    """PSNR of the starting point (the class's w_avg estimate) against each target."""
    cfg = projector.config
    w = torch.stack([projector.w_stats(seed, c)[0] for c in classes])
    with torch.no_grad():
        images = to_uint8_nhwc(projector.synthesize(w[:, None].repeat(1, cfg.num_ws, 1)))
    return psnr(images, torch.from_numpy(targets)).numpy()


def stats(values: np.ndarray | list[float]) -> dict:
    values = [float(v) for v in values]
    return {
        "mean": round(statistics.fmean(values), 3),
        "median": round(statistics.median(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


def project(projector: Projector, targets: np.ndarray, classes: list[int | None], steps: int, space: str) -> tuple[list, float]:
    """(results, seconds per step of the batch)."""
    started = time.perf_counter()
    results = projector.project_many(targets, ProjectionOptions(steps=steps, space=space), class_indices=classes)  # type: ignore[arg-type]
    return results, (time.perf_counter() - started) / steps


def quality_run(projector: Projector, groups: dict[str, dict], steps: int, space: str) -> dict:
    """All groups' targets in one batch; figures per group (PSNR, and the W distances where w is known)."""
    targets = np.concatenate([g["images"] for g in groups.values()])
    classes = [c for g in groups.values() for c in g["classes"]]
    results, per_step = project(projector, targets, classes, steps, space)
    out: dict = {"space": space, "steps": steps, "targets": len(targets), "batch_seconds_per_step": round(per_step, 4), "groups": {}}
    offset = 0
    for name, group in groups.items():
        mine = results[offset : offset + len(group["images"])]
        offset += len(group["images"])
        row: dict = {"psnr": stats([r.psnr for r in mine]), "psnr_per_target": [round(r.psnr, 2) for r in mine]}
        if group.get("w") is not None:
            distances = np.array([np.linalg.norm(r.ws - w, axis=1).mean() for r, w in zip(mine, group["w"], strict=True)])
            row["w_distance"] = stats(distances)
            row["w_distance_relative"] = round(float(distances.mean()) / group["pair_distance"], 3)
        out["groups"][name] = row
    return out


def time_single(projector: Projector, target: np.ndarray, class_index: int | None, steps: int) -> dict:
    """Seconds per step of one projection as the worker runs it: progress (and its render) every step."""
    projector.project(target, ProjectionOptions(steps=2, class_index=class_index))  # warm-up, w_avg estimated
    started = time.perf_counter()
    result = projector.project(target, ProjectionOptions(steps=steps, class_index=class_index), on_progress=lambda progress: None)
    seconds = time.perf_counter() - started
    return {"steps": steps, "seconds": round(seconds, 3), "ms_per_step": round(seconds / steps * 1000, 2), "psnr": round(result.psnr, 2)}


def loss_configs(default: LossWeights, with_d: bool) -> dict[str, LossWeights]:
    configs = {
        "pixel": replace(default, ms_ssim=0.0, features=0.0),
        "pixel + MS-SSIM": replace(default, features=0.0),
    }
    if with_d:
        configs["pixel + D features"] = replace(default, ms_ssim=0.0)
        configs["all (default)"] = default
    return configs


def run_projection_benchmark(
    out: Path,
    data: Path | None,
    seeds: int = 6,
    psis: tuple[float, ...] = (1.0, 0.7),
    steps: tuple[int, ...] = (25, 50, 100, 200, 400),
    real: int = 8,
    real_steps: tuple[int, ...] = (25, 50, 100, 200),
    comparison_steps: int = 100,
    timing_steps: int = 50,
    threads: int = 1,
    model_dir: Path = REPO_ROOT / "models" / "emoji32",
    run_dir: Path = REPO_ROOT / "runs" / "emoji32",
    log=print,
) -> Path:
    created, started = datetime.now(UTC), time.perf_counter()
    if threads:
        torch.set_num_threads(threads)
    cpu, machine = measure_machine(log)
    with tempfile.TemporaryDirectory() as tmp:
        artifact = build_model(Path(tmp) / model_dir.name, model_dir, run_dir)
        default = Projector(artifact)
        cfg = artifact.config
        kept = artifact.discriminator
        model = {
            "name": cfg.name,
            "resolution": cfg.resolution,
            "num_ws": cfg.num_ws,
            "w_dim": cfg.w_dim,
            "classes": cfg.c_dim,
            "digest": artifact.digest,
            "generator_kimg": cfg.source.details.get("kimg"),
            "generator_from": _shown(model_dir),
            "discriminator_kimg": kept.source.details.get("kimg") if kept else None,
            "discriminator_from": _shown(run_dir / TENSORS_FILE) if kept else None,
        }
        log(f"  model {cfg.name}: G at {model['generator_kimg']} kimg, D: {model['discriminator_kimg']} kimg")

        seed_list = list(range(FIRST_SEED, FIRST_SEED + seeds))
        gen_groups: dict[str, dict] = {}
        for psi in psis:
            images, w, classes = generated_targets(default, seed_list, psi)
            gen_groups[f"generated psi {psi:g}"] = {
                "images": images,
                "w": w,
                "classes": classes,
                "pair_distance": pair_distance(default, psi),
            }
        real_groups: dict[str, dict] = {}
        real_info: dict = {"status": "skipped"}
        if real and data is not None and data.exists():
            dataset = load_dataset(data)
            picked = np.sort(np.random.RandomState(REAL_SEED).choice(len(dataset), real, replace=False))
            images = dataset.at_resolution(cfg.resolution)[picked]
            labels = [int(label) for label in dataset.labels[picked]]
            real_groups["real emoji"] = {"images": images, "classes": labels}
            real_info = {"status": "ok", "data": str(data), "indices": picked.tolist(), "names": [str(n) for n in dataset.names[picked]]}
        else:
            real_info["reason"] = f"no dataset at {data} (`ganserve dataset emoji` builds it)" if real else "--real 0"
            log(f"  real emoji: skipped, {real_info['reason']}")

        starts = {}
        for name, group in {**gen_groups, **real_groups}.items():
            starts[name] = stats(start_psnr(default, group["images"], group["classes"], 0))

        groups = {**gen_groups, **real_groups}
        runs = []
        for space in ("w", "w+"):
            for n in sorted(set(steps) | set(real_steps)):
                chosen = {k: g for k, g in groups.items() if (n in steps if k in gen_groups else n in real_steps)}
                runs.append(quality_run(default, chosen, n, space))
                summary = ", ".join(f"{k} {v['psnr']['mean']:.2f} dB" for k, v in runs[-1]["groups"].items())
                log(f"  {space:>2} {n:>4} steps: {summary} ({runs[-1]['batch_seconds_per_step']:.3f} s per batch step)")

        # The same batch as the main run at comparison_steps in w+ (same targets, same w noise): the
        # default's row is that run's, the other losses run the batch again.
        comparison = []
        for name, weights in loss_configs(default.loss_weights, default.has_discriminator).items():
            same = [r for r in runs if r["space"] == "w+" and r["steps"] == comparison_steps and len(r["groups"]) == len(groups)]
            if weights == default.loss_weights and same:
                row = same[0]
            else:
                row = quality_run(Projector(artifact, loss_weights=weights), groups, comparison_steps, "w+")
            comparison.append({"loss": name, "weights": asdict(weights)} | row)
            log(f"  loss {name}: " + ", ".join(f"{k} {v['psnr']['mean']:.2f} dB" for k, v in row["groups"].items()))

        first = next(iter(gen_groups.values()))
        target, class_index = first["images"][0], first["classes"][0]
        timing = {"default": time_single(default, target, class_index, timing_steps)}
        if default.has_discriminator:
            timing["without D features"] = time_single(Projector(artifact, use_discriminator=False), target, class_index, timing_steps)
        pixel_only = Projector(artifact, loss_weights=loss_configs(default.loss_weights, False)["pixel"])
        timing["pixel only"] = time_single(pixel_only, target, class_index, timing_steps)
        for name, t in timing.items():
            log(f"  one target, {name}: {t['ms_per_step']} ms per step")

    finish_machine(cpu, machine)
    result = header(SCHEMA, created, started) | {
        "machine": machine,
        "torch_threads": torch.get_num_threads(),
        "parameters": {
            "seeds": seed_list,
            "psi": list(psis),
            "steps": list(steps),
            "real_images": real,
            "real_steps": list(real_steps),
            "comparison_steps": comparison_steps,
            "comparison_space": "w+",
            "timing_steps": timing_steps,
            "projection_seed": 0,
            "w_avg_samples": W_AVG_SAMPLES,
            "loss_weights": asdict(default.loss_weights),
            "pair_distance_pairs": PAIRS,
        },
        "model": model,
        "pair_distance": {name: round(g["pair_distance"], 4) for name, g in gen_groups.items()},
        "start_psnr": starts,
        "real": real_info,
        "runs": runs,
        "loss_comparison": comparison,
        "timing_one_target": timing,
    }
    return write_results(out, "bench-projection", created, result, summary_text(result), log)


def summary_text(result: dict) -> str:
    m = result["machine"]
    lines = [
        f"ganserve_bench projection {result['model']['name']} on {m['cpu_model']}, {m['usable_cpus']} cpus, "
        f"{result['torch_threads']} torch threads, commit {(m['git_commit'] or 'unknown')[:12]}",
        *contention(m),
        "",
        f"{'space':<6}{'steps':>6}  {'group':<22}{'PSNR dB':>9}{'W dist':>9}{'rel':>7}",
    ]
    for run in result["runs"]:
        for name, row in run["groups"].items():
            dist = row.get("w_distance", {}).get("mean")
            rel = row.get("w_distance_relative")
            lines.append(
                f"{run['space']:<6}{run['steps']:>6}  {name:<22}{row['psnr']['mean']:>9.2f}"
                f"{'' if dist is None else f'{dist:>9.2f}'}{'' if rel is None else f'{rel:>7.2f}'}"
            )
    lines.append("")
    for row in result["loss_comparison"]:
        lines.append(f"loss {row['loss']:<20} " + ", ".join(f"{k} {v['psnr']['mean']:.2f} dB" for k, v in row["groups"].items()))
    for name, t in result["timing_one_target"].items():
        lines.append(f"one target, {name}: {t['ms_per_step']} ms per step")
    return "\n".join(lines)
