"""The designers' playground (/playground) in a real browser: Debian's chromium, headless, driven by
Playwright, against real `ganserve serve` gateways (no mocks). One browser for the module; each test
gets a fresh context and asserts that the page logged no errors."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conftest import COND_MODEL, served_env
from ganserve_bench.playground import CHROMIUM
from ganserve_bench.processes import gateway

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (the dev extra)")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (make system-deps)", allow_module_level=True)

TIMEOUT_MS = 30_000
PER_PAGE = 24

# Pixels of an <img> (drawn to a canvas): size, variance over RGB, and a checksum of every value.
PIXELS_JS = """(selector) => {
  const img = typeof selector === 'string' ? document.querySelector(selector) : selector;
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  if (!canvas.width) return {width: 0, height: 0, variance: 0, hash: 0};
  const g = canvas.getContext('2d');
  g.drawImage(img, 0, 0);
  const data = g.getImageData(0, 0, canvas.width, canvas.height).data;
  let sum = 0, sum2 = 0, n = 0, hash = 7;
  for (let i = 0; i < data.length; i += 4) for (let k = 0; k < 3; k++) {
    const v = data[i + k]; sum += v; sum2 += v * v; n++; hash = (Math.imul(hash, 31) + v) >>> 0;
  }
  const mean = sum / n;
  return {width: canvas.width, height: canvas.height, variance: sum2 / n - mean * mean, hash};
}"""


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True)
        yield browser
        browser.close()


class Watched:
    """A page whose console errors, uncaught exceptions and failed API responses are collected."""

    def __init__(self, context, base_url: str):
        self.context, self.base_url = context, base_url
        self.page = context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.console: list[str] = []
        self.failed: list[tuple[int, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.page.on("response", lambda r: self.failed.append((r.status, r.url)) if r.status >= 400 else None)
        self.page.on("request", lambda r: self.requests.append((r.method, r.url)))

    def open(self, fragment: str = "") -> Watched:
        self.page.goto(f"{self.base_url}/playground{fragment}")
        self.page.wait_for_selector("body[data-ready='true']")
        self.page.wait_for_selector("#grid[data-loaded]")
        return self

    def pixels(self, selector: str) -> dict:
        return self.page.evaluate(PIXELS_JS, selector)

    def select_seed(self, seed: int) -> None:
        shown = self.shown_seq()
        self.page.click(f"#grid button[data-seed='{seed}']")
        self.wait_shown(shown + 1)

    def shown_seq(self) -> int:
        return self.page.evaluate("window.__ganservePerf.shownSeq")

    def wait_shown(self, at_least: int | None = None) -> None:
        """Until the selected image shows the latest requested value (or at least seq `at_least`)."""
        if at_least is None:
            self.page.wait_for_function("window.__ganservePerf.shownSeq >= window.__ganservePerf.lastRequestedSeq")
        else:
            self.page.wait_for_function(f"window.__ganservePerf.shownSeq >= {at_least}")

    def drag(self, selector: str, value: float) -> None:
        """Set a range input as a drag does (value, then an input event) and wait for its image."""
        self.page.eval_on_selector(
            selector, "(el, v) => { el.value = String(v); el.dispatchEvent(new Event('input', {bubbles: true})); }", value
        )
        self.wait_shown()

    def check_clean(self) -> None:
        """No failed responses, no console errors, no page errors (a model without a training log is
        known from GET /v1/models: the page never probes for one)."""
        assert not self.failed, self.failed
        assert not self.console, self.console
        assert self.page.is_hidden("#error"), self.page.text_content("#error-text")


@pytest.fixture
def watched(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    found = Watched(context, live_server.base_url)
    yield found
    try:
        found.check_clean()
    finally:
        context.close()


def test_grid_shows_real_images_through_batched_requests(watched, live_server):
    page = watched.open().page
    limits = httpx.get(f"{live_server.base_url}/v1/limits").json()
    thumbs = page.query_selector_all("#grid img")
    assert len(thumbs) == PER_PAGE
    default = next(m for m in httpx.get(f"{live_server.base_url}/v1/models").json()["models"] if m["default"])
    for thumb in thumbs:
        found = page.evaluate(PIXELS_JS, thumb)
        assert found["width"] == found["height"] == default["resolution"]
        assert found["variance"] > 20, found  # decoded, and not a blank image
    assert len({page.evaluate(PIXELS_JS, t)["hash"] for t in thumbs}) == PER_PAGE  # 24 different seeds
    posts = [u for m, u in watched.requests if m == "POST" and u.endswith("/images")]
    assert len(posts) == -(-PER_PAGE // limits["max_images"])  # batches of max_images, not one per thumbnail
    assert not [u for m, u in watched.requests if "/seeds/" in u]
    page.keyboard.press("]")  # next page from the keyboard
    page.wait_for_selector("#grid[data-page='1'][aria-busy='false']")
    assert page.get_attribute("#grid li:first-child button", "data-seed") == str(PER_PAGE)
    assert page.input_value("#page") == "1"


def test_selecting_and_direction_slider_change_the_image(watched):
    page = watched.open().page
    watched.select_seed(5)
    assert page.text_content("#current-seed") == "5"
    url = page.input_value("#current-url")
    assert "/seeds/5.png?" in url and "psi=0.7" in url
    before = watched.pixels("#current-img")
    assert before["variance"] > 20
    assert httpx.get(url).content  # the URL to copy is the stable image URL
    watched.drag("#dir-ganspace-0", 3)
    after = watched.pixels("#current-img")
    assert after["hash"] != before["hash"]
    url = page.input_value("#current-url")
    assert "edit=ganspace-0%3A3" in url
    # The image shown is exactly the stable URL's image (same bytes as the server gives anyone).
    page.select_option("#edit-layers", "coarse")
    watched.wait_shown()
    assert "edit=ganspace-0%3A3%40coarse" in page.input_value("#current-url")
    assert page.text_content("#active-edits").startswith("Edits: ganspace-0 +3")
    watched.drag("#dir-ganspace-0", 0)
    assert watched.pixels("#current-img")["hash"] == before["hash"]  # strength 0 is the plain image


def test_dragging_never_queues_stale_requests(watched):
    page = watched.open().page
    watched.select_seed(2)
    sent_before = page.evaluate("window.__ganservePerf.requests")
    result = page.evaluate(
        """async () => {
          const input = document.getElementById('dir-ganspace-1');
          for (let i = 0; i < 40; i++) { input.value = String(-4 + i * 0.2); input.dispatchEvent(new Event('input', {bubbles: true})); }
          return window.__ganservePerf.lastRequestedSeq;
        }"""
    )
    watched.wait_shown(result)
    sent = page.evaluate("window.__ganservePerf.requests") - sent_before
    assert sent <= 3, sent  # one in flight, the newest waiting: 38 values were never sent
    assert page.evaluate("window.__ganservePerf.shownSeq") == result  # and the newest value is shown
    assert "ganspace-1 +3.8" in page.text_content("#active-edits")


def test_class_directions_and_the_class_picker(watched):
    page = watched.open(f"#m={COND_MODEL}").page
    assert page.is_visible("#class-field")
    page.select_option("#class", "dog")
    page.wait_for_selector("#grid[data-class='dog'][aria-busy='false']")
    watched.select_seed(1)
    assert "class=dog" in page.input_value("#current-url")
    if not page.is_visible("#class-edit"):
        pytest.skip(f"{COND_MODEL} lists no class directions")
    before = watched.pixels("#current-img")["hash"]
    page.select_option("#class-from", "1")
    page.select_option("#class-to", "3")
    watched.drag("#class-strength", 1)
    assert watched.pixels("#current-img")["hash"] != before
    assert "class-1-3" in page.input_value("#current-url")


def test_children_lineage_interpolation_and_mixing_render(watched, live_server):
    page = watched.open().page
    limits = httpx.get(f"{live_server.base_url}/v1/limits").json()
    resolution = page.evaluate("document.querySelector('#grid img').naturalWidth")
    watched.select_seed(3)
    parent = watched.pixels("#current-img")["hash"]
    page.click("#tab-children")
    page.fill("#spread", "1")
    page.click("#breed")
    page.wait_for_selector("#children[data-count='8']")
    children = page.query_selector_all("#children img")
    hashes = {page.evaluate(PIXELS_JS, img)["hash"] for img in children}
    assert len(hashes) == 8 and parent not in hashes
    shown = watched.shown_seq()
    page.click("#children li:nth-child(2) button")
    watched.wait_shown(shown + 1)
    assert page.evaluate(PIXELS_JS, children[1])["hash"] == watched.pixels("#current-img")["hash"]
    assert page.text_content("#breadcrumbs li:last-child") == "child 2"
    assert page.input_value("#current-url") == ""  # a child's ws has no stable URL until saved
    page.click("#add-keyframe")
    page.click("#breed")  # grandchildren
    page.wait_for_selector("#children[data-count='8']")
    shown = watched.shown_seq()
    page.click("#children li:nth-child(1) button")
    watched.wait_shown(shown + 1)
    assert page.locator("#breadcrumbs li").count() == 3
    shown = watched.shown_seq()
    page.click("#breadcrumbs li:first-child button")  # back to the seed
    watched.wait_shown(shown + 1)
    assert watched.pixels("#current-img")["hash"] == parent
    assert page.locator("#breadcrumbs li").count() == 1
    page.click("#add-keyframe")
    watched.select_seed(9)
    page.click("#add-keyframe")

    page.click("#tab-interpolation")
    assert page.locator("#keyframes li").count() == 3
    page.fill("#steps", "6")
    page.click("#interpolate")
    page.wait_for_selector("#frames[data-count='6']")
    frames = [page.evaluate(PIXELS_JS, img) for img in page.query_selector_all("#frames img")]
    assert all(f["width"] == resolution and f["variance"] > 20 for f in frames)
    assert len({f["hash"] for f in frames}) == 6
    page.click("#play")
    assert page.get_attribute("#play", "aria-pressed") == "true"
    page.wait_for_function("document.querySelector('#anim-img').src !== document.querySelector('#frames img').src")
    page.click("#play")
    with page.expect_download() as download:
        page.click("#download-webp")
    assert download.value.suggested_filename.endswith(".webp")
    assert Path(download.value.path()).read_bytes()[8:12] == b"WEBP"
    with page.expect_download() as download:
        page.click("#download-frames")
    assert Path(download.value.path()).read_bytes()[:4] == b"PK\x03\x04"
    page.check("#space-z")  # slerp needs seeds: the child keyframe is refused in the page, with a message
    page.click("#interpolate")
    page.wait_for_selector("#error:not([hidden])")
    assert "slerp" in page.text_content("#error-text")
    page.click("#error-close")

    page.click("#tab-mixing")
    page.click("#mix-from-grid")
    side = min(limits["max_mix_side"], 3)
    assert page.locator("#mix-rows li").count() == side
    page.click("#layer-presets button[data-preset='fine']")
    assert page.get_attribute("#layer-presets button[data-preset='fine']", "aria-pressed") == "true"
    page.check("#layer-0")  # a per-layer toggle on top of the preset
    assert page.get_attribute("#layer-presets button[data-preset='fine']", "aria-pressed") == "false"
    page.click("#mix")
    page.wait_for_selector("#mix-img[data-layers]")
    grid = watched.pixels("#mix-img")
    assert grid["width"] == (side + 1) * resolution and grid["height"] == (side + 1) * resolution
    assert grid["variance"] > 20
    assert page.get_attribute("#mix-img", "data-layers").startswith("0,")


def test_saved_latent_survives_a_reload(watched):
    page = watched.open().page
    watched.select_seed(11)
    page.click("#save")  # an unedited seed is kept as z (psi applies when it is drawn)
    page.wait_for_function("document.querySelector('#current-id').textContent !== 'not saved'")
    watched.drag("#dir-ganspace-2", 2)
    assert page.text_content("#current-id") == "not saved"  # the image changed: this one is not saved
    edited = watched.pixels("#current-img")["hash"]
    page.click("#save")
    page.wait_for_function("document.querySelector('#current-id').textContent !== 'not saved'")
    saved_id = page.text_content("#current-id")
    page.reload()
    page.wait_for_selector("#grid[data-loaded]")
    page.click("#tab-saved")
    page.wait_for_selector(f"#saved li[data-id='{saved_id}']")
    shown = watched.shown_seq()
    page.click(f"#saved li[data-id='{saved_id}'] button.load")
    watched.wait_shown(shown + 1)
    assert page.text_content("#current-id") == saved_id
    assert watched.pixels("#current-img")["hash"] == edited  # the saved latent has its edits baked in
    assert f"/latents/{saved_id}.png" in page.input_value("#current-url")


def test_an_uploaded_image_becomes_the_selected_latent(watched, live_server):
    """Upload: the file is projected (progress and the reconstruction as it improves), and the saved
    latent it made is selected, its stable URL ready to copy."""
    page = watched.open().page
    upload = httpx.get(f"{live_server.base_url}/v1/models/demo64/seeds/3.png").content
    page.click("#tab-upload")
    page.set_input_files("#upload-file", files=[{"name": "mine.png", "mimeType": "image/png", "buffer": upload}])
    page.fill("#upload-steps", "6")
    shown = watched.shown_seq()
    page.click("#upload-start")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('projected mine.png')", timeout=120_000)
    watched.wait_shown(shown + 1)
    latent_id = page.text_content("#current-id")
    assert latent_id != "not saved" and latent_id in page.text_content("#status")
    assert page.get_attribute("#upload-preview", "src").startswith("data:image/png;base64,")
    assert page.eval_on_selector("#upload-progress", "p => [p.value, p.max]") == [6, 6]
    assert f"/latents/{latent_id}.png" in page.input_value("#current-url")
    assert watched.pixels("#current-img")["variance"] > 20
    assert page.is_enabled("#upload-start") and page.is_disabled("#upload-cancel")


def test_share_link_restores_the_state_in_a_fresh_context(watched, browser, live_server):
    page = watched.open(f"#m={COND_MODEL}").page
    page.select_option("#class", "bird")
    page.fill("#psi", "0.5")
    page.dispatch_event("#psi", "change")
    page.wait_for_selector("#grid[data-psi='0.5'][data-class='bird'][aria-busy='false']")
    watched.select_seed(4)
    watched.drag("#dir-ganspace-1", -2)
    page.select_option("#edit-layers", "coarse")
    watched.wait_shown()
    page.click("#share")
    page.wait_for_function("document.querySelector('#share-url').value !== ''")
    link, url, image = page.input_value("#share-url"), page.input_value("#current-url"), watched.pixels("#current-img")["hash"]
    state = parse_qs(urlsplit(link).fragment)
    assert state["m"] == [COND_MODEL] and state["seed"] == ["4"] and state["class"] == ["bird"]

    fresh = Watched(browser.new_context(), live_server.base_url)
    try:
        other = fresh.page
        other.goto(link)
        other.wait_for_selector("#grid[data-loaded]")
        fresh.wait_shown(1)
        assert other.input_value("#model") == COND_MODEL
        assert other.input_value("#class") == "bird"
        assert other.input_value("#psi") == "0.5"
        assert other.input_value("#dir-ganspace-1") == "-2"
        assert other.input_value("#edit-layers") == "coarse"
        assert other.input_value("#current-url") == url
        assert fresh.pixels("#current-img")["hash"] == image
        fresh.check_clean()
    finally:
        fresh.context.close()

    # A child (ws) is saved when shared, so that the link works anywhere.
    page.click("#tab-children")
    page.click("#breed")
    page.wait_for_selector("#children[data-count]")
    shown = watched.shown_seq()
    page.click("#children li:nth-child(3) button")
    watched.wait_shown(shown + 1)
    watched.drag("#dir-ganspace-0", 1.5)
    child = watched.pixels("#current-img")["hash"]
    page.click("#share")
    page.wait_for_function("document.querySelector('#share-url').value.includes('id=')")
    link = page.input_value("#share-url")
    fresh = Watched(browser.new_context(), live_server.base_url)
    try:
        fresh.page.goto(link)
        fresh.page.wait_for_selector("#grid[data-loaded]")
        fresh.wait_shown(1)
        shared_id = parse_qs(urlsplit(link).fragment)["id"][0]
        assert fresh.page.text_content("#current-id").startswith(f"{shared_id} + 1 edit")
        assert fresh.pixels("#current-img")["hash"] == child
        fresh.check_clean()
    finally:
        fresh.context.close()


# ---------------------------------------------------------------------------- training view
def png(width: int, height: int) -> bytes:
    """A small RGB gradient PNG, written by hand."""
    raw = b"".join(b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 128)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def tick(kimg: float) -> dict:
    return {
        "event": "tick",
        "kimg": kimg,
        "loss_G": 2 - kimg / 10,
        "loss_D": 1 + kimg / 20,
        "D_real": 0.5,
        "D_fake": -0.5,
        "r1": 0.01,
        "augment_p": kimg / 100,
        "rt": 0.5,
        "images_per_s": 10.0,
        "train_hours": kimg / 100,
    }


def training_run(runs: Path) -> Path:
    """runs/demo64: a training log of two ticks and one checkpoint, with its 48x32 sample grid."""
    run = runs / "demo64"
    (run / "samples").mkdir(parents=True)
    (run / "samples" / "kimg-000001.png").write_bytes(png(48, 32))
    records = [{"event": "start", "kimg": 0.0, "time": time.time(), "threads": 2}, tick(0.5), tick(1.0)]
    records.append(
        {"event": "checkpoint", "kimg": 1.0, "snapshot": "snapshots/kimg-000001.safetensors", "samples": "samples/kimg-000001.png"}
    )
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


@pytest.fixture(scope="module")
def training_server(settings, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    run = training_run(runs)
    workdir = tmp_path_factory.mktemp("training-live")
    with gateway(served_env(settings, workdir, runs_dir=str(runs)), workdir, "demo64") as (server, _):
        server.run_dir = run
        yield server


def test_training_view_plots_the_log_and_updates_live(browser, training_server):
    context = browser.new_context()
    watched = Watched(context, training_server.base_url)
    try:
        page = watched.open("#m=demo64").page
        page.click("#tab-training")
        losses = "#charts svg[data-chart='loss_G,loss_D']"
        page.wait_for_selector(f"{losses}[data-points='4']")  # 2 ticks x 2 series
        assert page.locator(f"{losses} polyline[data-series='loss_G']").get_attribute("data-count") == "2"
        page.wait_for_function("document.querySelector('#samples-img').naturalWidth === 48")
        assert page.text_content("#checkpoint-value").startswith("1")
        with (training_server.run_dir / "metrics.jsonl").open("a") as log:
            for kimg in (1.5, 2.0, 2.5):
                log.write(json.dumps(tick(kimg)) + "\n")
            shutil.copy(training_server.run_dir / "samples" / "kimg-000001.png", training_server.run_dir / "samples" / "kimg-000002.png")
            log.write(json.dumps({"event": "checkpoint", "kimg": 2.0, "snapshot": "s", "samples": "samples/kimg-000002.png"}) + "\n")
        page.wait_for_selector(f"{losses}[data-points='10']", timeout=15_000)  # polled with after=: 3 more ticks
        assert page.get_attribute("#checkpoint", "max") == "1"
        assert "2.5 kimg" in page.text_content("#training-status")
        afters = [parse_qs(urlsplit(u).query).get("after") for m, u in watched.requests if "/training?" in u]
        assert ["0"] in afters and any(a and a != ["0"] for a in afters)
        page.click("#tab-children")  # polling stops when the view is left
        watched.check_clean()
    finally:
        context.close()


# ---------------------------------------------------------------------------- API keys
@pytest.fixture(scope="module")
def keyed_server(settings, tmp_path_factory):
    """A gateway that needs API keys (GANSERVE_AUTH=keys), with a training run: its sample grid is an
    image the page would otherwise load by URL, which cannot send the key. server.env: its settings."""
    runs = tmp_path_factory.mktemp("keyed-runs")
    training_run(runs)
    workdir = tmp_path_factory.mktemp("keyed")
    with gateway(served_env(settings, workdir, auth="keys", runs_dir=str(runs)), workdir, "demo64") as (server, _):
        yield server


def create_key(env: dict[str, str], *scopes: str) -> str:
    """`ganserve keys create --json` with the gateway's settings (so its key store): the key text."""
    command = [str(Path(sys.executable).with_name("ganserve")), "keys", "create", "--json"]
    command += [arg for scope in scopes for arg in ("--scope", scope)]
    done = subprocess.run(command, env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)["key"]


def test_the_playground_asks_for_an_api_key_and_keeps_it(browser, keyed_server):
    base = keyed_server.base_url
    assert httpx.get(f"{base}/v1/models").status_code == 401 and httpx.get(f"{base}/playground/app.js").status_code == 200
    key = create_key(keyed_server.env, "generate", "latents:read", "latents:write")
    watched = Watched(browser.new_context(), base)
    sent: list[tuple[str, str | None]] = []  # (url, Authorization) of every API request
    watched.page.on("request", lambda r: sent.append((r.url, r.headers.get("authorization"))) if "/v1/" in r.url else None)
    page = watched.page
    try:
        page.goto(f"{base}/playground")
        page.wait_for_selector("#api-key-message:not([hidden])")
        assert "needs an API key with scope generate" in page.text_content("#api-key-message")
        assert page.get_attribute("#api-key", "aria-invalid") == "true"
        assert page.locator("#model option").count() == 0 and page.locator("#grid li").count() == 0
        assert page.get_attribute("body", "data-ready") is None and page.is_hidden("#error")
        assert watched.failed and {status for status, _ in watched.failed} == {401}
        assert all(header is None for _, header in sent)
        page.fill("#api-key", create_key(keyed_server.env, "latents:read"))  # a key without scope generate: 403, said there too
        page.press("#api-key", "Enter")
        page.wait_for_function("document.querySelector('#api-key-message').textContent.includes('lacks scope generate')")
        assert not page.is_hidden("#api-key-message") and page.locator("#model option").count() == 0
        assert {status for status, _ in watched.failed} == {401, 403}
        watched.failed.clear()
        watched.console.clear()  # the browser logs each refused request: expected, until a good key is given
        keyless = len(sent)

        page.fill("#api-key", key)
        page.press("#api-key", "Enter")
        page.wait_for_selector("body[data-ready='true']")
        page.wait_for_selector("#grid[data-loaded]")
        assert page.is_hidden("#api-key-message") and page.get_attribute("#api-key", "aria-invalid") is None
        assert page.input_value("#model") == "demo64"
        assert watched.pixels("#grid li:first-child img")["variance"] > 20
        watched.select_seed(5)  # by its stable URL, fetched with the key
        assert watched.pixels("#current-img")["variance"] > 20
        page.click("#tab-training")  # the sample grid, fetched with the key too
        page.wait_for_function("document.querySelector('#samples-img').naturalWidth === 48")
        page.click("#tab-children")
        assert any("/seeds/5.png" in url for url, _ in sent) and any("/training/samples/" in url for url, _ in sent)
        assert {header for _, header in sent[keyless:]} == {f"Bearer {key}"}

        page.reload()  # the key is kept (localStorage): the page starts at once
        page.wait_for_selector("#grid[data-loaded]")
        assert page.input_value("#api-key") == key
        assert page.evaluate("localStorage.getItem('ganserve-api-key')") == key
        assert {header for _, header in sent[keyless:]} == {f"Bearer {key}"}
        watched.check_clean()
    finally:
        watched.context.close()


def test_a_model_without_a_training_log_says_so(watched):
    page = watched.open().page
    page.click("#tab-training")
    page.wait_for_function("document.querySelector('#training-status').textContent.includes('no training log')")
    # keyboard: arrows move between tabs
    page.focus("#tab-training")
    page.keyboard.press("ArrowLeft")
    assert page.get_attribute("#tab-upload", "aria-selected") == "true"
    assert page.evaluate("document.activeElement.id") == "tab-upload"
    assert page.is_visible("#panel-upload")
    page.keyboard.press("Home")
    assert page.is_visible("#panel-children")


def test_every_control_has_a_label(watched):
    page = watched.open().page
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, button')].filter((el) => {
            if (el.closest('[hidden]')) return false;
            const label = el.labels && el.labels.length && el.labels[0].textContent.trim();
            return !(label || el.getAttribute('aria-label') || (el.tagName === 'BUTTON' && el.textContent.trim()));
          }).map((el) => el.id || el.outerHTML.slice(0, 80))"""
    )
    assert not unlabelled, unlabelled


def test_playground_static_files(live_server):
    base = live_server.base_url
    for path in ("/playground", "/playground/"):
        response = httpx.get(base + path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert httpx.get(base + "/playground/app.js").headers["content-type"].startswith("text/javascript")
    assert httpx.get(base + "/playground/%2e%2e/routes/playground.py").status_code == 404
    assert "/playground" not in json.dumps(httpx.get(base + "/openapi.json").json()["paths"])


def test_playground_benchmark_smoke(tmp_path):
    """`python -m ganserve_bench playground`, tiny: in a subprocess (this module's browser holds the
    Playwright loop of this thread)."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root / "benchmarks")}
    command = [sys.executable, "-m", "ganserve_bench", "playground", "--loads", "1", "--drags", "2", "--out", str(tmp_path)]
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    [path] = tmp_path.glob("bench-playground-*.json")
    result = json.loads(path.read_text())
    assert result["first_render"]["loads"][0]["thumbnails_decoded"] == PER_PAGE
    assert result["drag"]["drags"] == 2 and result["drag"]["latency_ms"]["p50"] > 0
    assert isinstance(result["drag_p50_under_150_ms"], bool)
    assert result["machine"]["browser"]["version"]


@pytest.fixture(scope="module")
def production_server(settings, triton_server, tmp_path_factory):
    """A gateway as deployed: models on Triton, the cache and the saved latents in two Redis."""
    from ganserve_bench.processes import RedisServer

    workdir = tmp_path_factory.mktemp("production")
    cache = RedisServer(workdir / "cache", durable=False).start()
    store = RedisServer(workdir / "store", durable=True).start()
    env = served_env(settings, workdir, engine="triton", triton_url=triton_server.grpc_url, redis_url=cache.url, redis_store_url=store.url)
    try:
        with gateway(env, workdir, "demo64") as (server, _):
            yield server
    finally:
        cache.stop()
        store.stop()


def test_the_playground_works_on_triton_and_redis(browser, production_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context, production_server.base_url)
    try:
        page = watched.open().page
        assert httpx.get(f"{production_server.base_url}/v1/models/demo64").json()["engine"] == "triton"
        assert all(watched.pixels(f"#grid li:nth-child({i}) img")["variance"] > 20 for i in (1, PER_PAGE))
        watched.select_seed(4)
        before = watched.pixels("#current-img")["hash"]
        watched.drag("#dir-ganspace-1", 2)
        assert watched.pixels("#current-img")["hash"] != before
        page.click("#save")
        page.wait_for_function("document.querySelector('#current-id').textContent !== 'not saved'")
        saved_id = page.text_content("#current-id")
        page.reload()
        page.wait_for_selector("#grid[data-loaded]")
        page.click("#tab-saved")
        page.wait_for_selector(f"#saved li[data-id='{saved_id}']")  # kept in the durable Redis
        watched.check_clean()
    finally:
        context.close()
