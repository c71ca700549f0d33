"""`python -m ganserve_bench`: the benchmark commands (`make bench`, `make bench-triton`, `make bench-cache`, `make bench-grpc`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ganserve_bench.report import RESULTS

app = typer.Typer(help="ganserve's benchmarks: each writes a JSON result describing the machine.", no_args_is_help=True)
Out = Annotated[Path, typer.Option(help="results folder")]


def _levels(concurrency: str) -> list[int]:
    try:
        return [int(c) for c in concurrency.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated whole numbers, got {concurrency!r}", param_hint="--concurrency") from None


@app.command()
def server(
    model: Annotated[str, typer.Option(help="model name")] = "demo64",
    requests: Annotated[int, typer.Option(help="requests per concurrency level")] = 200,
    concurrency: Annotated[str, typer.Option(help="comma-separated levels")] = "1,8,32",
    out: Out = RESULTS,
    engine_seconds: Annotated[float, typer.Option(help="seconds per in-process engine and baseline loop")] = 2.0,
    http_seconds: Annotated[int, typer.Option(help="seconds per HTTP level (with wrk)")] = 8,
) -> None:
    """The server over HTTP, the bare engine and the eager-torch baseline: latency, throughput, RSS, time to ready."""
    from ganserve_bench.serving import run_benchmark

    path = run_benchmark(model, requests, _levels(concurrency), out, engine_seconds=engine_seconds, http_seconds=http_seconds)
    typer.echo(f"wrote {path}")


@app.command()
def triton(
    model: Annotated[str, typer.Option(help="model name")] = "demo64",
    requests: Annotated[int, typer.Option(help="requests per concurrency level and run")] = 400,
    concurrency: Annotated[str, typer.Option(help="comma-separated levels, for HTTP and the direct gRPC client")] = "1,8,32",
    out: Out = RESULTS,
    quick: Annotated[bool, typer.Option(help="40 requests per level, levels 1 and 32: a smoke run, not figures")] = False,
    http_seconds: Annotated[int, typer.Option(help="seconds per gateway HTTP level (with wrk)")] = 8,
) -> None:
    """Gateway on Triton vs Triton alone, Triton's dynamic batching on vs off, embedded vs Triton. Needs `make triton-env`."""
    from ganserve_bench.triton import run_triton_benchmark

    levels = [1, 32] if quick else _levels(concurrency)
    path = run_triton_benchmark(model, 40 if quick else requests, levels, out, http_seconds=1 if quick else http_seconds)
    typer.echo(f"wrote {path}")


@app.command()
def grpc(
    model: Annotated[str, typer.Option(help="model name")] = "demo64",
    concurrency: Annotated[str, typer.Option(help="comma-separated levels")] = "1,32",
    requests_c1: Annotated[int, typer.Option(help="requests at concurrency 1, per mode")] = 400,
    requests_per_worker: Annotated[int, typer.Option(help="above concurrency 1: requests per concurrent client, per mode")] = 40,
    out: Out = RESULTS,
) -> None:
    """gRPC raw tensors vs gRPC PNG vs HTTP PNG: p50/p99 of one-image requests at each concurrency level."""
    from ganserve_bench.grpc import run_grpc_benchmark

    typer.echo(f"wrote {run_grpc_benchmark(model, out, _levels(concurrency), requests_c1, requests_per_worker)}")


@app.command()
def cache(
    model: Annotated[str, typer.Option(help="model name")] = "demo64",
    concurrency: Annotated[str, typer.Option(help="comma-separated HTTP levels")] = "1,8",
    out: Out = RESULTS,
    http_seconds: Annotated[int, typer.Option(help="seconds per wrk run (a miss and a hit run per level and backend)")] = 6,
    w_lookups: Annotated[int, typer.Option(help="timed in-process w-cache hits per backend (a third as many misses)")] = 3000,
) -> None:
    """Cache hit vs miss, in-process LRU vs Redis: seed PNGs over HTTP (wrk) and w lookups in-process. Needs redis-server and wrk."""
    from ganserve_bench.cache import run_cache_benchmark

    path = run_cache_benchmark(model, out, concurrency=_levels(concurrency), http_seconds=http_seconds, w_lookups=w_lookups)
    typer.echo(f"wrote {path}")


@app.command()
def slider(
    model: Annotated[str, typer.Option(help="model name (a conditional one is asked for its first class)")] = "emoji32",
    requests: Annotated[int, typer.Option(help="requests per arm (plain, edited) and level")] = 200,
    concurrency: Annotated[str, typer.Option(help="comma-separated levels")] = "1,8",
    out: Out = RESULTS,
) -> None:
    """The slider path: an edited seed image over HTTP (a new strength each request) vs the same image unedited, and the edit in-process."""
    from ganserve_bench.slider import run_slider_benchmark

    typer.echo(f"wrote {run_slider_benchmark(model, out, requests, _levels(concurrency))}")


@app.command()
def training(
    data: Annotated[Path | None, typer.Option(help="the emoji dataset (`ganserve dataset emoji`); random images without it")] = Path(
        "var/data/emoji.npz"
    ),
    steps: Annotated[int, typer.Option(help="timed plain steps per size (and a quarter as many R1 steps)")] = 8,
    sizes: Annotated[str, typer.Option(help="RESOLUTIONxCHANNEL_MAX, comma-separated")] = "32x64,32x128,64x64,64x128",
    threads: Annotated[int, typer.Option(help="torch threads; 0: torch's default")] = 0,
    out: Out = RESULTS,
) -> None:
    """`ganserve train`'s step (G and D forward and backward, batch 32, lazy R1): images/s at the demo model's budget sizes."""
    from ganserve_bench.training import run_training_benchmark

    try:
        parsed = [(int(r), int(c)) for r, c in (size.split("x") for size in sizes.split(","))]
    except ValueError:
        raise typer.BadParameter(f"expected sizes like 32x64,64x128, got {sizes!r}", param_hint="--sizes") from None
    typer.echo(f"wrote {run_training_benchmark(out, data, steps, parsed, threads)}")


def _numbers(value: str, option: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated whole numbers, got {value!r}", param_hint=option) from None


@app.command()
def projection(
    data: Annotated[Path | None, typer.Option(help="the emoji dataset, for the real targets; skipped without it")] = Path(
        "var/data/emoji.npz"
    ),
    seeds: Annotated[int, typer.Option(help="held-out seeds, each generated at every psi")] = 6,
    steps: Annotated[str, typer.Option(help="step counts for the generated targets, comma-separated")] = "25,50,100,200,400",
    real: Annotated[int, typer.Option(help="real emoji targets (0: none)")] = 8,
    real_steps: Annotated[str, typer.Option(help="step counts for the real targets")] = "25,50,100,200",
    comparison_steps: Annotated[int, typer.Option(help="steps of the loss comparison (w+)")] = 100,
    timing_steps: Annotated[int, typer.Option(help="steps of the one-target timing runs")] = 50,
    threads: Annotated[int, typer.Option(help="torch threads; 0: torch's default")] = 1,
    out: Out = RESULTS,
) -> None:
    """Projection on emoji32 with its D: PSNR and W distance against steps, real emoji, the loss comparison, time per step."""
    from ganserve_bench.projection import run_projection_benchmark

    path = run_projection_benchmark(
        out,
        data,
        seeds=seeds,
        steps=_numbers(steps, "--steps"),
        real=real,
        real_steps=_numbers(real_steps, "--real-steps"),
        comparison_steps=comparison_steps,
        timing_steps=timing_steps,
        threads=threads,
    )
    typer.echo(f"wrote {path}")


@app.command()
def playground(
    model: Annotated[str, typer.Option(help="model name")] = "emoji32",
    loads: Annotated[int, typer.Option(help="fresh page loads timed to a full seed grid")] = 5,
    drags: Annotated[int, typer.Option(help="slider drags timed to the new image shown")] = 20,
    out: Out = RESULTS,
) -> None:
    """The playground in headless chromium: first render of a 24-thumbnail seed grid, and a slider drag's image update (p50/p99)."""
    from ganserve_bench.playground import run_playground_benchmark

    typer.echo(f"wrote {run_playground_benchmark(model, out, loads, drags)}")


@app.command()
def encode(
    sizes: Annotated[str, typer.Option(help="comma-separated image sides")] = "256,512,1024",
    repeats: Annotated[int, typer.Option(help="timed runs per case and size (the median is reported)")] = 7,
    model: Annotated[str, typer.Option(help="the model whose images are upscaled; '' for none")] = "emoji32",
    data: Annotated[Path | None, typer.Option(help="the emoji dataset, upscaled too; skipped where missing")] = Path("var/data/emoji.npz"),
    pool: Annotated[bool, typer.Option(help="also time the server's encode pool (GANSERVE_ENCODE_THREADS)")] = True,
    out: Out = RESULTS,
) -> None:
    """PNG levels 0-9, JPEG q90 (Pillow, simplejpeg), WebP methods 0-6 and lossless at 256², 512², 1024²: ms and bytes per image."""
    from ganserve_bench.encode import run_encode_benchmark

    try:
        parsed = [int(s) for s in sizes.split(",")]
    except ValueError:
        raise typer.BadParameter(f"expected comma-separated whole numbers, got {sizes!r}", param_hint="--sizes") from None
    typer.echo(f"wrote {run_encode_benchmark(out, parsed, repeats, model or None, data, pool)}")


@app.command()
def openvino(
    networks: Annotated[str, typer.Option(help="comma-separated: official64 (built here), committed models")] = "official64,demo64",
    batches: Annotated[str, typer.Option(help="comma-separated batch sizes")] = "1,8",
    seconds: Annotated[float, typer.Option(help="timed seconds per engine and batch size, over all rounds")] = 6.0,
    rounds: Annotated[int, typer.Option(min=1, help="interleaved rounds (the median is reported)")] = 3,
    quality_seeds: Annotated[int, typer.Option(min=1, help="seeds for fast-vs-exact quality")] = 64,
    out: Out = RESULTS,
) -> None:
    """ONNX Runtime vs OpenVINO exact (f32) vs fast (bf16 where the CPU has it): img/s at batch 1 and 8, and fast-vs-exact quality."""
    from ganserve_bench.openvino import run_openvino_benchmark

    chosen = tuple(n for n in networks.split(",") if n)
    typer.echo(f"wrote {run_openvino_benchmark(out, chosen, tuple(_levels(batches)), seconds, rounds, quality_seeds)}")


@app.command()
def overload(
    concurrency: Annotated[int, typer.Option(help="closed-loop clients")] = 32,
    seconds: Annotated[float, typer.Option(help="counted seconds per server (after 5 s of warm-up)")] = 45.0,
    deadline_ms: Annotated[int, typer.Option(help="X-Deadline-Ms of the bounded run (a product app's budget)")] = 750,
    out: Out = RESULTS,
    small: Annotated[bool, typer.Option(help="the demo model's sizes instead of official ones: a smoke run, not figures")] = False,
) -> None:
    """Bounded latency under overload: an official-size network, the user's alternative vs ganserve with and without a deadline."""
    from ganserve_bench.overload import run_overload_benchmark

    typer.echo(f"wrote {run_overload_benchmark(concurrency, seconds, deadline_ms, out, small)}")


if __name__ == "__main__":
    app()
