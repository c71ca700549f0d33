"""What `python -m ganserve_bench cache` found, side by side: hit against miss per backend, and the printed summary."""

from __future__ import annotations

from ganserve_bench.cache_runs import BACKENDS
from ganserve_bench.report import contention, number, ratio, title

RATIO_DIGITS = 2


def _ratio(a: float | None, b: float | None) -> float | None:
    return ratio(a, b, RATIO_DIGITS)


def comparisons(result: dict) -> dict:
    """Hit against miss over HTTP per backend and level; w hit against the mapping it saves."""
    http = []
    for backend, runs in result["http"]["backends"].items():
        for level in runs["levels"]:
            miss, hit = level["miss"], level["hit"]
            http.append(
                {
                    "backend": backend,
                    "concurrency": level["concurrency"],
                    "hit_throughput_vs_miss": _ratio(hit["throughput_images_per_s"], miss["throughput_images_per_s"]),
                    "miss_p50_vs_hit_p50": _ratio(miss["latency_ms"]["p50"], hit["latency_ms"]["p50"]),
                }
            )
    w = {}
    for backend in BACKENDS:
        r = result["inprocess"][backend]
        w[backend] = {
            "miss_p50_vs_hit_p50": _ratio(r["miss"]["latency_us"]["p50"], r["hit"]["latency_us"]["p50"]),
            "engine_map_p50_vs_hit_p50": _ratio(r["engine_map"]["latency_us"]["p50"], r["hit"]["latency_us"]["p50"]),
            "saved_per_hit_p50_us": round(r["miss"]["latency_us"]["p50"] - r["hit"]["latency_us"]["p50"], 1),
        }
    return {"http": http, "w": w}


def summary(result: dict) -> str:
    m, redis_info = result["machine"], result["redis"]
    lines = [
        f"{title('cache', result)}; redis-server {redis_info['version']}",
        f"http load: {result['http']['load_generator']}, {result['parameters']['http_seconds_per_run']} s per run; "
        "miss = distinct seeds, hit = one primed URL repeated",
        "",
        f"{'http png':<22}{'conc':>5}{'n':>7}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'img/s':>10}  server image cache hit/miss",
    ]
    for backend, runs in result["http"]["backends"].items():
        for level in runs["levels"]:
            lines += [_http_row(f"{backend} {kind}", level[kind]) for kind in ("miss", "hit")]
    lines += ["", f"{'w in-process (µs)':<30}{'calls':>7}{'p50':>10}{'p99':>10}{'mean':>10}"]
    for backend in BACKENDS:
        r = result["inprocess"][backend]
        for name, run in (("w hit", r["hit"]), ("w miss (map + write)", r["miss"]), ("engine.map alone", r["engine_map"])):
            lines.append(_us_row(f"{backend} {name}", run))
    lines.append(_us_row("redis raw MGET 1 KiB", result["inprocess"]["redis_mget_1kib"]))
    lines.append("")
    for c in result["comparisons"]["http"]:
        lines.append(
            f"http {c['backend']} c={c['concurrency']}: hit x{c['hit_throughput_vs_miss']} the miss throughput, "
            f"miss p50 x{c['miss_p50_vs_hit_p50']} the hit p50"
        )
    for backend, c in result["comparisons"]["w"].items():
        lines.append(
            f"w {backend}: a hit saves {c['saved_per_hit_p50_us']} µs at p50 (miss x{c['miss_p50_vs_hit_p50']}, "
            f"bare engine.map x{c['engine_map_p50_vs_hit_p50']} the hit)"
        )
    lines += contention(m)
    return "\n".join(lines)


def _http_row(name: str, run: dict) -> str:
    """One wrk run: requests, errors, latency, throughput and what the server's image cache did."""
    lat, cache = run["latency_ms"], run["server_cache"]
    return (
        f"{name:<22}{run['concurrency']:>5}{run['requests']:>7}{run['errors']:>5}{number(lat['p50']):>9}{number(lat['p99']):>9}"
        f"{run['throughput_images_per_s']:>10}  {cache.get('image_hit', 0)}/{cache.get('image_miss', 0)}"
    )


def _us_row(name: str, run: dict) -> str:
    """One in-process timing: calls and latency in µs."""
    lat = run["latency_us"]
    return f"{name:<30}{run['calls']:>7}{number(lat['p50']):>10}{number(lat['p99']):>10}{number(lat['mean']):>10}"
