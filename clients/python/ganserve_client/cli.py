"""ganserve-client: generate, interpolate and mix from the shell, over HTTP or gRPC.

ganserve-client generate --seeds 1-8 --psi 0.7 --out out/
ganserve-client --url grpc://127.0.0.1:50051 interpolate --keyframes 1,2,3 --frames 48 --loop --out walk/
ganserve-client mix --rows 1,2 --columns 3-5 --layers coarse --out mix/
ganserve-client directions demo64
ganserve-client generate --seeds 1-4 --edit ganspace-0:2.5@coarse --out edited/
ganserve-client children --parent 42 --count 8 --spread 0.5 --grid --out kids/
ganserve-client project photo.png --steps 300 --out reconstruction.png
GANSERVE_API_KEY=gsk_... ganserve-client --url grpcs://gan.example.com:443 generate --seeds 1-4 --out out/
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ganserve_client.client import Client
from ganserve_client.errors import GanserveError
from ganserve_client.types import Edit, ImageFormat, Latent, Noise, Space

app = typer.Typer(help="Generate images with a ganserve server, over HTTP or gRPC.", no_args_is_help=True)
console = Console(stderr=True)


def parse_ints(spec: str) -> list[int]:
    """'1-4,7,9-10' -> [1, 2, 3, 4, 7, 9, 10]."""
    values: list[int] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        low, sep, high = part.partition("-")
        if not low.isdigit() or (sep and not high.isdigit()):
            raise typer.BadParameter(f"{part!r}: use numbers and ranges like 1-8,12")
        values.extend(range(int(low), int(high) + 1) if sep else [int(low)])
    if not values:
        raise typer.BadParameter("give at least one number")
    return values


def parse_edit(spec: str) -> Edit:
    """'ganspace-3:2.5@coarse' -> Edit('ganspace-3', 2.5, 'coarse'); '@LAYERS' may be left out."""
    usage = "use DIRECTION:STRENGTH[@LAYERS], e.g. ganspace-3:2.5 or ganspace-3:-1@0-3"
    direction, colon, rest = spec.strip().partition(":")
    strength_text, at, layers = rest.partition("@")
    try:
        strength = float(strength_text)
    except ValueError:
        strength = math.nan
    if not direction or not colon or not math.isfinite(strength) or (at and not layers.strip()):
        raise typer.BadParameter(f"{spec!r}: {usage}", param_hint="--edit")
    return Edit(direction.strip(), strength, layers.strip() if at else None)


def parse_parent(spec: str) -> Latent:
    """A seed (digits) or a saved latent's id."""
    spec = spec.strip()
    if not spec:
        raise typer.BadParameter("give a seed or a saved latent's id", param_hint="--parent")
    return Latent.seed(int(spec)) if spec.isdigit() else Latent.saved(spec)


class Settings:
    url: str = "http://127.0.0.1:8000"
    timeout: float = 60.0
    api_key: str | None = None


def client() -> Client:
    return Client(Settings.url, Settings.timeout, api_key=Settings.api_key)


def model_name(client: Client, model: str | None) -> str:
    """The model asked for, or the server's default one (its only one, on an older server)."""
    if model:
        return model
    models = client.models()
    chosen = [m.name for m in models if m.default] or ([m.name for m in models] if len(models) == 1 else [])
    if not chosen:
        names = ", ".join(m.name for m in models) or "none"
        raise typer.BadParameter(f"the server has models {names} and no default: choose one with --model", param_hint="--model")
    return chosen[0]


def generation_options(
    psi: float, cutoff: int | None, class_: str | None, noise: Noise, noise_seed: int, translate: str | None, rotate: float
) -> dict:
    """The options every generating command takes, as Client keyword arguments."""
    options: dict[str, object] = {
        "psi": psi,
        "cutoff": cutoff,
        "class_": class_,
        "noise": noise,
        "noise_seed": noise_seed,
        "rotate": rotate,
    }
    if translate is not None:
        try:
            x, y = (float(part) for part in translate.split(","))
        except ValueError:
            raise typer.BadParameter(f"expected X,Y, got {translate!r}", param_hint="--translate") from None
        options["translate"] = (x, y)
    return options


def progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console)


def fail(error: GanserveError) -> None:
    console.print(f"[red]error[/red] ({type(error).__name__}): {error.message}")
    raise typer.Exit(1)


Model = Annotated[str | None, typer.Option(help="model name (default: the server's only model)")]
Out = Annotated[Path, typer.Option(help="folder to write the images to")]
Psi = Annotated[float, typer.Option(help="truncation psi: 1 none, 0 w_avg")]
Cutoff = Annotated[int | None, typer.Option(help="truncate only the first CUTOFF ws layers")]
Class = Annotated[str | None, typer.Option("--class", help="class index or name (conditional models)")]
NoiseOption = Annotated[Noise, typer.Option(help="noise mode")]
NoiseSeed = Annotated[int, typer.Option(help="with --noise random")]
Translate = Annotated[str | None, typer.Option(help="StyleGAN3: move the view, X,Y (as gen_images.py)")]
Rotate = Annotated[float, typer.Option(help="StyleGAN3: rotate the view, degrees")]
Format = Annotated[ImageFormat, typer.Option(help="raw (gRPC only) writes uint8 .npy arrays")]
Edits = Annotated[
    list[str] | None,
    typer.Option("--edit", help=r"DIRECTION:STRENGTH\[@LAYERS], e.g. ganspace-3:2.5@coarse (repeatable; see `directions`)"),
]


@app.callback()
def main(
    url: Annotated[str, typer.Option(envvar="GANSERVE_URL", help="http(s)://host:port or grpc(s)://host:port")] = Settings.url,
    timeout: Annotated[float, typer.Option(help="seconds per call")] = Settings.timeout,
    api_key: Annotated[
        str | None, typer.Option(envvar="GANSERVE_API_KEY", help="API key (`ganserve keys create`), sent on every call")
    ] = None,
) -> None:
    Settings.url, Settings.timeout, Settings.api_key = url, timeout, api_key


@app.command()
def models() -> None:
    """The server's models."""
    try:
        with client() as c:
            for m in c.models():
                classes = f", classes: {', '.join(m.class_names) or m.c_dim}" if m.c_dim else ""
                typer.echo(f"{m.name}\t{m.architecture} {m.resolution}x{m.resolution}, num_ws {m.num_ws}{classes}, version {m.version}")
    except GanserveError as error:
        fail(error)


@app.command()
def directions(model: Annotated[str | None, typer.Argument(help="model name (default: the server's only model)")] = None) -> None:
    """The directions --edit can move along, one a line."""
    try:
        with client() as c:
            name = model_name(c, model)
            found = c.directions(name)
    except GanserveError as error:
        fail(error)
    width = max([len(d.id) for d in found] + [2])
    typer.echo(f"{'id':<{width}}  {'method':<8}  {'layers':<6}  {'sigma':>9}  {'score':>9}  label")
    for d in found:
        score = d.explained_variance if d.explained_variance is not None else d.eigenvalue  # GANSpace's, SeFa's
        score_text = f"{score:9.4g}" if score is not None else f"{'-':>9}"
        typer.echo(f"{d.id:<{width}}  {d.method:<8}  {d.layers:<6}  {d.sigma:9.4g}  {score_text}  {d.label}")


@app.command()
def generate(
    seeds: Annotated[str, typer.Option(help="seeds and ranges: 1-8,12")],
    out: Out,
    model: Model = None,
    psi: Psi = 1.0,
    cutoff: Cutoff = None,
    class_: Class = None,
    noise: NoiseOption = Noise.const,
    noise_seed: NoiseSeed = 0,
    translate: Translate = None,
    rotate: Rotate = 0.0,
    format: Format = ImageFormat.png,
    batch: Annotated[int, typer.Option(help="images per request")] = 8,
    edit: Edits = None,
) -> None:
    """One image per seed: OUT/seed0001.png, ... (--edit moves every seed's latent)."""
    seed_list = parse_ints(seeds)
    edits = tuple(parse_edit(spec) for spec in edit or ())
    out.mkdir(parents=True, exist_ok=True)
    try:
        with client() as c, progress() as bar:
            name = model_name(c, model)
            task = bar.add_task(f"generate {name}", total=len(seed_list))
            for start in range(0, len(seed_list), batch):
                chunk = seed_list[start : start + batch]
                options = generation_options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
                latents = [replace(Latent.seed(seed), edits=edits) for seed in chunk]
                for seed, image in zip(chunk, c.generate(name, latents, format=format, **options), strict=True):
                    image.save(out / f"seed{seed:04d}{image.extension}")
                bar.advance(task, len(chunk))
    except GanserveError as error:
        fail(error)
    typer.echo(f"wrote {len(seed_list)} images to {out}")


@app.command()
def interpolate(
    keyframes: Annotated[str, typer.Option(help="keyframe seeds: 1,5,9")],
    out: Out,
    frames: Annotated[int, typer.Option(help="frames in the walk")] = 16,
    loop: Annotated[bool, typer.Option(help="walk back to the first keyframe")] = False,
    space: Annotated[Space, typer.Option(help="w: lerp after mapping; z: slerp before")] = Space.w,
    model: Model = None,
    psi: Psi = 1.0,
    cutoff: Cutoff = None,
    class_: Class = None,
    noise: NoiseOption = Noise.const,
    noise_seed: NoiseSeed = 0,
    translate: Translate = None,
    rotate: Rotate = 0.0,
    format: Format = ImageFormat.png,
) -> None:
    """A walk through keyframe seeds: OUT/frame0000.png, ... (frames stream in as they are made over gRPC)."""
    out.mkdir(parents=True, exist_ok=True)
    options = generation_options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
    try:
        with client() as c, progress() as bar:
            name = model_name(c, model)
            task = bar.add_task(f"interpolate {name}", total=frames)
            walk = c.interpolate(name, parse_ints(keyframes), frames=frames, loop=loop, space=space, format=format, **options)
            for frame in walk:
                if frame.image is None:  # only with latents_only, which this command does not ask for
                    continue
                frame.image.save(out / f"frame{frame.index:04d}{frame.image.extension}")
                bar.advance(task)
    except GanserveError as error:
        fail(error)
    typer.echo(f"wrote {frames} frames to {out}")


@app.command()
def mix(
    rows: Annotated[str, typer.Option(help="row seeds (their other layers are kept)")],
    columns: Annotated[str, typer.Option(help="column seeds (their chosen layers are copied in)")],
    out: Out,
    layers: Annotated[str, typer.Option(help="coarse, middle, fine, ranges like 0-6, or indices")] = "coarse",
    grid: Annotated[bool, typer.Option(help="one image laid out as style_mixing.py draws it")] = False,
    model: Model = None,
    psi: Psi = 1.0,
    cutoff: Cutoff = None,
    class_: Class = None,
    noise: NoiseOption = Noise.const,
    noise_seed: NoiseSeed = 0,
    translate: Translate = None,
    rotate: Rotate = 0.0,
    format: Format = ImageFormat.png,
) -> None:
    """Style mixing: OUT/row{r}-col{c}.png for every cell, or OUT/grid.png."""
    out.mkdir(parents=True, exist_ok=True)
    row_seeds, column_seeds = parse_ints(rows), parse_ints(columns)
    options = generation_options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
    try:
        with client() as c, progress() as bar:
            name = model_name(c, model)
            task = bar.add_task(f"mix {name}", total=1)
            result = c.mix(name, row_seeds, column_seeds, layers=layers, grid=grid, format=format, **options)
            bar.advance(task)
    except GanserveError as error:
        fail(error)
    if result.grid is not None:
        result.grid.save(out / f"grid{result.grid.extension}")
    for cell in result.cells:
        cell.image.save(out / f"row{row_seeds[cell.row]}-col{column_seeds[cell.column]}{cell.image.extension}")
    typer.echo(f"layers {result.layers}: wrote {1 if grid else len(result.cells)} images to {out}")


@app.command()
def children(
    parent: Annotated[str, typer.Option(help="the parent: a seed, or a saved latent's id")],
    out: Out,
    count: Annotated[int, typer.Option(help="children to make")] = 8,
    spread: Annotated[float, typer.Option(help="how far from the parent: 0 copies, 1 as far as typical w lie from w_avg")] = 0.5,
    layers: Annotated[str, typer.Option(help="the layers children vary: all, coarse, middle, fine, ranges like 0-6")] = "all",
    seed: Annotated[int, typer.Option(help="the same seed gives the same children")] = 0,
    include_parent: Annotated[bool, typer.Option(help="the parent too (first; OUT/parent.png)")] = False,
    grid: Annotated[bool, typer.Option(help="one image of them all: OUT/grid.png")] = False,
    columns: Annotated[int | None, typer.Option(help="grid columns (default: square)")] = None,
    edit: Edits = None,
    model: Model = None,
    psi: Psi = 1.0,
    cutoff: Cutoff = None,
    class_: Class = None,
    noise: NoiseOption = Noise.const,
    noise_seed: NoiseSeed = 0,
    translate: Translate = None,
    rotate: Rotate = 0.0,
    format: Format = ImageFormat.png,
) -> None:
    """Random variations of a parent (--edit edits the parent first): OUT/child0000.png, ..., or OUT/grid.png."""
    latent = replace(parse_parent(parent), edits=tuple(parse_edit(spec) for spec in edit or ()))
    out.mkdir(parents=True, exist_ok=True)
    options = generation_options(psi, cutoff, class_, noise, noise_seed, translate, rotate)
    try:
        with client() as c, progress() as bar:
            name = model_name(c, model)
            task = bar.add_task(f"children {name}", total=1)
            result = c.children(
                name,
                latent,
                count=count,
                spread=spread,
                layers=layers,
                seed=seed,
                include_parent=include_parent,
                grid=grid,
                columns=columns,
                format=format,
                **options,
            )
            bar.advance(task)
    except GanserveError as error:
        fail(error)
    if result.grid is not None:
        result.grid.save(out / f"grid{result.grid.extension}")
    else:
        names = (["parent"] if include_parent else []) + [f"child{k:04d}" for k in range(count)]
        for file_name, image in zip(names, result.images, strict=True):
            image.save(out / f"{file_name}{image.extension}")
    typer.echo(f"wrote {1 if grid else len(result.images)} images to {out}")


@app.command()
def project(
    image: Annotated[Path, typer.Argument(help="a PNG, JPEG or WebP file", exists=True, dir_okay=False)],
    steps: Annotated[int, typer.Option(help="optimisation steps")] = 200,
    space: Annotated[str, typer.Option(help="w (saved as a w) or w+ (one w per layer, saved as ws)")] = "w",
    seed: Annotated[int, typer.Option(help="the projection's own randomness")] = 0,
    class_: Class = None,
    name: Annotated[str, typer.Option(help="the saved latent's name")] = "",
    out: Annotated[Path | None, typer.Option(help="write the last reconstruction (PNG) here")] = None,
    model: Model = None,
) -> None:
    """Find the latent of IMAGE: a progress bar while it runs, then the saved latent's id, to use as
    --parent or in any other call."""
    last = None
    try:
        with client() as c, progress() as bar:
            name_ = model_name(c, model)
            task = bar.add_task(f"project {image.name} on {name_}", total=steps)
            for event in c.project(name_, image, steps=steps, space=space, seed=seed, class_=class_, name=name):
                psnr = f" {event.psnr:.1f} dB" if event.psnr is not None else ""
                bar.update(task, completed=event.step, description=f"project {image.name} ({event.state.value}{psnr})")
                if event.preview is not None and out is not None:
                    out.write_bytes(event.preview)
                last = event
    except GanserveError as error:
        fail(error)
    if last is None or last.latent_id is None:
        console.print(f"[red]projection {last.state.value if last else 'ended'}[/red]: {last.error if last else ''}")
        raise typer.Exit(1)
    typer.echo(f"latent {last.latent_id} ({last.psnr:.2f} dB after {last.step} steps, {last.elapsed_s:.1f} s)")
