"""HTTP load from wrk (C, one thread) instead of a Python client that shares the server's few cores.

On a 2-core machine an httpx AsyncClient needs most of a core to drive 32 connections and becomes
the bottleneck (it reported half the throughput and five times the p99 that wrk measures against
the same server). wrk runs for a fixed time, not a fixed number of requests: each run is given a
duration, one thread (-t1, so the generator uses at most one core), `-c <concurrency>` connections
and a generated Lua script that
- asks for a new seed on every request (first_seed, first_seed + 1, ...), so nothing is a cache hit,
  or for one fixed path (the hot run);
- counts responses by status in response() and checks that each 200 body is a PNG;
- prints, from done(), one `GANSERVE_WRK {...}` JSON line: wrk's exact latency percentiles
  (microseconds, from its per-microsecond histogram of every completed response), its socket error
  counts and the statuses, and how many requests were sent.
wrk stops at its time with requests still in flight; run() then waits until the server has answered
every request sent (its request counter on /metrics), so that the next run starts on an idle server.
"""

from __future__ import annotations

import json
import re
import resource
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ganserve_bench import proc

MARKER = "GANSERVE_WRK "
TIMEOUT_S = 60  # as the httpx client's: wrk counts slower answers as timeouts and leaves them out of its histogram
SOCKET_ERRORS = ("connect", "read", "write", "timeout")  # wrk's "status" errors (>399) are among the statuses already
DRAIN_TIMEOUT_S = 30.0
DRAIN_POLL_S = 0.02
# ganserve_requests_total{route="/v1/models/{model}/seeds/{filename}",status="200"} 134.0
SEED_REQUESTS = re.compile(r'^ganserve_requests_total\{route="[^"]*/seeds/[^"]*",status="[^"]*"\} ([0-9.e+]+)$', re.MULTILINE)

LUA = r"""-- Written by ganserve_bench (benchmarks/ganserve_bench/wrk.py) for one wrk run.
local prefix, suffix, first_seed, distinct = "{prefix}", "{suffix}", {first_seed}, {distinct}
local threads = {{}}
local fixed = nil
sent = 0      -- globals: done() reads them from the thread with thread:get()
statuses = {{}}
not_png = 0

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  fixed = wrk.format(nil, prefix)
end

function request()
  sent = sent + 1
  if not distinct then
    return fixed
  end
  return wrk.format(nil, prefix .. string.format("%d", first_seed + sent - 1) .. suffix)
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 200 and string.sub(body, 1, 8) ~= "\137PNG\r\n\26\n" then
    not_png = not_png + 1
  end
end

function done(summary, latency, requests)
  local counts, total_sent, total_not_png = {{}}, 0, 0
  for _, thread in ipairs(threads) do
    for key, n in pairs(thread:get("statuses")) do
      counts[key] = (counts[key] or 0) + n
    end
    total_sent = total_sent + thread:get("sent")
    total_not_png = total_not_png + thread:get("not_png")
  end
  local parts = {{}}
  for key, n in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', key, n))
  end
  local e = summary.errors
  io.write(string.format(
    '{marker}{{"duration_us": %d, "requests": %d, "bytes": %d, "sent": %d, "not_png": %d, "statuses": {{%s}}, ' ..
    '"socket_errors": {{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}, ' ..
    '"latency_us": {{"min": %d, "max": %d, "mean": %.3f, "stdev": %.3f, "p50": %d, "p90": %d, "p99": %d}}}}\n',
    summary.duration, summary.requests, summary.bytes, total_sent, total_not_png, table.concat(parts, ", "),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.max, latency.mean, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
"""


@dataclass(frozen=True)
class Wrk:
    executable: str
    version: str

    @property
    def label(self) -> str:
        """What the results record as their load generator."""
        return f"wrk {self.version}, 1 thread"


def find() -> Wrk | None:
    """wrk on PATH and its version (`wrk -v` prints e.g. "wrk debian/4.1.0-3+b2 [epoll] ..."), or None."""
    executable = shutil.which("wrk")
    if executable is None:
        return None
    printed = subprocess.run([executable, "-v"], capture_output=True, text=True, timeout=10)
    match = re.search(r"wrk (?:\S*/)?(\d+(?:\.\d+)+)", printed.stdout + printed.stderr)
    return Wrk(executable, match[1] if match else "unknown")


def script(path: str, first_seed: int | None) -> str:
    """The Lua script: with first_seed, `path` holds "{seed}", replaced by a new seed per request."""
    if first_seed is None:
        prefix, suffix = path, ""
    else:
        prefix, _, suffix = path.partition("{seed}")
        if not _:
            raise ValueError(f"a path with distinct seeds needs a {{seed}} placeholder: {path!r}")
    for part in (prefix, suffix):
        if not re.fullmatch(r"[A-Za-z0-9_./-]*", part):
            raise ValueError(f"unexpected characters in path {path!r}")
    return LUA.format(
        prefix=prefix,
        suffix=suffix,
        first_seed=first_seed or 0,
        distinct="true" if first_seed is not None else "false",
        marker=MARKER,
    )


def run(
    wrk: Wrk,
    base_url: str,
    path: str,
    concurrency: int,
    seconds: int,
    *,
    first_seed: int | None = None,
    pid: int | None = None,
    drain: bool = True,
) -> dict:
    """One wrk run of `seconds` with `concurrency` connections on `path` ("{seed}" in it: seeds from
    first_seed up, one per request); the same keys as the httpx runs, plus what only wrk knows.

    throughput = 200 responses with a PNG body / wrk's duration. errors = other responses + socket
    errors (connect, read, write, timeout). latency_ms covers every completed response (wrk's
    histogram does not split them by status); with errors 0 that is every ok one.
    pid: the server whose CPU time is read around the run. The client's CPU is wrk's (this process
    only waits), read as the children's rusage, so nothing else may be reaped during the run.
    drain: afterwards, wait until the server has answered every request sent (`path` must be a
    seed route; its counter is read from /metrics before and after).
    """
    if concurrency < 1 or seconds < 1:
        raise ValueError("concurrency and seconds must be at least 1 (wrk takes whole seconds)")
    with tempfile.TemporaryDirectory(prefix="ganserve-wrk-") as tmp:
        lua = Path(tmp) / "run.lua"
        lua.write_text(script(path, first_seed))
        command = [
            wrk.executable,
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            f"--timeout={TIMEOUT_S}s",
            "--latency",
            "-s",
            str(lua),
            base_url,
        ]
        answered = seed_requests_answered(base_url) if drain else None
        children, server_cpu, started = _children_cpu(), proc.cpu_seconds(pid) if pid else None, time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + TIMEOUT_S + 30)
        wall = time.perf_counter() - started
        server_cpu_end, client_cpu = proc.cpu_seconds(pid) if pid else None, _children_cpu() - children
    line = next((line for line in done.stdout.splitlines() if line.startswith(MARKER)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (exit code {done.returncode}): {' '.join(command)}\n{done.stdout}{done.stderr}")
    raw = json.loads(line[len(MARKER) :])
    raw["sent"] -= 1  # wrk calls request() once more, before the run, to check what it returns; that one is never sent
    result = summarise(raw, concurrency, seconds, wall, client_cpu, server_cpu, server_cpu_end) | {"first_seed": first_seed}
    if answered is not None:
        result["drain_s"] = wait_answered(base_url, answered + result["sent"])
    return result


def seed_requests_answered(base_url: str) -> int:
    """How many seed-route requests the server has answered, whatever their status (from /metrics)."""
    text = httpx.get(f"{base_url}/metrics", timeout=10.0).raise_for_status().text
    return round(sum(float(n) for n in SEED_REQUESTS.findall(text)))


def wait_answered(base_url: str, count: int) -> float | None:
    """Poll /metrics until the server has answered `count` seed requests: the seconds that took, None
    if it had not after DRAIN_TIMEOUT_S (recorded, not raised: the run's own figures stand)."""
    started = time.perf_counter()
    while seed_requests_answered(base_url) < count:
        if time.perf_counter() - started > DRAIN_TIMEOUT_S:
            return None
        time.sleep(DRAIN_POLL_S)
    return round(time.perf_counter() - started, 3)


def summarise(
    raw: dict, concurrency: int, seconds: int, wall: float, client_cpu: float, server_cpu: float | None, server_cpu_end: float | None
) -> dict:
    """The printed JSON line in the keys of the httpx runs (ms, outcomes by kind)."""
    duration = raw["duration_us"] / 1e6
    statuses = {str(k): int(v) for k, v in raw["statuses"].items()}
    ok = statuses.get("200", 0) - raw["not_png"]
    outcomes = {k: v for k, v in statuses.items() if k != "200"}
    if ok:
        outcomes["200"] = ok
    if raw["not_png"]:
        outcomes["200 not a PNG"] = raw["not_png"]
    for kind in SOCKET_ERRORS:
        if raw["socket_errors"][kind]:
            outcomes[f"socket {kind}"] = raw["socket_errors"][kind]
    completed = raw["requests"]
    lat = raw["latency_us"]
    keys = ("p50", "p90", "p99", "mean", "min", "max")
    return {
        "concurrency": concurrency,
        "requests": completed,
        "ok": ok,
        "errors": completed - ok + sum(raw["socket_errors"][kind] for kind in SOCKET_ERRORS),
        "outcomes": dict(sorted(outcomes.items())),
        "sent": raw["sent"],
        "seconds": seconds,
        "wall_s": round(duration, 4),
        "throughput_images_per_s": round(ok / duration, 2) if duration else 0.0,
        "latency_ms": {k: round(lat[k] / 1000, 3) for k in keys} if completed else dict.fromkeys(keys),
        "latency_stdev_ms": round(lat["stdev"] / 1000, 3) if completed else None,
        "server_cpu_cores": None if server_cpu is None or server_cpu_end is None else round((server_cpu_end - server_cpu) / wall, 3),
        "client_cpu_cores": round(client_cpu / wall, 3),
        "bytes_per_s": round(raw["bytes"] / duration) if duration else 0,
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
