"""`python -m ganserve_bench encode`: what encoding one image costs at high resolution, in ms and bytes.

PNG at every zlib level (and level 1 with zlib's RLE strategy, a fast path), JPEG at quality 90
(Pillow, and simplejpeg where installed), WebP lossy at quality 90 with every method and WebP
lossless at its two fastest presets, at 256², 512² and 1024². Then the server's own encoder
(ganserve.encode.encode_image, with the current settings) for each format: one thread, and the
encode pool (GANSERVE_ENCODE_THREADS threads) over a batch, which is what bounds a server whose
engine is faster than its encoder (a GPU).

The content is what the server makes, not noise: images of the emoji32 model (32², through the
ONNX Runtime engine) and, where var/data/emoji.npz exists, emoji of the training set (64²), each
upscaled with Lanczos. Upscaled, they are smoother than a network's own 1024² output (no fine
texture), so their bytes are lower than a real 1024² model's and so, for PNG, are the ms.

Each figure is the median over runs of the ms per image (a run encodes every content image once),
the mean bytes per image and, for the lossy cases, the mean PSNR of the decoded image (so that
sizes at one quality setting can be compared: libwebp's methods do not all reach the same PSNR).
"""

from __future__ import annotations

import io
import statistics
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import PIL
from PIL import Image, features

from ganserve.encode import encode_image
from ganserve.protocol import ImageFormat
from ganserve.settings import Settings
from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.report import contention, header, write_results

SCHEMA = "ganserve-bench-encode/1"
SIZES = (256, 512, 1024)
SOURCES = ("model", "dataset")
MODEL_SEEDS = ((1, 0),)  # (seed, class) of the model images
QUALITY = 90


@dataclass(frozen=True)
class Case:
    """One encoder configuration: family groups the cases compared with each other (Pareto front)."""

    name: str
    family: str
    encoder: str
    params: dict[str, Any] = field(default_factory=dict)

    def encode(self, image: Image.Image, array: np.ndarray) -> bytes:
        if self.encoder == "simplejpeg":
            import simplejpeg

            return simplejpeg.encode_jpeg(array, **self.params)
        out = io.BytesIO()
        image.save(out, self.encoder, **self.params)
        return out.getvalue()


def cases(simplejpeg: bool) -> list[Case]:
    found = [Case(f"png level {level}", "png", "PNG", {"compress_level": level}) for level in range(10)]
    found.append(Case("png level 1, zlib RLE", "png", "PNG", {"compress_level": 1, "compress_type": zlib.Z_RLE}))
    found.append(Case(f"jpeg q{QUALITY} pillow", "jpeg", "JPEG", {"quality": QUALITY}))
    if simplejpeg:  # 4:2:0 as Pillow's default, so that both make the same kind of file
        found.append(Case(f"jpeg q{QUALITY} simplejpeg", "jpeg", "simplejpeg", {"quality": QUALITY, "colorsubsampling": "420"}))
    found += [Case(f"webp q{QUALITY} method {m}", "webp", "WEBP", {"quality": QUALITY, "method": m}) for m in range(7)]
    # libwebp's lossless presets -z 0 and -z 1 (method, quality = effort): the fast ones.
    found.append(Case("webp lossless -z 0", "webp lossless", "WEBP", {"lossless": True, "method": 0, "quality": 0}))
    found.append(Case("webp lossless -z 1", "webp lossless", "WEBP", {"lossless": True, "method": 1, "quality": 20}))
    return found


def has_simplejpeg() -> str | None:
    try:
        import simplejpeg
    except ImportError:
        return None
    return str(simplejpeg.__version__)


def model_images(model: str, settings: Settings, seeds: tuple[tuple[int, int], ...] = MODEL_SEEDS) -> np.ndarray:
    """The model's own images (uint8 [N, r, r, 3]), as a seed URL makes them: const noise, no truncation."""
    from ganserve import latents
    from ganserve.artifacts import find_artifact
    from ganserve.engines.onnxruntime import OnnxRuntimeEngine

    artifact = find_artifact(settings.models_dir, model)
    config = artifact.config
    engine = OnnxRuntimeEngine(artifact, settings)
    try:
        z = latents.seeds_to_z([seed for seed, _ in seeds], config.z_dim)
        c = latents.one_hot([cls if config.c_dim else None for _, cls in seeds], config.c_dim)
        ws = latents.broadcast_ws(engine.map(z, c), config.num_ws)
        return np.asarray(engine.synthesize(ws, np.ones([len(seeds)], np.float32)))
    finally:
        engine.close()


def content(model: str | None, data: Path | None, settings: Settings) -> tuple[list[np.ndarray], list[dict]]:
    """The source images and what each is; the dataset's is skipped (and said so) where its file is missing."""
    images, described = [], []
    if model is not None:
        for (seed, cls), image in zip(MODEL_SEEDS, model_images(model, settings), strict=True):
            images.append(image)
            described.append({"source": "model", "model": model, "seed": seed, "class": cls, "resolution": image.shape[0]})
    if data is not None:
        if data.exists():
            with np.load(data, allow_pickle=False) as npz:
                index = int(np.flatnonzero(npz["labels"] == 0)[0])  # the first emoji of the first class
                images.append(npz["images"][index])
                described.append(
                    {"source": "dataset", "path": str(data), "index": index, "name": str(npz["names"][index]), "resolution": 64}
                )
        else:
            described.append({"source": "dataset", "path": str(data), "skipped": "file missing (`ganserve dataset emoji` makes it)"})
    if not images:
        raise ValueError("no content: give a model or a dataset file that exists")
    return images, described


def upscale(images: list[np.ndarray], size: int) -> list[np.ndarray]:
    return [np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.LANCZOS)) for image in images]


def one_run(encode: Callable[[int], bytes], n: int) -> tuple[float, list[bytes]]:
    """One run: images 0..n-1 encoded once each; ms per image and the encoded images."""
    start = time.perf_counter()
    encoded = [encode(i) for i in range(n)]
    return (time.perf_counter() - start) * 1000 / n, encoded


def time_runs(encode: Callable[[int], bytes], n: int, repeats: int) -> tuple[list[float], list[int]]:
    """ms per image of each run after one warm-up encode; bytes of each image."""
    encode(0)
    runs = [one_run(encode, n) for _ in range(repeats)]
    return [ms for ms, _ in runs], [len(data) for data in runs[0][1]]


def psnr_db(original: np.ndarray, data: bytes) -> float | None:
    """The decoded image's PSNR against the original in dB (RGB, peak 255); None where it is exact."""
    decoded = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
    mse = float(np.mean((decoded - original.astype(np.float64)) ** 2))
    return None if mse == 0 else round(10 * np.log10(255**2 / mse), 2)


def measure_cases(all_cases: list[Case], arrays: list[np.ndarray], repeats: int) -> list[dict]:
    """Every case at one size, the runs interleaved (run r of every case, then run r + 1), so that a
    burst of load from other processes falls on all of them rather than on one."""
    pils = [Image.fromarray(a) for a in arrays]
    encoders = [lambda i, case=case: case.encode(pils[i], arrays[i]) for case in all_cases]
    encoded = [[encode(i) for i in range(len(arrays))] for encode in encoders]  # warm-up, and the bytes
    runs: list[list[float]] = [[] for _ in all_cases]
    for _ in range(repeats):
        for case_runs, encode in zip(runs, encoders, strict=True):
            case_runs.append(one_run(encode, len(arrays))[0])
    rows = []
    for case, case_runs, data in zip(all_cases, runs, encoded, strict=True):
        sizes = [len(d) for d in data]
        psnr = [psnr_db(a, d) for a, d in zip(arrays, data, strict=True)]
        rows.append(
            {
                "case": case.name,
                "family": case.family,
                "encoder": "simplejpeg" if case.encoder == "simplejpeg" else f"pillow {case.encoder}",
                "params": case.params,
                "size": arrays[0].shape[0],
                "ms_per_image": round(statistics.median(case_runs), 3),
                "ms_runs": [round(r, 3) for r in case_runs],
                "bytes_per_image": round(statistics.fmean(sizes)),
                "bytes_by_image": sizes,
                "psnr_db": None if None in psnr else round(statistics.fmean(p for p in psnr if p is not None), 2),
            }
        )
    return rows


def mark_pareto(rows: list[dict]) -> None:
    """pareto: no other case of its family at its size is both faster and smaller."""
    for row in rows:
        rivals = [r for r in rows if r is not row and r["family"] == row["family"] and r["size"] == row["size"]]
        row["pareto"] = not any(
            r["ms_per_image"] <= row["ms_per_image"]
            and r["bytes_per_image"] <= row["bytes_per_image"]
            and (r["ms_per_image"], r["bytes_per_image"]) != (row["ms_per_image"], row["bytes_per_image"])
            for r in rivals
        )


def server_encoder(arrays: list[np.ndarray], fmt: ImageFormat, settings: Settings, repeats: int, pool: bool) -> dict:
    """ganserve.encode.encode_image as the server calls it: one thread, then the encode pool on a batch
    of 2 x encode_threads images (every thread busy), wall ms per image."""
    runs, sizes = time_runs(lambda i: encode_image(arrays[i], fmt, settings), len(arrays), repeats)
    found: dict[str, Any] = {
        "format": fmt.value,
        "size": arrays[0].shape[0],
        "ms_per_image": round(statistics.median(runs), 3),
        "bytes_per_image": round(statistics.fmean(sizes)),
    }
    found["images_per_s_one_thread"] = round(1000 / found["ms_per_image"], 1)
    if pool:
        threads = settings.encode_threads
        batch = [arrays[i % len(arrays)] for i in range(2 * threads)]
        with ThreadPoolExecutor(threads, thread_name_prefix="encode") as executor:
            list(executor.map(lambda a: encode_image(a, fmt, settings), batch))  # warm-up: threads started
            walls = []
            for _ in range(repeats):
                start = time.perf_counter()
                list(executor.map(lambda a: encode_image(a, fmt, settings), batch))
                walls.append((time.perf_counter() - start) * 1000 / len(batch))
        pool_ms = statistics.median(walls)
        found["pool"] = {
            "threads": threads,
            "batch": len(batch),
            "ms_per_image": round(pool_ms, 3),
            "images_per_s": round(1000 / pool_ms, 1),
        }
    return found


def encoder_settings(settings: Settings) -> dict:
    names = ("png_compress_level", "jpeg_quality", "webp_quality", "webp_method", "encode_threads")
    return settings.model_dump(mode="json", include=set(names))


def libraries() -> dict:
    return {
        "pillow": PIL.__version__,
        "zlib": features.version("zlib"),
        "libjpeg": features.version("jpg"),
        "libjpeg_turbo": features.version_feature("libjpeg_turbo"),
        "libwebp": features.version("webp"),
        "simplejpeg": has_simplejpeg(),
    }


def model_encode_budget(model: str, settings: Settings, engine_ms_per_image: dict[str, float], repeats: int = 5) -> dict:
    """For the engine benchmark: the default format's (PNG's) encode ms per image at the model's
    resolution, one thread and the pool, next to the engine's ms per image for each batch size."""
    images = list(model_images(model, settings, ((1, 0), (2, 0))))
    found = server_encoder(images, ImageFormat.png, settings, repeats, pool=True)
    found["png_compress_level"] = settings.png_compress_level
    found["engine_ms_per_image"] = engine_ms_per_image
    found["encode_over_engine"] = {batch: round(found["ms_per_image"] / ms, 3) if ms else None for batch, ms in engine_ms_per_image.items()}
    return found


def _kib(n: int) -> str:
    return f"{n / 1024:.0f}K" if n >= 10240 else f"{n / 1024:.1f}K"


def table(rows: list[dict], sizes: tuple[int, ...] | list[int]) -> list[str]:
    """One line per case: ms, bytes (and a lossy case's PSNR) per image at each size; * marks the Pareto front of its family."""
    width, cell_width = 26, 27
    lines = [f"{'case':<{width}}" + "".join(f"{f'{s}² ms / bytes / dB':>{cell_width}}" for s in sizes)]
    for name in dict.fromkeys(r["case"] for r in rows):
        cells = []
        for size in sizes:
            row = next(r for r in rows if r["case"] == name and r["size"] == size)
            psnr = "" if row["psnr_db"] is None else f" / {row['psnr_db']:.1f}"
            cell = f"{row['ms_per_image']:.1f} / {_kib(row['bytes_per_image'])}{psnr}{'*' if row['pareto'] else ' '}"
            cells.append(f"{cell:>{cell_width}}")
        lines.append(f"{name:<{width}}" + "".join(cells))
    return lines


def run_encode_benchmark(
    out: Path,
    sizes: tuple[int, ...] | list[int] = SIZES,
    repeats: int = 7,
    model: str | None = "emoji32",
    data: Path | None = Path("var/data/emoji.npz"),
    pool: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    if repeats < 1 or not sizes or min(sizes) < 1:
        raise ValueError("repeats and every size must be at least 1")
    created, started = datetime.now(UTC), time.perf_counter()
    cpu, machine = measure_machine(log)
    settings = Settings()
    sources, described = content(model, data, settings)
    log(f"  content: {', '.join(d['source'] + (' (skipped)' if 'skipped' in d else '') for d in described)}")
    all_cases = cases(has_simplejpeg() is not None)
    rows, server = [], []
    for size in sizes:
        arrays = upscale(sources, size)
        rows += measure_cases(all_cases, arrays, repeats)
        for fmt in ImageFormat:
            server.append(server_encoder(arrays, fmt, settings, repeats, pool))
        png = next(s for s in server if s["size"] == size and s["format"] == "png")
        log(f"  {size}²: {len(all_cases)} cases; server PNG (level {settings.png_compress_level}) {png['ms_per_image']} ms")
    mark_pareto(rows)
    finish_machine(cpu, machine)
    result = header(SCHEMA, created, started) | {
        "machine": machine,
        "libraries": libraries(),
        "parameters": {"sizes": list(sizes), "repeats": repeats, "pool": pool, "settings": encoder_settings(settings)},
        "content": {
            "images": described,
            "upscaling": "Pillow Lanczos from the source resolution to each size",
            "note": "smoother than a network's own output at that size: bytes (and PNG's ms) are lower than a real 1024² model's",
        },
        "statistic": (
            "ms_per_image: median over runs of one run's ms / images (a run encodes each content image once, the runs of all"
            " cases interleaved); bytes_per_image: mean; psnr_db: mean over the images, null when lossless"
        ),
        "cases": rows,
        "server_encoder": server,
    }
    commit = (machine["git_commit"] or "unknown")[:12]
    lines = [
        f"ganserve_bench encode on {machine['cpu_model']} ({', '.join(machine['cpu_vector_flags'] or [])}), "
        f"{machine['usable_cpus']} cpus, commit {commit}{' (dirty)' if machine['git_dirty'] else ''}",
        f"content: {'; '.join(_describe(d) for d in described)}, upscaled (Lanczos); median of {repeats} runs, one thread",
        *table(rows, sizes),
        "* no other case of its family is both faster and smaller at that size",
        "",
        "server encoder (ganserve.encode, current settings "
        + ", ".join(f"{k}={v}" for k, v in encoder_settings(settings).items())
        + "): ms per image, one thread"
        + (" / encode pool" if pool else ""),
    ]
    for fmt in ImageFormat:
        cells = []
        for s in (s for s in server if s["format"] == fmt.value):
            pool_part = f" / {s['pool']['ms_per_image']:.1f}" if "pool" in s else ""
            cells.append(f"{s['size']}² {s['ms_per_image']:.1f}{pool_part} ms {_kib(s['bytes_per_image'])}")
        lines.append(f"  {fmt.value:<5}" + ";  ".join(cells))
    lines += contention(machine)
    return write_results(out, "bench-encode", created, result, "\n".join(lines), log)


def _describe(d: dict) -> str:
    if "skipped" in d:
        return f"dataset skipped ({d['path']} missing)"
    if d["source"] == "model":
        return f"{d['model']} seed {d['seed']} class {d['class']} ({d['resolution']}²)"
    return f"emoji dataset #{d['index']} {d['name']} ({d['resolution']}²)"
