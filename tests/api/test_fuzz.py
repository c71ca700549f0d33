"""Schemathesis over the OpenAPI description, against a real server process: no input may cause a
5xx or make the server's memory jump, and the generated requests reach the model routes (real
model names, saved ids and filenames from tests/api/fuzz_hooks.py) instead of stopping at a 404."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from fuzzing import HEADERS, LONG_RUN, RssSampler, examples, fuzz_gateway

HOOKS = Path(__file__).parent / "fuzz_hooks.py"
EXAMPLES = examples(15)  # per operation, in the fuzzing phase
# The coverage phase (boundary values of every parameter, ~2000 requests whatever EXAMPLES is) takes
# minutes on this machine: make fuzz runs it, make test does not.
PHASES = "examples,coverage,fuzzing" if LONG_RUN else "examples,fuzzing"
MODEL_ROUTES = "/v1/models/{model}/"
# Of the requests to MODEL_ROUTES: the share that must get past the key check and the model lookup
# (not a 401 or 404), and the share that must be served (2xx: through the engine, most of them).
REACHED_SHARE, SERVED_SHARE = 0.3, 0.05


@pytest.fixture(scope="module")
def fuzz_server(settings, tmp_path_factory):
    with fuzz_gateway(settings, tmp_path_factory.mktemp("fuzz-server")) as (server, values):
        yield server, values


def bucket(status: int) -> str:
    return "404" if status == 404 else f"{status // 100}xx"


def status_table(calls: list[dict]) -> tuple[str, Counter, Counter]:
    """Per operation: requests, and how many got 2xx, 3xx, 404, other 4xx, 5xx; the methods the
    schema does not list (the coverage phase tries each once: 405) on one line."""
    per_operation: dict[str, Counter] = {}
    for call in calls:
        name = f"{call['method']} {call['path']}" if call["status"] != 405 else "(methods the schema does not list)"
        per_operation.setdefault(name, Counter())[bucket(call["status"])] += 1
    columns = ("2xx", "3xx", "404", "4xx", "5xx")
    lines = [f"{'operation':<58} {'cases':>6} " + " ".join(f"{c:>5}" for c in columns)]
    for name, counts in sorted(per_operation.items()):
        lines.append(f"{name:<58} {sum(counts.values()):>6} " + " ".join(f"{counts[c]:>5}" for c in columns))
    totals = Counter(call["status"] for call in calls)
    model_routes = Counter(
        "401/404" if call["status"] in (401, 404) else "2xx" if call["status"] < 300 else "other"
        for call in calls
        if call["path"].startswith(MODEL_ROUTES)
    )
    return "\n".join(lines), totals, model_routes


def test_no_input_causes_a_server_error(fuzz_server, tmp_path, capsys):
    """Generated valid and invalid inputs for every operation, mostly with real names and ids, over
    the whole Unicode range: no 5xx, no jump in the server's memory, and the model routes reached."""
    server, values = fuzz_server
    values_path = tmp_path / "values.json"
    values_path.write_text(json.dumps(values))
    command = [str(Path(sys.executable).parent / "st"), "run", f"{server.base_url}/openapi.json"]
    command += ["--checks", "not_a_server_error", "--max-examples", str(EXAMPLES), "--seed", "1"]
    command += ["--phases", PHASES, "--workers", "1", "--request-timeout", "60"]
    # utf-8: every code point (lone surrogates aside: no UTF-8 text carries one), NUL included.
    command += ["--generation-codec", "utf-8", "--generation-allow-x00", "true"]
    command += ["--report", "junit", "--report-dir", str(tmp_path)]
    for name, value in HEADERS.items():
        command += ["--header", f"{name}: {value}"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS), "GANSERVE_FUZZ_VALUES": str(values_path)}
    started = time.perf_counter()
    with RssSampler(server.proc.pid) as memory:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3600, cwd=tmp_path, env=env)
    elapsed = time.perf_counter() - started
    log = Path(values["log"])
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    table, totals, model_routes = status_table(calls)
    with capsys.disabled():
        print(f"\nschemathesis ({PHASES}; {EXAMPLES} examples per operation): {len(calls)} requests in {elapsed:.0f} s")
        print(f"status {dict(sorted(totals.items()))}")
        print(f"{MODEL_ROUTES}...: {dict(model_routes)}\n{table}\n{memory.report()}")
    assert result.returncode == 0, result.stdout[-6000:] + server.log_tail()
    assert calls, result.stdout[-3000:]
    assert not [status for status in totals if status >= 500], table
    count = max(1, sum(model_routes.values()))
    reached, served = 1 - model_routes["401/404"] / count, model_routes["2xx"] / count
    assert reached >= REACHED_SHARE, f"only {reached:.0%} of the model routes' requests got past the model lookup\n{table}"
    assert served >= SERVED_SHARE, f"only {served:.0%} of the model routes' requests were served\n{table}"
    memory.check()
