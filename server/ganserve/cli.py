"""The `ganserve` command: serve, keys, compile, import, triton, demo, dataset and train (the benchmarks are in benchmarks/)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from ganserve.access.cli import keys_app
from ganserve.repository import Target
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
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=False,
        ssl_certfile=settings.tls_cert_file,  # None: plain HTTP
        ssl_keyfile=settings.tls_key_file,
    )


@app.command()
def worker(
    name: Annotated[str, typer.Option(help="this worker's name in the job queue; default: host and pid")] = "",
    parent_pid: Annotated[int | None, typer.Option(help="stop when this process is gone (the embedded gateway's own workers)")] = None,
) -> None:
    """Run projection jobs from the queue the gateways fill (GANSERVE_REDIS_STORE_URL, else GANSERVE_JOBS_PATH)."""
    import socket

    from ganserve.worker import run_worker

    run_worker(get_settings(), name or f"{socket.gethostname()}-{os.getpid()}", parent_pid)


@app.command()
def compile(
    model_dir: Annotated[Path, typer.Argument(help="a model directory: generator.json + generator.safetensors")],
    target: Annotated[list[Target] | None, typer.Option(help="repeat for several; default: all of them")] = None,
    repository: Annotated[Path | None, typer.Option(help="default: GANSERVE_MODEL_REPOSITORY")] = None,
    max_batch_size: int = 32,
    max_queue_delay_us: Annotated[int, typer.Option(help="Triton dynamic batching delay")] = 1000,
    instances: Annotated[int, typer.Option(help="Triton instances per graph")] = 1,
    keep_versions: Annotated[
        int, typer.Option(min=1, help="compiled versions kept: new weights become a new version beside the previous one (rollouts)")
    ] = 2,
) -> None:
    """Export to ONNX and write Triton model-repository entries (needs the torch extra)."""
    from ganserve.artifacts import Artifact
    from ganserve.compile import compile_model
    from ganserve.triton import tensorrt
    from ganserve.triton.config import BatchingOptions

    targets = target or list(Target)
    options = BatchingOptions(max_batch_size=max_batch_size, max_queue_delay_us=max_queue_delay_us, instances=instances)
    root = repository or get_settings().model_repository
    for path in compile_model(Artifact(model_dir), root, targets, options, keep_versions):
        typer.echo(f"wrote {path}")
    if Target.tensorrt in targets and not tensorrt.available():
        typer.echo(f"tensorrt: configs and build script written, engines not built. {tensorrt.UNAVAILABLE_REASON}")


@app.command()
def directions(
    model_dir: Annotated[Path, typer.Argument(help="a model directory: generator.json + generator.safetensors")],
    samples: Annotated[int, typer.Option(min=1000, help="w sampled for GANSpace and the scales")] = 100_000,
) -> None:
    """Compute the model's latent directions (GANSpace, SeFa, class) beside its weights; `compile` does this too."""
    from ganserve.artifacts import Artifact
    from ganserve.generator.sampling import compute_directions

    typer.echo(f"wrote {compute_directions(Artifact(model_dir), samples)}")


@app.command("import")
def import_(
    pkl: Annotated[Path, typer.Argument(help="an NVlabs network-snapshot-*.pkl (stylegan2-ada-pytorch or stylegan3)")],
    name: Annotated[str, typer.Option(help="model name: the directory under --models-dir and the API name")],
    models_dir: Annotated[Path | None, typer.Option(help="default: GANSERVE_MODELS_DIR")] = None,
    compile_: Annotated[bool, typer.Option("--compile/--no-compile", help="then compile for all targets, as `ganserve compile`")] = True,
    repository: Annotated[Path | None, typer.Option(help="for --compile; default: GANSERVE_MODEL_REPOSITORY")] = None,
    force: Annotated[bool, typer.Option(help="replace an existing model directory of that name")] = False,
) -> None:
    """Import an NVlabs snapshot pickle without executing it: its G_ema becomes safetensors + JSON."""
    from ganserve.artifacts import CONFIG_FILE
    from ganserve.importer import ImporterError, import_pickle

    settings = get_settings()
    try:
        result = import_pickle(pkl, name, models_dir or settings.models_dir, force=force)
    except ImporterError as exc:
        typer.echo(f"{type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None
    artifact, details = result.artifact, result.network.config.source.details
    cfg = artifact.config
    typer.echo(f"imported {result.network.network} from {pkl.name} (sha256 {details['sha256']})")
    typer.echo(f"wrote {artifact.directory / CONFIG_FILE}")
    typer.echo(f"wrote {artifact.weights_path}")
    conditional = f", {cfg.c_dim} classes" if cfg.c_dim else ""
    typer.echo(
        f"model {cfg.name}: {cfg.architecture} {cfg.resolution}x{cfg.resolution}{conditional}, z {cfg.z_dim}, w {cfg.w_dim}, "
        f"{cfg.num_ws} ws, mapping {cfg.mapping.num_layers} layers; digest {artifact.digest[:12]}"
    )
    typer.echo(
        f"provenance: NVlabs {details['class_name']} ({details['family']}), module_src sha256 {details['module_src_sha256'][:12]} "
        f"(not executed), num_fp16_res {details['num_fp16_res']} (served in fp32)"
    )
    for note in result.network.notes:
        typer.echo(f"note: {note}")
    if compile_:
        _compile_imported(artifact, repository or settings.model_repository)


def _compile_imported(artifact, repository: Path) -> None:
    """`ganserve compile` with its defaults: all targets, default batching."""
    from ganserve.compile import compile_model
    from ganserve.triton import tensorrt
    from ganserve.triton.config import BatchingOptions

    try:
        written = compile_model(artifact, repository, list(Target), BatchingOptions())
    except Exception as exc:  # the import stands; say how to retry instead of printing a traceback
        typer.echo(
            f"compile failed ({type(exc).__name__}: {exc}); the model is imported, retry with `ganserve compile {artifact.directory}`",
            err=True,
        )
        raise typer.Exit(1) from None
    for path in written:
        typer.echo(f"wrote {path}")
    if not tensorrt.available():
        typer.echo(f"tensorrt: configs and build script written, engines not built. {tensorrt.UNAVAILABLE_REASON}")


app.add_typer(keys_app, name="keys")

dataset_app = typer.Typer(help="Build training datasets.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@dataset_app.command("emoji")
def dataset_emoji(
    out: Annotated[Path, typer.Option(help="the .npz to write (never commit it)")] = Path("var/data/emoji.npz"),
) -> None:
    """Noto Emoji and Twemoji 64x64 PNGs (npm emoji-datasource-*), on white, labelled by category."""
    from ganserve.training.dataset import build_emoji_dataset

    dataset = build_emoji_dataset(out)
    typer.echo(
        f"wrote {out}: {len(dataset)} images {dataset.images.shape[1]}x{dataset.images.shape[2]}, {len(dataset.class_names)} classes"
    )


@app.command()
def train(
    data: Annotated[Path, typer.Option(help="a dataset .npz from `ganserve dataset`")] = Path("var/data/emoji.npz"),
    run_dir: Annotated[Path, typer.Option(help="metrics, samples, snapshots and the resume checkpoint; resumes if one is there")] = Path(
        "var/runs/emoji32"
    ),
    kimg: Annotated[float, typer.Option(help="train until this many thousand real images have been shown (across resumes)")] = 500,
    checkpoint_minutes: Annotated[float, typer.Option(help="minutes between checkpoints")] = 10,
    threads: Annotated[int, typer.Option(help="torch CPU threads; 0: torch's default")] = 0,
) -> None:
    """Train a conditional StyleGAN2 (G, D, G_ema) on CPU or GPU; resumable; see docs/training.md."""
    from ganserve.training.cli import run_training

    run_training(data, run_dir, kimg, checkpoint_minutes, threads)


@app.command()
def evaluate(
    data: Annotated[Path, typer.Option(help="the dataset the run was trained on")] = Path("var/data/emoji.npz"),
    run_dir: Annotated[Path, typer.Option(help="a run directory of `ganserve train`")] = Path("runs/emoji32"),
) -> None:
    """Fréchet distance (vs its real-vs-real floor) and class accuracy for every snapshot not yet evaluated."""
    import json

    from ganserve.training.dataset import load_dataset
    from ganserve.training.evaluate import evaluate_run

    evaluate_run(run_dir, load_dataset(data), log=lambda record: typer.echo(json.dumps(record)))


@app.command("export-run")
def export_run(
    run_dir: Annotated[Path, typer.Option(help="a run directory of `ganserve train`")] = Path("runs/emoji32"),
    snapshot: Annotated[Path | None, typer.Option(help="default: the latest in RUN_DIR/snapshots")] = None,
    data: Annotated[Path, typer.Option(help="the dataset the run was trained on (for its class names)")] = Path("var/data/emoji.npz"),
    models_dir: Annotated[Path | None, typer.Option(help="default: GANSERVE_MODELS_DIR")] = None,
    discriminator: Annotated[
        bool, typer.Option(help="also keep the run's latest D (RUN_DIR/resume.safetensors) for image projection's features")
    ] = True,
) -> None:
    """A training snapshot's G_ema -> a model directory with a model card (then `ganserve compile` it)."""
    from ganserve.training.dataset import load_dataset
    from ganserve.training.export import export_snapshot, latest_snapshot

    class_names = list(load_dataset(data).class_names)
    models = models_dir or get_settings().models_dir
    artifact = export_snapshot(run_dir, snapshot or latest_snapshot(run_dir), models, class_names, discriminator=discriminator)
    kept = artifact.discriminator
    if kept is not None:
        typer.echo(f"kept the discriminator at {kept.source.details['kimg']:g} kimg (for projection only)")
    elif discriminator:
        typer.echo(f"no discriminator kept: {run_dir} has no resume checkpoint")
    typer.echo(f"wrote {artifact.directory} ({artifact.digest[:12]}); next: ganserve compile {artifact.directory}")


@app.command()
def triton(
    grpc_port: int = 8001,
    http_port: int = 8000 + 10,
    metrics_port: int = 8002 + 10,
    workdir: Annotated[Path, typer.Option(help="backend directory and log")] = Path("/tmp/ganserve-triton"),
) -> None:
    """Run tritonserver here on the CPU (python target), until Ctrl-C. Needs `make triton-env`.

    Then, in another shell: GANSERVE_ENGINE=triton GANSERVE_TRITON_URL=127.0.0.1:8001 make serve
    """
    from ganserve.triton.local import LocalTriton

    settings = get_settings()
    server = LocalTriton(settings.model_repository / Target.python, workdir, settings.triton_env, http_port, grpc_port, metrics_port)
    server.start()
    typer.echo(f"tritonserver ready: gRPC {server.grpc_url}, HTTP :{http_port}, metrics :{metrics_port}; log {server.log_path}")
    try:
        if server.process is not None:
            server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument()] = Path("models/demo64"),
    seed: int = 0,
) -> None:
    """Create the random-initialised 64x64 demo model (then run `ganserve compile`)."""
    from ganserve.generator.demo import make_demo

    artifact = make_demo(directory, name=directory.name, seed=seed)
    typer.echo(f"wrote {artifact.directory} ({artifact.digest[:12]})")
