"""The encode benchmark (benchmarks/ganserve_bench/encode.py) end to end with tiny sizes and one run:
the JSON it writes and the table it prints, not the figures in them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

import ganserve_bench
from ganserve.encode import encode_image, encoder_signature
from ganserve.protocol import ImageFormat
from ganserve.settings import Settings
from ganserve_bench.encode import SCHEMA, cases, content, has_simplejpeg, mark_pareto, run_encode_benchmark, upscale


def test_run_encode_benchmark_writes_results(tmp_path):
    lines: list[str] = []
    missing = tmp_path / "no-emoji.npz"
    path = run_encode_benchmark(tmp_path / "results", sizes=[16, 24], repeats=1, data=missing, log=lines.append)

    assert path.parent == tmp_path / "results" and path.name.startswith("bench-encode-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    assert result["schema"] == SCHEMA and result["parameters"]["sizes"] == [16, 24] and result["parameters"]["repeats"] == 1
    assert result["machine"]["cpu_model"] and isinstance(result["machine"]["cpu_vector_flags"], list)
    assert result["libraries"]["pillow"] and result["libraries"]["libwebp"] and result["libraries"]["zlib"]
    assert result["parameters"]["settings"] == Settings().model_dump(
        include={"png_compress_level", "jpeg_quality", "webp_quality", "webp_method", "encode_threads"}
    )

    model, dataset = result["content"]["images"]
    assert model["source"] == "model" and model["model"] == "emoji32" and model["resolution"] == 32
    assert dataset["source"] == "dataset" and "skipped" in dataset  # CI has no dataset: said, not an error

    names = [case.name for case in cases(has_simplejpeg() is not None)]
    assert {"png level 0", "png level 9", "jpeg q90 pillow", "webp q90 method 0", "webp q90 method 6", "webp lossless -z 0"} <= set(names)
    rows = result["cases"]
    assert sorted((r["case"], r["size"]) for r in rows) == sorted((n, s) for n in names for s in (16, 24))
    for row in rows:
        assert row["ms_per_image"] > 0 and len(row["ms_runs"]) == 1 and row["bytes_per_image"] > 0, row
        assert len(row["bytes_by_image"]) == 1 and isinstance(row["pareto"], bool)
        lossless = row["family"] in ("png", "webp lossless")
        assert (row["psnr_db"] is None) if lossless else (row["psnr_db"] > 20), row  # lossy: a PSNR, and not a broken image
    assert any(r["pareto"] for r in rows if r["family"] == "png" and r["size"] == 24)

    server = result["server_encoder"]
    assert sorted((s["format"], s["size"]) for s in server) == sorted((f.value, s) for f in ImageFormat for s in (16, 24))
    for s in server:
        assert s["ms_per_image"] > 0 and s["bytes_per_image"] > 0
        assert s["pool"]["threads"] == Settings().encode_threads and s["pool"]["ms_per_image"] > 0

    text = "\n".join(lines)
    assert "png level 1" in text and "16² ms / bytes / dB" in text and "server encoder" in text and "content: emoji32 seed 1" in text


def test_every_case_makes_an_image_of_its_size_and_format():
    """Each encoder configuration decodes back to the image's size in its own format; PNG and lossless WebP exactly."""
    (image,), _ = content("emoji32", None, Settings())
    (array,) = upscale([image], 40)
    for case in cases(has_simplejpeg() is not None):
        decoded = Image.open(io.BytesIO(case.encode(Image.fromarray(array), array)))
        assert decoded.size == (40, 40) and decoded.format == {"png": "PNG", "jpeg": "JPEG"}.get(case.family, "WEBP"), case
        if case.family in ("png", "webp lossless"):
            np.testing.assert_array_equal(np.asarray(decoded.convert("RGB")), array, err_msg=case.name)


def test_pareto_marks_only_cases_nothing_beats():
    rows = [
        {"family": "png", "size": 8, "ms_per_image": 1.0, "bytes_per_image": 100},
        {"family": "png", "size": 8, "ms_per_image": 2.0, "bytes_per_image": 90},
        {"family": "png", "size": 8, "ms_per_image": 3.0, "bytes_per_image": 95},  # slower and bigger than the second
        {"family": "webp", "size": 8, "ms_per_image": 9.0, "bytes_per_image": 999},  # alone in its family
    ]
    mark_pareto(rows)
    assert [r["pareto"] for r in rows] == [True, True, False, True]


def test_the_webp_method_decides_the_bytes_and_the_etag():
    """webp_method reaches the encoder, and, as every setting that changes the bytes, the ETag's signature."""
    (image,), _ = content("emoji32", None, Settings())
    (array,) = upscale([image], 128)
    fast, slow = Settings(webp_method=0), Settings(webp_method=6)
    assert encode_image(array, ImageFormat.webp, fast) != encode_image(array, ImageFormat.webp, slow)
    assert encoder_signature(fast) != encoder_signature(slow)


def test_the_command_is_registered():
    env = {**os.environ, "PYTHONPATH": str(Path(ganserve_bench.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "ganserve_bench", "encode", "--sizes", "16,x"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "--sizes" in done.stderr and "'16,x'" in done.stderr, done.stderr
