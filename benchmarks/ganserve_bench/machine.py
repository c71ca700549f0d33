"""The machine the figures were taken on: hardware, versions, commit, its dense-compute ceiling, and
how much of it other processes took while the benchmark ran."""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import time
from importlib import metadata
from pathlib import Path

import numpy as np

from ganserve_bench import proc

VERSIONED_PACKAGES = ("ganserve", "numpy", "onnxruntime", "torch", "fastapi", "uvicorn", "httpx", "pillow")
# The vector instructions that decide float32 speed and rounding (the CPUs of shared machines vary).
VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16")
CHECKOUT = Path(__file__).resolve().parents[2]  # the benchmarks run from a checkout: its commit is recorded


def matmul_gflops(n: int = 2048, repeats: int = 5) -> dict:
    """fp32 numpy matmul, the machine's practical dense-compute ceiling on this BLAS."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: thread pool start, page faults
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        rates.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
    return {"n": n, "repeats": repeats, "best_gflops": round(max(rates), 2), "median_gflops": round(statistics.median(rates), 2)}


def load_average() -> list[float] | None:
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def describe_machine() -> dict:
    status = _git("status", "--porcelain")
    cpuinfo = proc.fields("/proc/cpuinfo", ["model name", "flags"])
    return {
        "cpu_model": cpuinfo["model name"] or platform.processor() or None,
        "cpu_vector_flags": None if cpuinfo["flags"] is None else [f for f in VECTOR_FLAGS if f in cpuinfo["flags"].split()],
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_total_bytes": proc.kib_to_bytes(proc.fields("/proc/meminfo", ["MemTotal"])["MemTotal"]),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": {name: _version(name) for name in VERSIONED_PACKAGES},
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "load_average_at_start": load_average(),  # other work on a shared machine skews every figure
        "matmul_fp32": matmul_gflops(),
    }


class CpuAccount:
    """How much CPU other processes used while the benchmark ran: all busy time in /proc/stat less
    this process's and its children's (the server, once reaped). On a shared machine this says
    whether the figures can be trusted; steal is time the hypervisor gave to other machines."""

    def __init__(self):
        self.start = self._read()

    @staticmethod
    def _read() -> tuple[float, float, float, float] | None:
        try:
            ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        except (OSError, ValueError, IndexError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
        tick = os.sysconf("SC_CLK_TCK")
        usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
        own = sum(usage.ru_utime + usage.ru_stime for usage in usages)
        return (user + nice + system + irq + softirq) / tick, steal / tick, own, time.perf_counter()

    def report(self) -> dict:
        end = self._read()
        if self.start is None or end is None:
            return {"foreign_cpu_cores": None, "steal_cpu_cores": None}
        (busy0, steal0, own0, t0), (busy1, steal1, own1, t1) = self.start, end
        wall = t1 - t0
        return {
            "foreign_cpu_cores": round(max(0.0, (busy1 - busy0) - (own1 - own0)) / wall, 3),
            "steal_cpu_cores": round((steal1 - steal0) / wall, 3),
            "own_cpu_cores": round((own1 - own0) / wall, 3),
        }


def _git(*args: str) -> str | None:
    """git's answer about the checkout, None outside one (or without git). --no-optional-locks: even
    `git status` leaves the index alone, so a benchmark writes nothing into the repository but its results."""
    try:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=CHECKOUT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def finish_machine(cpu: CpuAccount, machine: dict) -> None:
    """Last in every benchmark: the load average at the end, and what other processes took meanwhile."""
    machine["load_average_at_end"] = load_average()
    machine["contention"] = cpu.report()


def measure_machine(log) -> tuple[CpuAccount, dict]:
    """Start CPU accounting and describe the machine: first in every benchmark, because the matmul
    figure needs an idle machine, with no engine threads running in this process yet."""
    cpu = CpuAccount()
    machine = describe_machine()
    log(f"  matmul fp32: {machine['matmul_fp32']['best_gflops']} GFLOP/s")
    return cpu, machine
