"""The README and docs/ say what is true: their links resolve, the headline figures are the values in
the results files they name, and the parity figures are the ones the tests assert."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import nvlabs_reference
import tolerances
from ganserve.settings import REPO_ROOT

RESULTS = REPO_ROOT / "benchmarks" / "results"
README = REPO_ROOT / "README.md"
PAGES = [README, *sorted((REPO_ROOT / "docs").glob("*.md")), REPO_ROOT / "clients" / "README.md"]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def value_at(document: object, path: str) -> object:
    """'server.http.levels[0].latency_ms.p50' -> that value of a results file."""
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        document = document[int(index)] if index else document[key]  # type: ignore[index]
    return document


def spread(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f} s"


@dataclass(frozen=True)
class Figure:
    """Text a page states, and how it is made from a results file's values."""

    page: Path
    results: str
    paths: tuple[str, ...]
    render: Callable[..., str]


def figure(page: Path, results: str, render: Callable[..., str], *paths: str) -> Figure:
    return Figure(page, results, paths, render)


BENCH = "bench-demo64-20261122T175029Z.json"
GRPC = "bench-grpc-demo64-20261122T190704Z.json"
TRITON = "bench-triton-demo64-20261122T175358Z.json"
FULLSIZE = "nvlabs-fullsize-20261122T212036Z.json"
TRAINING_STEP = "bench-training-20261201T233108Z.json"
TRAINING = REPO_ROOT / "docs" / "training.md"
PERFORMANCE = REPO_ROOT / "docs" / "performance.md"
SG3T = "networks.sg3t-256"
HTTP_C1 = "server.http.levels[0]"

SLIDER = "bench-slider-20261202T031803Z.json"
PLAYGROUND = "bench-playground-20261202T023912Z.json"
OVERLOAD = "bench-overload-20261202T152942Z.json"

FIGURES = [
    figure(
        README,
        OVERLOAD,
        "p99 {:.3f}×, goodput {:.2f}×".format,
        "goal.p99_ok_over_alternative_p99",
        "goal.goodput_over_alternative_throughput",
    ),
    *[
        figure(
            PERFORMANCE,
            OVERLOAD,
            lambda rate, p50, p99: f"| {rate:.2f} | {p50:.0f} ms | {p99:.0f} ms |",
            f"runs.{run}.goodput_images_per_s",
            f"runs.{run}.latency_ok_ms.p50",
            f"runs.{run}.latency_ok_ms.p99",
        )
        for run in ("alternative", "ganserve_no_deadline", "ganserve_deadline")
    ],
    figure(README, SLIDER, "p50 {:.1f} / {:.1f} ms".format, "http[0].edited_latency_ms.p50", "http[0].plain_latency_ms.p50"),
    figure(README, PLAYGROUND, "| p50 {:.1f} ms |".format, "drag.latency_ms.p50"),
    *[
        figure(
            PERFORMANCE,
            SLIDER,
            lambda c, a, b, d, e: f"| {c} | {a:.1f} / {b:.1f} | {d:.1f} / {e:.1f} |",
            f"http[{i}].concurrency",
            f"http[{i}].plain_latency_ms.p50",
            f"http[{i}].plain_latency_ms.p99",
            f"http[{i}].edited_latency_ms.p50",
            f"http[{i}].edited_latency_ms.p99",
        )
        for i in range(2)
    ],
    figure(
        PERFORMANCE,
        SLIDER,
        "adds {:.3f} ms at p50 for one edit\nand {:.3f} ms for 16".format,
        "edit_in_process.1_edits.added_p50_ms",
        "edit_in_process.16_edits.added_p50_ms",
    ),
    figure(PERFORMANCE, PLAYGROUND, "thumbnails, p50 {:.0f} ms over 5 fresh loads".format, "first_render.in_page_ms.p50"),
    figure(PERFORMANCE, PLAYGROUND, "p50 {:.1f} ms and p99 {:.1f} ms over 20 drags".format, "drag.latency_ms.p50", "drag.latency_ms.p99"),
    figure(README, BENCH, "p50 {:.1f} ms, {:.0f} images/s".format, f"{HTTP_C1}.latency_ms.p50", f"{HTTP_C1}.throughput_images_per_s"),
    figure(README, BENCH, "| {:.0f} images/s |".format, "server.http.levels[2].throughput_images_per_s"),
    figure(README, BENCH, "| {:.0f} images/s |".format, "server.http.hot.throughput_images_per_s"),
    figure(README, GRPC, "| p50 {:.1f} ms |".format, "modes.grpc_raw[0].latency_ms.p50"),
    figure(README, TRITON, "+{:.1f} ms p50".format, "comparisons.gateway_overhead[0].gateway_minus_direct_png_ms.p50"),
    figure(
        README,
        FULLSIZE,
        lambda ours, theirs: f"{spread(ours)} / {spread(theirs)}",
        f"{SG3T}.onnxruntime.seconds_per_image",
        f"{SG3T}.nvlabs_eager_cpu.seconds_per_image",
    ),
    figure(PERFORMANCE, BENCH, "{:.2f} s from process start to `/readyz` 200".format, "server.startup.time_to_ready_s"),
    figure(PERFORMANCE, BENCH, "of which {:.2f} s is loading".format, "server.startup.lifespan_reported_ready_s"),
    figure(
        PERFORMANCE,
        BENCH,
        lambda ready, loaded: f"RSS is {ready / 2**20:.0f} MiB at ready and {loaded / 2**20:.0f} MiB after load",
        "server.memory_at_ready.rss_bytes",
        "server.memory_after_load.rss_bytes",
    ),
    figure(  # the best HTTP level's throughput over the baseline's (the file's own ratio is rounded to 3 digits)
        PERFORMANCE,
        BENCH,
        lambda http, eager: f"is {http / eager:.2f}× the eager torch",
        "server.http.levels[2].throughput_images_per_s",
        "baseline_torch_eager.images_per_s",
    ),
    figure(PERFORMANCE, BENCH, "the micro-batcher is {:.2f}×".format, "ratios.best_engine_concurrency_vs_torch_eager"),
    *[
        figure(TRAINING, TRAINING_STEP, "| {:.1f} images/s |".format, f"runs[{i}].images_per_s")
        for i in range(4)  # 32² ch64, 32² ch128, 64² ch64, 64² ch128
    ],
    figure(
        PERFORMANCE,
        FULLSIZE,
        lambda ort, torch, nvlabs: f"| StyleGAN3-T | {spread(ort)} | {spread(torch)} | {spread(nvlabs)} |",
        f"{SG3T}.onnxruntime.seconds_per_image",
        f"{SG3T}.torch.seconds_per_image",
        f"{SG3T}.nvlabs_eager_cpu.seconds_per_image",
    ),
]


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            path = target.partition("#")[0]
            if path and not re.match(r"[a-z]+:", path) and not (page.parent / path).exists():
                broken.append(f"{page.relative_to(REPO_ROOT)}: {target}")
    assert not broken, broken


def test_readme_is_a_short_front_door():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    for command in ("make serve", "make test"):
        assert command in text


@pytest.mark.parametrize("fig", FIGURES, ids=lambda fig: f"{fig.page.name}:{fig.paths[0]}")
def test_figure_is_the_value_in_its_results_file(fig):
    results = json.loads((RESULTS / fig.results).read_text())
    text = fig.render(*(value_at(results, path) for path in fig.paths))
    page = fig.page.read_text()
    assert text in page, f"{fig.page.name} should say {text!r} ({fig.results})"
    if fig.page == README:  # the README names the file each headline figure comes from
        line = next(line for line in page.splitlines() if text in line)
        assert fig.results in line, line


def test_readme_states_the_parity_the_tests_assert():
    """The README's parity sentence, with the figures of nvlabs_reference and tolerances."""
    text = " ".join(README.read_text().split())
    exact = f"{nvlabs_reference.MIN_EXACT_SHARE:.1%}".replace(".0%", "%")
    stated = (
        f"every uint8 value within {nvlabs_reference.MAX_UINT8_DIFF}/255, at least {exact} exact, and float outputs"
        f" within {tolerances.SYNTHESIS_ULPS} float32 roundings of the largest value"
    )
    assert stated in text


def test_the_training_curve_in_training_md_is_the_evaluation_log():
    """docs/training.md's progress table has one row per evaluated snapshot of the committed run, as
    evaluation.jsonl has it (make the rows again after `ganserve evaluate`)."""
    records = [json.loads(line) for line in (REPO_ROOT / "runs" / "emoji32" / "evaluation.jsonl").read_text().splitlines()]
    text = TRAINING.read_text()
    missing = []
    for record in sorted(records, key=lambda r: r["kimg"]):
        row = f"| {record['kimg']} | {record['fd']:.2f} | {record['fd_ratio']:.1f} | {record['class_accuracy']:.1%} |"
        if row not in text:
            missing.append(row)
    assert not missing, missing


def test_the_limits_security_md_states_are_the_settings_defaults():
    """Its table of limits, row by row: `GANSERVE_X` | default | …, against Settings()."""
    from ganserve.settings import Settings

    defaults = Settings()
    rows = re.findall(r"^\| `GANSERVE_([A-Z_]+)` \| ([0-9]+) \|", (REPO_ROOT / "docs" / "security.md").read_text(), re.MULTILINE)
    assert len(rows) == 7
    for name, stated in rows:
        assert getattr(defaults, name.lower()) == int(stated), name
