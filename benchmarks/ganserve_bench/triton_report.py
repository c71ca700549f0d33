"""What `python -m ganserve_bench triton` found, side by side: the three comparisons and the printed summary."""

from __future__ import annotations

from ganserve_bench.report import contention, number, ratio, title

MIB = 1024 * 1024


def _by_level(runs: list[dict]) -> dict[int, dict]:
    return {r["concurrency"]: r for r in runs}


def _diff(a: dict, b: dict, key: str) -> float | None:
    x, y = a["latency_ms"][key], b["latency_ms"][key]
    return None if x is None or y is None else round(x - y, 3)


def _rate(run: dict) -> float:
    return run["throughput_images_per_s"]


def _mean_batch(run: dict, part: str = "synthesis") -> float | None:
    models = run.get("triton", {}).get("models", {})
    return next((m["mean_batch"] for name, m in models.items() if name.endswith(f"_{part}")), None)


def comparisons(result: dict) -> dict:
    runs = result["runs"]
    gateway, embedded = _by_level(runs["gateway_triton"]["levels"]), _by_level(runs["gateway_embedded"]["levels"])
    direct, direct_png, off = _by_level(runs["direct"]), _by_level(runs["direct_png"]), _by_level(runs["direct_batching_off"])
    overhead = [
        {
            "concurrency": level,
            # The fair one: both sides encode the PNG.
            "gateway_minus_direct_png_ms": {k: _diff(gateway[level], direct_png[level], k) for k in ("p50", "p99", "mean")},
            "gateway_minus_direct_ms": {k: _diff(gateway[level], direct[level], k) for k in ("p50", "p99", "mean")},
            "png_added_latency_ms_mean": _diff(direct_png[level], direct[level], "mean"),
            "png_encode_ms_mean": direct_png[level]["png_encode_ms"]["mean"],
            "gateway_vs_direct_png_images_per_s": ratio(_rate(gateway[level]), _rate(direct_png[level])),
            "gateway_vs_direct_images_per_s": ratio(_rate(gateway[level]), _rate(direct[level])),
        }
        for level in gateway
    ]
    batching = [
        {
            "concurrency": level,
            "on_vs_off_images_per_s": ratio(_rate(direct[level]), _rate(off[level])),
            "p50_ms": {"on": direct[level]["latency_ms"]["p50"], "off": off[level]["latency_ms"]["p50"]},
            "p99_ms": {"on": direct[level]["latency_ms"]["p99"], "off": off[level]["latency_ms"]["p99"]},
            "synthesis_mean_batch": {"on": _mean_batch(direct[level]), "off": _mean_batch(off[level])},
        }
        for level in direct
    ]
    versus = [
        {
            "concurrency": level,
            "triton_vs_embedded_images_per_s": ratio(_rate(gateway[level]), _rate(embedded[level])),
            "p50_ms": {"embedded": embedded[level]["latency_ms"]["p50"], "triton": gateway[level]["latency_ms"]["p50"]},
            "p99_ms": {"embedded": embedded[level]["latency_ms"]["p99"], "triton": gateway[level]["latency_ms"]["p99"]},
        }
        for level in gateway
    ]
    tree = runs["gateway_triton"]["tritonserver_memory_after_load"]
    gateway_rss = runs["gateway_triton"]["memory_after_load"]["rss_bytes"]
    memory = {
        "embedded_gateway_rss_bytes": runs["gateway_embedded"]["memory_after_load"]["rss_bytes"],
        "triton_gateway_rss_bytes": gateway_rss,
        "tritonserver_rss_bytes": tree["rss_bytes"],
        "tritonserver_pss_bytes": tree["pss_bytes"],
        "tritonserver_processes": tree["processes"],
        "triton_total_rss_bytes": (gateway_rss or 0) + tree["rss_bytes"],
    }
    return {"gateway_overhead": overhead, "dynamic_batching": batching, "embedded_vs_triton": {"levels": versus, "memory": memory}}


HEADER = f"{'run':<34}{'conc':>5}{'n':>6}{'err':>5}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'img/s':>9}{'batch':>7}  cpu gw/trt/cli"


def _row(name: str, run: dict) -> str:
    lat = run["latency_ms"]
    batch = _mean_batch(run)
    cores = (run.get("server_cpu_cores"), run.get("triton", {}).get("triton_cpu_cores"), run["client_cpu_cores"])
    cpu = "/".join("-" if v is None else f"{v:.2f}" for v in cores)
    return (
        f"{name:<34}{run['concurrency']:>5}{run['requests']:>6}{run['errors']:>5}{number(lat['p50']):>9}{number(lat['p99']):>9}"
        f"{number(lat['mean']):>9}{_rate(run):>9}{'-' if batch is None else batch:>7}  {cpu}"
    )


def summary(result: dict) -> str:
    m, runs, comp = result["machine"], result["runs"], result["comparisons"]
    gateway, embedded = _by_level(runs["gateway_triton"]["levels"]), _by_level(runs["gateway_embedded"]["levels"])
    direct, direct_png, off = _by_level(runs["direct"]), _by_level(runs["direct_png"]), _by_level(runs["direct_batching_off"])
    ts = result["tritonserver"]
    lines = [
        title("triton", result),
        f"tritonserver (python target) ready in {ts['batching_on']['time_to_ready_s']} s (batching on), "
        f"{ts['batching_off']['time_to_ready_s']} s (off); gateway ready in {runs['gateway_triton']['startup']['time_to_ready_s']} s "
        f"on triton, {runs['gateway_embedded']['startup']['time_to_ready_s']} s embedded",
        "batch = Triton's mean synthesis batch; cpu = cores busy in the gateway / tritonserver and stubs / the client",
        f"clients: gateway http from {_http_load(result['parameters'])}; direct grpc from a Python client "
        f"(tritonclient.grpc.aio), {result['parameters']['requests_per_level']} requests per level",
        "",
        HEADER,
        "1. gateway overhead (triton, dynamic batching on)",
    ]
    for level in gateway:
        lines += [
            _row("gateway http png (triton)", gateway[level]),
            _row("direct grpc + png encode", direct_png[level]),
            _row("direct grpc, no encode", direct[level]),
        ]
    lines.append("2. triton dynamic batching (direct grpc, batch 1 each)")
    for level in direct:
        lines += [_row("dynamic batching on", direct[level]), _row("dynamic batching off", off[level])]
    lines.append("3. embedded vs triton (gateway http png)")
    for level in gateway:
        lines += [_row("gateway embedded (onnxruntime)", embedded[level]), _row("gateway on triton", gateway[level])]
    lines.append("")
    for o in comp["gateway_overhead"]:
        fair, bare = o["gateway_minus_direct_png_ms"], o["gateway_minus_direct_ms"]
        lines.append(
            f"gateway overhead c={o['concurrency']}: p50 {fair['p50']:+.2f} ms, mean {fair['mean']:+.2f} ms over direct+png "
            f"(p50 {bare['p50']:+.2f} ms over direct), img/s x{o['gateway_vs_direct_png_images_per_s']} "
            f"(x{o['gateway_vs_direct_images_per_s']}); png encode {o['png_encode_ms_mean']} ms, adds {o['png_added_latency_ms_mean']} ms"
        )
    for b in comp["dynamic_batching"]:
        mean_batch = b["synthesis_mean_batch"]
        lines.append(
            f"dynamic batching c={b['concurrency']}: on/off img/s x{b['on_vs_off_images_per_s']}, p50 {b['p50_ms']['on']} vs "
            f"{b['p50_ms']['off']} ms, p99 {b['p99_ms']['on']} vs {b['p99_ms']['off']} ms, "
            f"synthesis batch {mean_batch['on']} vs {mean_batch['off']}"
        )
    versus = comp["embedded_vs_triton"]["levels"]
    lines.append("triton/embedded img/s: " + ", ".join(f"c={v['concurrency']} x{v['triton_vs_embedded_images_per_s']}" for v in versus))
    mem = comp["embedded_vs_triton"]["memory"]
    lines.append(
        f"memory after load: embedded gateway RSS {_mib(mem['embedded_gateway_rss_bytes'])}; gateway on triton RSS "
        f"{_mib(mem['triton_gateway_rss_bytes'])} + tritonserver RSS {_mib(mem['tritonserver_rss_bytes'])} "
        f"(PSS {_mib(mem['tritonserver_pss_bytes'])}, {mem['tritonserver_processes']} processes)"
    )
    lines += contention(m, f"; took {result['duration_s']} s")
    return "\n".join(lines)


def _http_load(parameters: dict) -> str:
    generator = parameters.get("http_load_generator", "httpx")
    if parameters.get("http_seconds_per_level"):
        return f"{generator}, {parameters['http_seconds_per_level']} s per level"
    return f"{generator}, {parameters['requests_per_level']} requests per level"


def _mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.0f} MiB"
