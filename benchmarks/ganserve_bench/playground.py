"""`python -m ganserve_bench playground`: the designers' playground in a real browser (headless
Debian chromium, driven by Playwright), against a gateway started here.

(a) First render: navigation -> a full seed grid of 24 thumbnails decoded, over several fresh page
loads (a new browser context each: an empty HTTP cache). The page records performance.now() when the
last thumbnail has decoded (window.__ganservePerf.firstGridMs: milliseconds since navigation start);
the wall time around Playwright's goto and wait is kept too.

(b) A direction slider dragged: each drag is a few input events one animation frame apart, and what
is timed is the last input event -> its image decoded and shown (the page's own timestamps, taken in
the input handler and after img.decode()). Every strength is new, so every image is synthesised.

The server runs with its image cache off (GANSERVE_IMAGE_CACHE_BYTES=0), as the slider benchmark does:
every grid and every drag is synthesised; w comes from the w cache after the first request.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ganserve_bench.machine import finish_machine, measure_machine
from ganserve_bench.processes import gateway
from ganserve_bench.report import contention, header, write_results
from ganserve_bench.timing import latency_stats

SCHEMA = "ganserve-bench-playground/1"
CHROMIUM = Path("/usr/bin/chromium")
SEED = 7
DIRECTION = "ganspace-0"
STEPS_PER_DRAG = 4
GOAL_MS = 150.0
TIMEOUT_MS = 60_000

# In the page: drag the slider `drags` times (each `steps` input events a frame apart, every value new)
# and return, per drag, the page's latency from the last input event to its image shown.
DRAG_JS = """
async ({id, drags, steps}) => {
  const input = document.getElementById(id);
  const perf = window.__ganservePerf;
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const results = [];
  let index = 0;
  for (let d = 0; d < drags; d++) {
    const shownBefore = perf.drags.length;
    for (let k = 0; k < steps; k++, index++) {
      await frame();
      const value = -5 + ((index * 7) % 101) * 0.1;  // every value new across the run (step 0.1)
      input.value = value.toFixed(1);
      input.dispatchEvent(new Event('input', {bubbles: true}));
    }
    const target = perf.lastRequestedSeq;
    const started = performance.now();
    while (perf.shownSeq < target) {
      if (performance.now() - started > 30000) throw new Error(`drag ${d}: no image after 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const shown = perf.drags.find((entry) => entry.seq === target);
    results.push({ms: shown.ms, images_shown: perf.drags.length - shownBefore});
    await frame();
  }
  return {results, requests: perf.requests, aborted: perf.aborted, superseded: perf.superseded};
}
"""


def launch_chromium(playwright, executable: Path = CHROMIUM):
    """The system chromium (Debian's package), headless; never a downloaded browser."""
    if not executable.exists():
        raise RuntimeError(f"{executable} is missing: install Debian's chromium package (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(executable), args=["--no-sandbox"], headless=True)


def first_renders(browser, url: str, loads: int) -> list[dict]:
    runs = []
    for _ in range(loads):
        context = browser.new_context()
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url)
        page.wait_for_function("window.__ganservePerf && window.__ganservePerf.firstGridMs !== null", timeout=TIMEOUT_MS)
        wall_ms = (time.perf_counter() - started) * 1000
        in_page = page.evaluate("window.__ganservePerf.firstGridMs")
        decoded = page.evaluate("[...document.querySelectorAll('#grid img')].filter((img) => img.naturalWidth > 0).length")
        runs.append({"in_page_ms": round(in_page, 2), "wall_ms": round(wall_ms, 2), "thumbnails_decoded": decoded})
        context.close()
    return runs


def drag_updates(browser, url: str, drags: int) -> dict:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_function("window.__ganservePerf && window.__ganservePerf.firstGridMs !== null", timeout=TIMEOUT_MS)
    page.click(f"#grid button[data-seed='{SEED}']")
    page.wait_for_function("window.__ganservePerf.shownSeq >= 1", timeout=TIMEOUT_MS)
    done = page.evaluate(DRAG_JS, {"id": f"dir-{DIRECTION}", "drags": drags, "steps": STEPS_PER_DRAG})
    context.close()
    return done


def run_playground_benchmark(model: str, out: Path, loads: int, drags: int, log=print) -> Path:
    from playwright.sync_api import sync_playwright

    created, started = datetime.now(UTC), time.perf_counter()
    cpu, machine = measure_machine(log)
    env = {"GANSERVE_IMAGE_CACHE_BYTES": "0", "GANSERVE_DEFAULT_MODEL": model}
    with tempfile.TemporaryDirectory(prefix="ganserve-bench-") as tmp, gateway(env, Path(tmp), model) as (server, startup):
        info = httpx.get(f"{server.base_url}/v1/models/{model}", timeout=10).json()
        url = f"{server.base_url}/playground#m={model}"
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            version = browser.version
            try:
                log(f"  first render: {loads} fresh page loads")
                loads_found = first_renders(browser, url, loads)
                log(f"  slider: {drags} drags of {STEPS_PER_DRAG} input events")
                dragged = drag_updates(browser, url, drags)
            finally:
                browser.close()
    finish_machine(cpu, machine)
    machine["browser"] = {"executable": str(CHROMIUM), "version": version, "headless": True}
    first = latency_stats([run["in_page_ms"] for run in loads_found])
    drag = latency_stats([entry["ms"] for entry in dragged["results"]])
    result = header(SCHEMA, created, started) | {
        "machine": machine,
        "model": {"name": model, "resolution": info["resolution"], "version": info["version"], "engine": info["engine"]},
        "image_cache": "off (GANSERVE_IMAGE_CACHE_BYTES=0): every grid and drag image is synthesised",
        "server_startup": {"time_to_ready_s": startup["time_to_ready_s"]},
        "first_render": {
            "what": "navigation start -> 24 seed thumbnails decoded (performance.now() in the page), fresh context each",
            "loads": loads_found,
            "in_page_ms": first,
            "wall_ms": latency_stats([run["wall_ms"] for run in loads_found]),
        },
        "drag": {
            "what": f"{DIRECTION} on seed {SEED}: the last of {STEPS_PER_DRAG} input events a frame apart -> its image decoded and shown",
            "drags": len(dragged["results"]),
            "latency_ms": drag,
            "images_shown_per_drag": [entry["images_shown"] for entry in dragged["results"]],
            "requests": dragged["requests"],
            "aborted": dragged["aborted"],
            "superseded_before_sent": dragged["superseded"],
        },
        "goal_ms": GOAL_MS,
        "drag_p50_under_150_ms": drag["p50"] is not None and drag["p50"] < GOAL_MS,
    }
    lines = [
        f"ganserve_bench playground {model} ({info['resolution']}px) on {machine['cpu_model']},"
        f" {machine['usable_cpus']} cpus, chromium {version}",
        *contention(machine),
        f"  first render (24 thumbnails decoded): p50 {first['p50']} ms, max {first['max']} ms over {loads} fresh loads",
        f"  slider drag -> image shown: p50 {drag['p50']} ms, p99 {drag['p99']} ms over {len(dragged['results'])} drags"
        f" (goal p50 < {GOAL_MS:.0f} ms: {'met' if result['drag_p50_under_150_ms'] else 'NOT met'})",
        f"  requests {dragged['requests']}, aborted {dragged['aborted']}, superseded before sent {dragged['superseded']}",
    ]
    return write_results(out, "bench-playground", created, result, "\n".join(lines), log)
