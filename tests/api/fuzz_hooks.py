"""Schemathesis hooks for tests/api/test_fuzz.py, loaded by `st run` through SCHEMATHESIS_HOOKS.

Left to itself schemathesis makes up model names, so nearly every request to /v1/models/{model}/...
is a 404 before its body is read. These hooks give most cases the server's real model names, saved
latent ids, projection ids, stable-image filenames and sample-grid names (GANSERVE_FUZZ_VALUES, a JSON file the
test writes), keep the rest arbitrary, and log every answer's status (to the file it names) so the
test can count what was reached."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any

import schemathesis

VALUES: dict[str, Any] = json.loads(Path(os.environ["GANSERVE_FUZZ_VALUES"]).read_text())
LOG = Path(VALUES["log"])
REAL_SHARE = 0.8  # of values replaced by a real one; the rest stay as generated (unknown names, odd characters)
EXTENSIONS = ["png", "jpg", "jpeg", "webp", "PNG", "gif", ""]  # the accepted ones, then a few that are not
SEEDS = [0, 1, 42, 2**32 - 1, 2**32, -1]  # the ends of the seed range and just past them
LATENT_KEYS = ("seed", "z", "w", "ws", "id")
LATENT_LISTS = {"latents", "keyframes", "rows", "columns"}  # the bodies' fields that hold latents
LATENT_ONE = {"parent", "latent"}


def case_rng(case: Any) -> random.Random:
    """A generator seeded by the generated values: the same `--seed` gives the same run, and the
    coverage phase (which draws nothing from hypothesis) gets its choices too."""
    text = json.dumps([case.method, case.operation.path, case.path_parameters, case.query, case.body], default=repr, sort_keys=True)
    return random.Random(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())


def real_model(rng: random.Random, generated: Any) -> Any:
    return rng.choice(VALUES["models"]) if rng.random() < REAL_SHARE else generated


def real_id(rng: random.Random, model: Any, generated: Any, pool: str = "ids") -> Any:
    if rng.random() >= REAL_SHARE:
        return generated
    # Mostly a latent of the model in the path (another model's is a 4xx too, but less often interesting).
    ids = VALUES[pool].get(model) if isinstance(model, str) and rng.random() < 0.8 else None
    return rng.choice(ids or [i for group in VALUES[pool].values() for i in group])


def filename(rng: random.Random, path: str, model: Any, generated: Any) -> Any:
    if rng.random() >= REAL_SHARE:
        return generated
    if path.endswith("/seeds/{filename}"):
        stem: Any = rng.choice(SEEDS) if rng.random() < 0.3 else rng.randrange(2**32)
    elif path.endswith("/latents/{filename}"):
        stem = real_id(rng, model, generated, "ids") if rng.random() < 0.9 else generated
    else:  # training/samples/{filename}
        return rng.choice((isinstance(model, str) and VALUES["samples"].get(model)) or [generated])
    return f"{stem}.{rng.choice(EXTENSIONS[:4]) if rng.random() < REAL_SHARE else rng.choice(EXTENSIONS)}"


def rewrite_latent(rng: random.Random, latent: Any, model: Any) -> Any:
    """Mostly exactly one of seed, z, w, ws or id (the schema cannot say "exactly one", so
    generated latents rarely are), half the time a seed or a real id; edits along real directions."""
    if not isinstance(latent, dict) or rng.random() >= REAL_SHARE:
        return latent
    given = [key for key in LATENT_KEYS if key in latent]
    kind = rng.choice(given) if given and rng.random() < 0.5 else rng.choice(["seed", "id"])
    out = {key: value for key, value in latent.items() if key not in LATENT_KEYS or key == kind}
    if kind == "seed" and not isinstance(out.get("seed"), int):
        out["seed"] = rng.choice(SEEDS[:4]) if rng.random() < 0.3 else rng.randrange(2**32)
    if kind == "id":
        out["id"] = real_id(rng, model, out.get("id"))
    directions = VALUES["directions"].get(model) if isinstance(model, str) else None
    if directions and isinstance(out.get("edits"), list):
        out["edits"] = [
            {**edit, "direction": rng.choice(directions)} if isinstance(edit, dict) and rng.random() < REAL_SHARE else edit
            for edit in out["edits"]
        ]
    return out


def rewrite_body(rng: random.Random, body: Any, model: Any) -> Any:
    """A body with a real `model` (POST /v1/latents), latents that mostly can be generated, and a
    class where the model takes one (none where it does not)."""
    if not isinstance(body, dict):
        return body
    out = dict(body)
    if "model" in out:
        out["model"] = model = real_model(rng, out["model"])
    for key, item in out.items():
        if key in LATENT_LISTS and isinstance(item, list):
            out[key] = [rewrite_latent(rng, latent, model) for latent in item]
        elif key in LATENT_ONE:
            out[key] = rewrite_latent(rng, item, model)
    return with_class(rng, out, model)


def with_class(rng: random.Random, values: dict, model: Any) -> dict:
    """A body or query with a class where the model takes one (none where it does not), mostly."""
    c_dim = VALUES["c_dim"].get(model) if isinstance(model, str) else None
    if c_dim is None or rng.random() >= REAL_SHARE:
        return values
    out = dict(values)
    if not c_dim:
        out.pop("class", None)
    elif not isinstance(out.get("class"), (int, str)) or rng.random() < 0.5:
        out["class"] = rng.choice([*range(c_dim), *VALUES["class_names"][model]])
    return out


@schemathesis.hook
def map_case(context, case):
    rng = case_rng(case)
    path, params = case.operation.path, case.path_parameters
    if params:
        if "model" in params:
            params["model"] = real_model(rng, params["model"])
        if "id" in params and path.startswith("/v1/projections/"):  # jobs cancelled at once: readable, cancellable again
            if rng.random() < REAL_SHARE:
                params["id"] = rng.choice(VALUES["projection_ids"])
        elif "id" in params:
            # DELETE takes ids of its own, so that the other operations keep finding theirs.
            params["id"] = real_id(rng, None, params["id"], "deletable_ids" if case.method == "DELETE" else "ids")
        if "filename" in params:
            params["filename"] = filename(rng, path, params.get("model"), params["filename"])
    if case.headers and "Authorization" in case.headers and rng.random() < REAL_SHARE:
        # The schema declares the API keys' bearer scheme, so schemathesis makes up keys, which the
        # server refuses (401) before anything else; most cases go without one (or with HEADERS' real one).
        del case.headers["Authorization"]
    if isinstance(case.query, dict) and "model" in case.query:
        case.query["model"] = real_model(rng, case.query["model"])
    if isinstance(case.query, dict) and params and "filename" in params:  # the stable images' query
        case.query = with_class(rng, case.query, params.get("model"))
    if isinstance(case.body, (dict, list)):
        case.body = rewrite_body(rng, case.body, params.get("model") if params else None)
    return case


@schemathesis.hook
def after_call(context, case, response):
    # One short line per answer, appended: the test counts them per operation after the run.
    record = {"method": case.method, "path": case.operation.path, "status": response.status_code}
    if 400 <= response.status_code < 500:
        try:
            record["field"] = response.json()["error"]["field"]  # what the server rejected
            record["message"] = response.json()["error"]["message"][:150]
        except (ValueError, KeyError, TypeError):
            pass
    line = json.dumps(record)
    with LOG.open("a") as log:
        log.write(line + "\n")
