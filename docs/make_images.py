"""`make docs-images`: the README's pictures, made through the public HTTP API of a real gateway.

Starts `ganserve serve` on free ports with the committed models, asks it for a sample grid (one
row per class), an interpolation strip, an edit strip (one direction from -3 to +3 sigma) and a
children grid, and writes them under docs/images/ with images.json: the model version they show
and the request behind each picture (tests/test_docs.py checks that version is the served one).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import tempfile
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from ganserve_bench.processes import gateway

OUT = Path(__file__).parent / "images"
SEEDS = list(range(8))
SCALE = 2  # 32x32 images are drawn at 64x64, pixels kept sharp


def _png(response: httpx.Response | bytes) -> Image.Image:
    if isinstance(response, httpx.Response):
        response.raise_for_status()
        response = response.content
    return Image.open(io.BytesIO(response)).convert("RGB")


def _save(image: Image.Image, name: str) -> str:
    image.resize((image.width * SCALE, image.height * SCALE), Image.NEAREST).save(OUT / name, optimize=True)
    return f"images/{name}"


def make_images(base_url: str, model: str, edit_direction: str, children_class: str) -> dict:
    client = httpx.Client(base_url=base_url, timeout=120)
    info = client.get(f"/v1/models/{model}").json()
    made: dict = {"model": model, "version": info["version"], "pictures": {}}
    base = f"/v1/models/{model}"

    rows = []
    for name in info["class_names"] or [None]:
        body = {"latents": [{"seed": s} for s in SEEDS], "output": "grid", "columns": len(SEEDS), "class": name}
        rows.append(np.asarray(_png(client.post(f"{base}/images", json=body))))
    made["pictures"]["samples"] = {
        "file": _save(Image.fromarray(np.concatenate(rows)), "samples.png"),
        "rows": info["class_names"],
        "seeds": SEEDS,
    }

    keyframes = [{"seed": 1}, {"seed": 5}, {"seed": 3}]
    body = {"keyframes": keyframes, "frames": 10, "output": "frames", "format": "png", "class": children_class}
    frames = client.post(f"{base}/interpolations", json=body).json()["frames"]
    strip = np.concatenate([np.asarray(_png(base64.b64decode(frame["data"]))) for frame in frames], axis=1)
    made["pictures"]["interpolation"] = {"file": _save(Image.fromarray(strip), "interpolation.png"), "request": body}

    strengths = [-3, -2, -1, 0, 1, 2, 3]
    body = {"latents": [{"seed": 2, "edits": [{"direction": edit_direction, "strength": s}]} for s in strengths], "output": "grid"}
    body |= {"columns": len(strengths), "class": children_class}
    made["pictures"]["edit"] = {"file": _save(_png(client.post(f"{base}/images", json=body)), "edit.png"), "request": body}

    body = {"parent": {"seed": 2}, "count": 7, "spread": 0.6, "seed": 1, "include_parent": True, "columns": 8, "class": children_class}
    made["pictures"]["children"] = {"file": _save(_png(client.post(f"{base}/children", json=body)), "children.png"), "request": body}
    return made


def playground_screenshot(base_url: str, seed: int) -> str:
    """The playground with a seed selected and one direction moved, as a designer sees it."""
    from playwright.sync_api import sync_playwright

    from ganserve_bench.playground import launch_chromium

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{base_url}/playground")
        page.wait_for_function("window.__ganservePerf && window.__ganservePerf.firstGridMs !== null", timeout=60_000)
        page.click(f"#grid button[data-seed='{seed}']")
        page.wait_for_function("window.__ganservePerf.shownSeq >= 1", timeout=60_000)
        page.screenshot(path=str(OUT / "playground.png"))
        # The training view: the run's log and evaluations, plotted live from GET .../training.
        page.click("#tab-training")
        page.wait_for_selector("#training-body:not([hidden])", timeout=60_000)
        page.locator("#panel-training").screenshot(path=str(OUT / "training.png"))
        browser.close()
    return "images/playground.png"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="emoji32")
    parser.add_argument("--edit-direction", default="ganspace-0")
    parser.add_argument("--children-class", default="Smileys & Emotion")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ganserve-docs-") as tmp, gateway({}, Path(tmp), args.model) as (server, _):
        made = make_images(server.base_url, args.model, args.edit_direction, args.children_class)
        made["pictures"]["playground"] = {"file": playground_screenshot(server.base_url, 2)}
        made["pictures"]["training"] = {"file": "images/training.png"}
    (OUT / "images.json").write_text(json.dumps(made, indent=1) + "\n")
    print(f"wrote {OUT}: {', '.join(p['file'] for p in made['pictures'].values())}")


if __name__ == "__main__":
    main()
