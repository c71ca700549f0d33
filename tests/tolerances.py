"""Float tolerances for the parity tests, in units of the compared values' own precision.

Two correct float32 implementations of the same network differ by rounding: the same sums taken in
another order (another SIMD width: AVX2 or AVX-512, another GEMM blocking, ONNX Runtime against
torch). Each rounding is at most eps/2 of the running value, and the differences of a reordered sum
of n terms grow about as sqrt(n) (a random walk of roundings), so a tolerance is a number of ulps
(eps times the largest magnitude of the reference, at least 1): the square root of the number of
terms accumulated along the computation, rounded to a power of two. The differences measured on
this project's AVX2 CPU, with torch's own kernels and with its generic ones
(ATEN_CPU_CAPABILITY=default, another summation order), are a fifth of that or less. A real error
moves values by far more: one filter tap or one weight off by 1e-3 fails these tests
(docs/testing.md lists what was tried).
"""

from __future__ import annotations

import numpy as np

# One filtered_lrelu: each output sums at most 12 x 12 down-filter taps of values that are each
# sums of at most 12 x 12 polyphase up-filter taps; sqrt(144 + 144) ~ 17. Measured here: <= 1 ulp.
FILTERED_LRELU_ULPS = 16
# The mapping network: up to 8 fully connected layers of at most 64 inputs (the reference cases
# and the real NVlabs snapshots of tests/test_importer.py), sqrt(8 * 64) ~ 23. Measured here: <= 3 ulps.
MAPPING_ULPS = 32
# A whole synthesis network of the reference cases: about 8 modulated 3x3 convolutions of 9 * 64
# terms each plus the toRGB and resampling filters, sqrt(8 * 576) ~ 68. Demodulation renormalises
# every layer, so their roundings add instead of compounding. Measured here: <= 14 ulps.
SYNTHESIS_ULPS = 64


def ulp_tolerance(reference: np.ndarray, ulps: float) -> float:
    """The absolute tolerance of `ulps` roundings at the reference's largest magnitude (at least 1),
    in the reference's own precision (float32 or float64)."""
    reference = np.asarray(reference)
    return ulps * float(np.finfo(reference.dtype).eps) * max(1.0, float(np.abs(reference).max()))


def assert_close_ulps(actual: np.ndarray, reference: np.ndarray, ulps: float, what: str = "") -> None:
    """actual == reference within `ulps` roundings of the reference's largest magnitude."""
    atol = ulp_tolerance(reference, ulps)
    np.testing.assert_allclose(actual, reference, rtol=0, atol=atol, err_msg=f"{what} (tolerance {ulps} ulps = {atol:.3g})")


# Images are the float32 output rounded to uint8. The same image made in batches of another size
# runs other GEMM blockings (measured on AVX-512: a frame made in a batch of 3 against the same ws in a
# batch of 2), and where the two roundings straddle a .5 a pixel differs by one level: SYNTHESIS_ULPS
# of values in [-1, 1] is about 1e-3 of a level, so about that fraction of pixels may flip. A wrong
# latent or weight moves most pixels by many levels.
FLIPPED_PIXELS = 1e-3


def assert_same_image(actual: np.ndarray, reference: np.ndarray, what: str = "") -> None:
    """The same image up to roundings: no pixel more than one level off, at most FLIPPED_PIXELS of them."""
    difference = np.abs(np.asarray(actual, np.int16) - np.asarray(reference, np.int16))
    flipped = float((difference > 0).mean())
    assert actual.shape == reference.shape and difference.max() <= 1 and flipped <= FLIPPED_PIXELS, (
        f"{what}: max difference {difference.max()} levels, {flipped:.2%} of pixels differ"
    )
