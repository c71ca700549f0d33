"""`python -m ganserve_bench openvino` (make bench-openvino) end to end with tiny numbers: the JSON it
writes, not the figures in it."""

from __future__ import annotations

import json

import numpy as np

from ganserve_bench.openvino import ENGINES, THROUGHPUT_VARIANT, compare_images, run_openvino_benchmark


def test_openvino_benchmark_writes_results(tmp_path):
    tiny = {"networks": ("demo64",), "batches": (1, 2), "seconds": 0.05, "rounds": 1, "quality_seeds": 3}
    path = run_openvino_benchmark(tmp_path, **tiny, log=lambda _: None)

    assert path.parent == tmp_path and path.name.startswith("bench-openvino-") and path.suffix == ".json"
    result = json.loads(path.read_text())
    assert result["schema"] == "ganserve-bench-openvino/1"
    machine = result["machine"]
    assert machine["cpu_vector_flags"] is not None and machine["versions"]["openvino"]
    facts = machine["openvino"]
    assert isinstance(facts["bf16_available"], bool) and facts["bf16_reason"] and "FP32" in facts["optimization_capabilities"]
    assert "contention" in machine

    network = result["networks"]["demo64"]
    assert network["network"]["gmac_per_image"] > 0
    assert set(network["engines"]) == {*ENGINES, THROUGHPUT_VARIANT}
    assert network["engines"]["openvino_exact"]["openvino_streams"] == 1 and network["engines"]["onnxruntime"]["openvino_streams"] is None
    for name, run in network["engines"].items():
        assert [b["batch_size"] for b in run["batches"]] == [1, 2]
        assert all(b["images_per_s_median"] > 0 for b in run["batches"]), name
    precisions = {name: run["precision"] for name, run in network["engines"].items() if name in ENGINES}
    assert precisions == {"onnxruntime": "f32", "openvino_exact": "f32", "openvino_fast": "bf16" if facts["bf16_available"] else "f32"}
    assert set(network["speedups_of_medians"]) == {"batch_1", "batch_2"}
    assert "throughput_hint_over_openvino_exact" in network["speedups_of_medians"]["batch_1"]

    quality = network["quality"]
    assert quality["fast_vs_exact"]["images"] == 3
    assert quality["exact_vs_onnxruntime"]["max_abs_difference"] <= 1  # the parity the tests assert
    if not facts["bf16_available"]:
        assert quality["fast_vs_exact"]["max_abs_difference"] == 0  # fast ran exact


def test_compare_images_reports_difference_and_psnr():
    reference = np.zeros((2, 4, 4, 3), np.uint8)
    actual = reference.copy()
    assert compare_images(actual, reference)["psnr_db"] is None  # identical: no finite PSNR
    actual[1, 0, 0, 0] = 10
    got = compare_images(actual, reference)
    assert (got["max_abs_difference"], got["images"]) == (10, 2)
    assert got["mean_abs_difference"] == round(10 / reference.size, 4)
    assert got["psnr_db"] == round(10 * np.log10(255**2 / (100 / reference.size)), 2)
    assert got["worst_image_psnr_db"] < got["psnr_db"]
