"""The benchmarks (benchmarks/ganserve_bench) end to end with tiny numbers: the JSON they write, not the figures in it."""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ganserve
import ganserve_bench
from ganserve.artifacts import ModelConfig, Source
from ganserve.settings import Settings
from ganserve.triton import local
from ganserve_bench import machine, proc
from ganserve_bench import wrk as wrk_runs
from ganserve_bench.engine import generator_macs
from ganserve_bench.server import bench_server
from ganserve_bench.serving import run_benchmark
from ganserve_bench.timing import closed_loop

WRK = wrk_runs.find()
needs_wrk = pytest.mark.skipif(WRK is None, reason="wrk is not installed (apt-get install wrk; `make bench` installs it)")


@pytest.mark.slow
def test_run_benchmark_writes_results(tmp_path):
    path = run_benchmark(
        "demo64", 8, [1, 4], tmp_path / "results", engine_seconds=0.1, engine_batch_sizes=(1, 4), use_wrk=False, log=lambda _: None
    )

    assert path.parent == tmp_path / "results" and path.name.startswith("bench-demo64-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    for key in ("schema", "created_utc", "parameters", "machine", "model", "server", "engine", "baseline_torch_eager", "ratios"):
        assert key in result
    assert result["parameters"]["requests_per_level"] == 8
    assert result["machine"]["matmul_fp32"]["best_gflops"] > 0
    assert result["model"]["macs_per_image"]["total"] > 0

    server = result["server"]
    assert server["startup"]["time_to_ready_s"] > 0
    assert "demo64" in server["startup"]["readyz_body"]["models"]  # the committed models, as `make serve` serves them
    assert server["libraries_after_load"]["onnxruntime"] is True  # the /proc check sees native libraries
    assert server["torch_loaded"] is False
    assert server["memory_after_load"]["rss_bytes"] > 0
    assert server["exit_code"] is not None

    assert server["http"]["load_generator"] == result["parameters"]["http_load_generator"] == "httpx"
    levels = server["http"]["levels"]
    assert [level["concurrency"] for level in levels] == [1, 4]
    for run in [*levels, server["http"]["hot"]]:
        assert run["errors"] == 0 and run["ok"] == 8, run["outcomes"]
        assert set(run["latency_ms"]) >= {"p50", "p90", "p99", "mean"}
        assert run["throughput_images_per_s"] > 0

    engine = result["engine"]
    assert [b["batch_size"] for b in engine["batches"]] == [1, 4]
    assert all(b["images_per_s"] > 0 for b in engine["batches"])
    assert [level["concurrency"] for level in engine["concurrency"]["levels"]] == [1, 4]
    assert all(level["errors"] == 0 for level in engine["concurrency"]["levels"])

    baseline = result["baseline_torch_eager"]
    assert baseline["status"] in ("ok", "skipped")
    if baseline["status"] == "ok":
        assert baseline["images_per_s"] > 0


@pytest.mark.slow
@pytest.mark.skipif(not local.available(Settings().triton_env), reason=f"no local tritonserver: {local.INSTALL_HINT}")
def test_run_triton_benchmark_writes_results(tmp_path):
    from ganserve_bench.triton import run_triton_benchmark

    path = run_triton_benchmark("demo64", 4, [1, 2], tmp_path / "results", http_seconds=1, log=lambda _: None)  # wrk where installed

    assert path.parent == tmp_path / "results" and path.name.startswith("bench-triton-demo64-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    for key in ("schema", "created_utc", "parameters", "machine", "model", "tritonserver", "runs", "comparisons"):
        assert key in result
    assert result["parameters"]["requests_per_level"] == 4 and "dynamic_batching" in result["parameters"]["dynamic_batching_on"]
    assert result["machine"]["matmul_fp32"]["best_gflops"] > 0

    runs = result["runs"]
    http = [runs["gateway_triton"]["levels"], runs["gateway_embedded"]["levels"]]
    direct = [runs["direct"], runs["direct_png"], runs["direct_batching_off"]]
    generator = "httpx" if WRK is None else WRK.label
    assert result["parameters"]["http_load_generator"] == runs["gateway_triton"]["load_generator"] == generator
    for levels in [*http, *direct]:
        assert [run["concurrency"] for run in levels] == [1, 2]
        for run in levels:
            assert run["errors"] == 0 and run["requests"] > 0, run["outcomes"]
            assert set(run["latency_ms"]) >= {"p50", "p99", "mean"} and run["throughput_images_per_s"] > 0
    for levels in [*direct, *(http if WRK is None else [])]:
        assert all(run["requests"] == 4 for run in levels)  # fixed-count runs; wrk's run for a time
    for run in [*runs["direct"], *runs["gateway_triton"]["levels"]]:
        # Triton saw exactly the measured work: every request sent (wrk: also those it left in flight, answered before the count).
        assert run["triton"]["models"]["demo64_synthesis"]["inferences"] == run.get("sent", 4)
    off = [run["triton"]["models"]["demo64_synthesis"]["batch_sizes"] for run in runs["direct_batching_off"]]
    assert all(sizes == {"1": 4} for sizes in off), off
    for name in ("gateway_triton", "gateway_embedded"):
        assert runs[name]["exit_code"] is not None and runs[name]["memory_after_load"]["rss_bytes"] > 0
    assert runs["gateway_triton"]["tritonserver_memory_after_load"]["processes"] > 1  # tritonserver and its stubs

    comparisons = result["comparisons"]
    assert [o["concurrency"] for o in comparisons["gateway_overhead"]] == [1, 2]
    assert [b["concurrency"] for b in comparisons["dynamic_batching"]] == [1, 2]
    assert comparisons["embedded_vs_triton"]["memory"]["tritonserver_rss_bytes"] > 0


@pytest.mark.slow
@needs_wrk
def test_bench_server_with_wrk_writes_its_runs():
    """The wrk path on the real server: one short level and the hot run, parsed into the httpx runs' keys."""
    server = bench_server("demo64", 8, [2], 2, lambda _: None, http_seconds=1, use_wrk=True)

    http = server["http"]
    assert http["load_generator"] == WRK.label and http["load_generator"].startswith("wrk ")
    assert http["seconds_per_level"] == 1 and server["exit_code"] is not None
    (level,) = http["levels"]
    for run in (level, http["hot"]):
        assert run["errors"] == 0 and run["ok"] == run["requests"] > 0 and run["outcomes"] == {"200": run["ok"]}, run
        assert run["concurrency"] == 2 and run["sent"] >= run["requests"] and run["drain_s"] is not None
        assert set(run["latency_ms"]) == {"p50", "p90", "p99", "mean", "min", "max"}
        assert run["latency_ms"]["min"] <= run["latency_ms"]["p50"] <= run["latency_ms"]["p99"] <= run["latency_ms"]["max"]
        assert run["throughput_images_per_s"] > 0 and run["wall_s"] > 0 and run["client_cpu_cores"] >= 0
        assert run["server_cpu_cores"] is not None
    assert level["first_seed"] == 2_000_000 and http["hot"]["first_seed"] is None
    # Every seed was new (warm-up and level), the hot seed was cached after its first request.
    cache = http["server_metrics"]["cache_lookups"]
    assert cache["image_miss"] >= level["sent"] and cache["image_hit"] >= http["hot"]["sent"]


def test_wrk_script_rejects_paths_it_cannot_quote():
    assert "/v1/models/demo64/seeds/" in wrk_runs.script("/v1/models/demo64/seeds/{seed}.png", 5)
    with pytest.raises(ValueError):
        wrk_runs.script('/v1/"; os.exit()', None)
    with pytest.raises(ValueError):
        wrk_runs.script("/v1/models/demo64/seeds/1.png", 5)  # distinct seeds need the placeholder


def test_generator_macs_matches_stylegan2_config_f():
    """The executed-conv count of config F at 1024 is the 74 GMAC quoted for StyleGAN2."""
    config = ModelConfig(name="f", resolution=1024, z_dim=512, w_dim=512, num_ws=18, source=Source(kind="trained"))
    assert generator_macs(config)["conv3x3"] == pytest.approx(74e9, rel=0.01)


async def test_closed_loop_counts_outcomes_and_times_only_ok_requests():
    async def request(seed: int) -> str:
        return "ok" if seed % 2 else "ValueError"

    latencies, outcomes, wall = await closed_loop(list(range(10)), 3, request, ok="ok")

    assert outcomes == {"ok": 5, "ValueError": 5}
    assert len(latencies) == 5 and wall > 0


def test_proc_reads_this_process_and_tolerates_missing_files(tmp_path):
    if not proc.fields("/proc/self/status", ["Name"])["Name"]:
        pytest.skip("no /proc")
    assert proc.memory(os.getpid())["rss_bytes"] > 0
    assert proc.cpu_seconds(os.getpid()) > 0
    assert proc.fields(str(tmp_path / "missing"), ["VmRSS"]) == {"VmRSS": None}


def test_machine_records_the_commit_only_from_a_checkout(monkeypatch, tmp_path):
    """The commit comes from the checkout the benchmarks run from; elsewhere it is None, never an error."""
    if (machine.CHECKOUT / ".git").exists():
        assert re.fullmatch("[0-9a-f]{40}", machine._git("rev-parse", "HEAD") or "")
    monkeypatch.setattr(machine, "CHECKOUT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # git must not find a repository above tmp_path
    assert machine._git("rev-parse", "HEAD") is None and machine._git("status", "--porcelain") is None


def test_the_server_package_imports_no_benchmark_code():
    """The gateway image ships server/ only: nothing in it may import ganserve_bench."""
    offending = []
    for path in Path(ganserve.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offending += [f"{path}: {name}" for name in names if name.split(".")[0] == "ganserve_bench"]
    assert offending == []


def test_every_benchmark_module_imports():
    """Also those whose runs need a tritonserver or wrk, which may be skipped here."""
    for module in pkgutil.iter_modules(ganserve_bench.__path__):
        importlib.import_module(f"ganserve_bench.{module.name}")


def test_the_command_runs_as_make_runs_it(tmp_path):
    """`PYTHONPATH=benchmarks python -m ganserve_bench`, from any folder; bad options are named."""
    env = {**os.environ, "PYTHONPATH": str(Path(ganserve_bench.__file__).parents[1])}

    def bench(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "ganserve_bench", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    done = bench("--help")
    assert done.returncode == 0, done.stderr
    for command in ("server", "triton", "grpc", "cache", "training"):
        assert command in done.stdout
    bad = bench("grpc", "--concurrency", "1,x")
    assert bad.returncode == 2 and "--concurrency" in bad.stderr and "'1,x'" in bad.stderr, bad.stderr


@pytest.mark.slow
@needs_wrk
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed (make system-deps)")
def test_run_cache_benchmark_writes_results(tmp_path, monkeypatch):
    """The cache benchmark with 1 s wrk runs and a few in-process lookups: keys and outcomes, not figures."""
    from ganserve_bench.cache import BACKENDS, run_cache_benchmark

    # On a loaded machine a Redis call can outlast the 25 ms budget and count as a cache error (a bypass,
    # as designed); a second's budget here, so that any error the test sees is a real one.
    monkeypatch.setenv("GANSERVE_REDIS_TIMEOUT_MS", "1000")

    out = tmp_path / "results"
    path = run_cache_benchmark("demo64", out, concurrency=[1, 2], http_seconds=1, w_lookups=30, map_seconds=0.05, log=lambda _: None)

    assert path.parent == out and path.name.startswith("bench-cache-demo64-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    for key in ("schema", "created_utc", "parameters", "machine", "model", "redis", "http", "inprocess", "comparisons"):
        assert key in result
    assert result["machine"]["matmul_fp32"]["best_gflops"] > 0
    assert result["redis"]["version"] and result["redis"]["maxmemory_policy"] == "allkeys-lru"
    assert result["redis"]["state"]["at_end"]["evicted_keys"] == 0
    assert result["http"]["load_generator"] == WRK.label

    for backend in BACKENDS:
        http = result["http"]["backends"][backend]
        assert http["exit_code"] is not None and [level["concurrency"] for level in http["levels"]] == [1, 2]
        for level in http["levels"]:
            miss, hit = level["miss"], level["hit"]
            for run in (miss, hit):
                assert run["errors"] == 0 and run["ok"] == run["requests"] > 0, run["outcomes"]
                assert run["server_cache"]["image_errors"] == run["server_cache"]["w_errors"] == 0
                assert set(run["latency_ms"]) >= {"p50", "p99"} and run["throughput_images_per_s"] > 0
            assert miss["server_cache"]["image_hit"] == 0 and miss["server_cache"]["image_miss"] >= miss["requests"]
            assert hit["server_cache"]["image_miss"] == 0 and hit["server_cache"]["image_hit"] >= hit["requests"]

        w = result["inprocess"][backend]
        assert w["hit"]["cache_stats"] == {"hits": 30, "misses": 0, "errors": 0, "bypassed": 0}
        assert w["miss"]["cache_stats"] == {"hits": 0, "misses": 10, "errors": 0, "bypassed": 0}
        assert w["miss"]["rechecked_as_hits"]["hits"] == 10  # the misses were written
        for run in (w["hit"], w["miss"], w["engine_map"]):
            assert run["calls"] > 0 and set(run["latency_us"]) >= {"p50", "p99", "mean"}
    assert result["inprocess"]["lru"]["cache"] == "MemoryCache" and result["inprocess"]["redis"]["cache"] == "RedisCache"
    assert result["inprocess"]["redis_mget_1kib"]["calls"] == 30
    # The LRU server never touched Redis; the Redis one stored its images and w there.
    assert result["redis"]["state"]["after_http_lru"]["keys"] == 0 < result["redis"]["state"]["after_http_redis"]["keys"]


@pytest.mark.slow
def test_run_grpc_benchmark_writes_results(tmp_path):
    """The gRPC benchmark with a few requests per level: keys and outcomes, not figures."""
    from ganserve_bench.grpc import MODES, run_grpc_benchmark

    path = run_grpc_benchmark("demo64", tmp_path, [1, 2], requests_c1=5, requests_per_worker=2, log=lambda _: None)
    result = json.loads(path.read_text())
    assert path.name.startswith("bench-grpc-demo64-") and result["schema"] == "ganserve-bench-grpc/1"
    assert isinstance(result["machine"]["cpu_vector_flags"], list) and result["machine"]["cpu_model"]
    assert set(result["modes"]) == set(MODES)
    for runs in result["modes"].values():
        assert [run["concurrency"] for run in runs] == [1, 2]
        for run in runs:
            assert run["errors"] == 0 and run["outcomes"] == {"ok": run["requests"]}
            assert run["latency_ms"]["p99"] >= run["latency_ms"]["p50"] > 0 and run["server_cpu_ms_per_image"] > 0
    assert set(result["comparisons"]) == {
        f"{m}_vs_http_png_{s}_c{c}" for m in ("grpc_raw", "grpc_png") for s in ("p50", "p99") for c in (1, 2)
    }


@pytest.mark.slow
def test_run_training_benchmark_writes_results(tmp_path):
    from ganserve_bench.training import run_training_benchmark

    path = run_training_benchmark(tmp_path, None, steps=1, sizes=[(16, 16)], threads=1, log=lambda line: None)
    result = json.loads(path.read_text())
    assert result["schema"] == "ganserve-bench-training/1" and result["torch_threads"] == 1
    assert result["machine"]["cpu_vector_flags"] is not None  # the CPU's flags describe the figures
    (run,) = result["runs"]
    assert run["resolution"] == 16 and run["data"] == "random" and run["images_per_s"] > 0
    assert run["ratio_to_nvlabs_table"] is None  # no NVlabs figure at this size


def test_run_slider_benchmark_writes_results(tmp_path):
    from ganserve_bench.slider import run_slider_benchmark, strengths

    assert strengths(3) == [-3.0, 0.0, 3.0]
    path = run_slider_benchmark("demo64", tmp_path, 8, [1, 2], log=lambda _: None)
    result = json.loads(path.read_text())
    assert result["schema"] == "ganserve-bench-slider/1" and result["model"]["resolution"] == 64
    assert [run["concurrency"] for run in result["http"]] == [1, 2]
    for run in result["http"]:
        assert run["requests_per_arm"] == 8 and run["errors"] == {"plain": 0, "edited": 0}
        assert run["plain_latency_ms"]["p50"] > 0 and run["edited_latency_ms"]["p99"] > 0
    assert set(result["edit_in_process"]) == {"1_edits", "16_edits"}
    assert result["edit_adds_under_1_ms"] == all(e["added_p50_ms"] < 1 for e in result["edit_in_process"].values())
    assert result["machine"]["cpu_model"]


def test_run_overload_benchmark_writes_results(tmp_path):
    """The overload benchmark on the demo model's sizes, 2 s per server: keys and outcomes, not figures."""
    from ganserve_bench.overload import run_overload_benchmark

    path = run_overload_benchmark(4, 2.0, 1500, tmp_path, small=True, log=lambda _: None)
    result = json.loads(path.read_text())
    assert result["schema"] == "ganserve-bench-overload/1" and result["concurrency"] == 4
    assert set(result["runs"]) == {"alternative", "ganserve_no_deadline", "ganserve_deadline"}
    for run in result["runs"].values():
        assert run["images_ok"] > 0 and run["failed"] == 0 and run["latency_ok_ms"]["p99"] > 0
    assert result["network"]["synthesis"]["channel_base"] == 4096 and result["network"]["gmac_per_image"] > 0
    assert set(result["goal"]) == {"p99_ok_over_alternative_p99", "p99_goal", "goodput_over_alternative_throughput", "goodput_goal", "met"}
    assert result["machine"]["cpu_vector_flags"] is not None
