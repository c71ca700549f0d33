"""The `ganserve` command: serve, compile, demo, bench."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from ganserve.settings import get_settings

app = typer.Typer(help="ganserve: a real-time inference server for StyleGAN-style generators.", no_args_is_help=True)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: GANSERVE_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: GANSERVE_PORT")] = None,
) -> None:
    """Start the HTTP server with the engine chosen by GANSERVE_ENGINE."""
    import uvicorn

    from ganserve.api.app import create_app

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port, log_level="info", access_log=False)


@app.command()
def compile(
    model_dir: Annotated[Path, typer.Argument(help="a model directory: generator.json + generator.safetensors")],
    repository: Annotated[Path | None, typer.Option(help="default: GANSERVE_MODEL_REPOSITORY")] = None,
) -> None:
    """Export mapping and synthesis to ONNX model-repository entries (needs the torch extra)."""
    from ganserve.artifacts import Artifact
    from ganserve.generator.export import export_onnx

    for path in export_onnx(Artifact(model_dir), repository or get_settings().model_repository):
        typer.echo(f"wrote {path}")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument()] = Path("models/demo64"),
    seed: int = 0,
) -> None:
    """Create the random-initialised 64x64 demo model (then run `ganserve compile`)."""
    from ganserve.generator.demo import make_demo

    artifact = make_demo(directory, name=directory.name, seed=seed)
    typer.echo(f"wrote {artifact.directory} ({artifact.digest[:12]})")


@app.command()
def bench(
    model: Annotated[str, typer.Option(help="model name")] = "demo64",
    requests: Annotated[int, typer.Option(help="requests per concurrency level")] = 200,
    concurrency: Annotated[str, typer.Option(help="comma-separated levels")] = "1,8,32",
    out: Annotated[Path, typer.Option(help="results folder")] = Path("benchmarks/results"),
    engine_seconds: Annotated[float, typer.Option(help="seconds per in-process engine and baseline loop")] = 2.0,
) -> None:
    """Measure latency, throughput, RSS and time to ready; write JSON results describing the machine."""
    from ganserve.bench import run_benchmark

    path = run_benchmark(model, requests, [int(c) for c in concurrency.split(",")], out, engine_seconds=engine_seconds)
    typer.echo(f"wrote {path}")
