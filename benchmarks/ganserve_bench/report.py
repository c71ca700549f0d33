"""What the results mean side by side: the ratios between the parts, and the summary printed at the end;
with the pieces every command's summary shares (title, contention footer, number formats) and the file writer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[1] / "results"  # benchmarks/results, wherever the command runs from


def ratios(machine: dict, server: dict, engine: dict, torch_baseline: dict) -> dict:
    """Best throughput of each part against the others and the engine's GFLOP/s against the matmul's."""
    best_batch = max(engine["batches"], key=lambda b: b["images_per_s"])
    best_http = max(r["throughput_images_per_s"] for r in server["http"]["levels"])
    best_concurrent = max(r["throughput_images_per_s"] for r in engine["concurrency"]["levels"])
    torch_rate = torch_baseline.get("images_per_s")  # absent when the baseline was skipped
    return {
        "best_engine_batch": best_batch["batch_size"],
        "best_engine_gflops": best_batch["achieved_gflops"],
        "best_engine_fraction_of_matmul": ratio(best_batch["achieved_gflops"], machine["matmul_fp32"]["best_gflops"]),
        "best_engine_vs_torch_eager": ratio(best_batch["images_per_s"], torch_rate),
        "best_engine_concurrency_vs_torch_eager": ratio(best_concurrent, torch_rate),
        "best_http_vs_torch_eager": ratio(best_http, torch_rate),
        "best_http_vs_best_engine_concurrency": ratio(best_http, best_concurrent),
    }


def summary(result: dict) -> str:
    """A table of every run in the result file, then the ratios and how busy the machine was."""
    m, s = result["machine"], result["server"]
    mib = 1024 * 1024
    lines = [
        title("server", result),
        f"server: ready in {s['startup']['time_to_ready_s']:.3f} s, torch loaded: {s['torch_loaded']}, "
        f"RSS after load {s['memory_after_load']['rss_bytes'] / mib:.0f} MiB "
        f"(peak {s['memory_after_load']['peak_rss_bytes'] / mib:.0f} MiB, at ready {s['memory_at_ready']['rss_bytes'] / mib:.0f} MiB)",
        http_load(s["http"]),
        "",
        f"{'run':<26}{'conc':>5}{'n':>6}{'err':>5}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'img/s':>9}",
    ]
    for r in s["http"]["levels"]:
        lines.append(_row("http png, distinct seeds", r, r["concurrency"], r["requests"]))
    hot = s["http"]["hot"]
    lines.append(_row("http png, hot (cached)", hot, hot["concurrency"], hot["requests"]))
    for r in result["engine"]["concurrency"]["levels"]:
        lines.append(_row("engine via micro-batcher", r, r["concurrency"], r["requests"]))
    for b in result["engine"]["batches"]:
        lines.append(_row(f"engine batch {b['batch_size']}", b, "-", b["iterations"] * b["batch_size"]))
    lines += encode_budget(result)
    base = result["baseline_torch_eager"]
    if base["status"] == "ok":
        lines.append(_row("torch eager batch 1", base, "-", base["images"]))
    else:
        lines.append(f"torch eager baseline: {base['status']} ({base['reason']})")
    r, flops = result["ratios"], result["model"]
    lines += [
        "",
        f"matmul fp32 {m['matmul_fp32']['best_gflops']} GFLOP/s; generator {flops['gflop_per_image']} GFLOP/image, "
        f"best engine batch {r['best_engine_batch']} at {r['best_engine_gflops']} GFLOP/s "
        f"({r['best_engine_fraction_of_matmul']} of matmul)",
        f"vs torch eager: engine best batch x{r['best_engine_vs_torch_eager']}, "
        f"engine via batcher x{r['best_engine_concurrency_vs_torch_eager']}, http x{r['best_http_vs_torch_eager']}; "
        f"http / engine via batcher {r['best_http_vs_best_engine_concurrency']}",
        *contention(m),
    ]
    return "\n".join(lines)


def encode_budget(result: dict) -> list[str]:
    """The PNG encode's ms per image next to each engine batch's (files from before it have none)."""
    budget = result.get("encode_budget")
    if budget is None:
        return []
    pool = budget.get("pool")
    in_pool = f", {number(pool['ms_per_image'])} in the pool of {pool['threads']} threads" if pool else ""
    lines = [
        f"encode budget, {budget['format']} level {budget['png_compress_level']} at {budget['size']}²: "
        f"{number(budget['ms_per_image'])} ms/image with one thread{in_pool}"
    ]
    for batch, ms in budget["engine_ms_per_image"].items():
        lines.append(f"  engine batch {batch}: {number(ms)} ms/image; encode / engine {budget['encode_over_engine'][batch]}")
    return lines


def title(command: str, result: dict) -> str:
    """The summary's first line: command, model and the machine it ran on."""
    m, model = result["machine"], result["model"]
    return (
        f"ganserve_bench {command} {model['name']} ({model['resolution']}px) on {m['cpu_model']}, "
        f"{m['usable_cpus']} cpus, commit {(m['git_commit'] or 'unknown')[:12]}{' (dirty)' if m['git_dirty'] else ''}"
    )


def contention(machine: dict, tail: str = "") -> list[str]:
    """How busy other processes kept the machine during the run (tail: appended to that line), and a
    warning when they skewed the figures."""
    busy = machine["contention"]
    lines = [
        f"other processes used {busy['foreign_cpu_cores']} cores (steal {busy['steal_cpu_cores']}) of {machine['usable_cpus']} "
        f"during the run; load average {machine['load_average_at_start']} -> {machine['load_average_at_end']}{tail}"
    ]
    if (busy["foreign_cpu_cores"] or 0) > 0.2:
        lines.append("WARNING: the machine was not idle: these figures are skewed, run again when it is")
    return lines


def http_load(http: dict) -> str:
    """Which client loaded the server and how long or how much per level."""
    generator = http.get("load_generator", "httpx")
    if "seconds_per_level" in http:
        return f"http load: {generator}, {http['seconds_per_level']} s per level after {http['warmup_seconds']} s of warm-up"
    return f"http load: {generator}, {http.get('requests_per_level', '?')} requests per level (a Python client on the same cores)"


def _row(name: str, run: dict, concurrency: int | str, n: int) -> str:
    """One table line; fixed-batch and baseline runs have no error count and report images_per_s."""
    lat = run["latency_ms"]
    return (
        f"{name:<26}{concurrency:>5}{n:>6}{run.get('errors', 0):>5}{number(lat['p50']):>9}{number(lat['p90']):>9}{number(lat['p99']):>9}"
        f"{number(lat['mean']):>9}{run.get('throughput_images_per_s', run.get('images_per_s')):>9}"
    )


def number(value: float | None) -> str:
    """A figure in a summary table: two decimals, "-" where there is none."""
    return "-" if value is None else f"{value:.2f}"


def ratio(a: float | None, b: float | None, digits: int = 3) -> float | None:
    """a / b rounded, None where either is missing or zero."""
    return round(a / b, digits) if a and b else None


def header(schema: str, created: datetime, started: float) -> dict:
    """The fields every result file starts with; started: the run's time.perf_counter() at its start."""
    return {"schema": schema, "created_utc": created.isoformat(timespec="seconds"), "duration_s": round(time.perf_counter() - started, 2)}


def write_results(out: Path, name: str, created: datetime, result: dict, text: str, log: Callable[[str], None]) -> Path:
    """benchmarks/results/<name>-<UTC time>.json, then the human-readable summary."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{created.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    log("")
    log(text)
    return path
