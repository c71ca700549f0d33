"""Our torch generator against NVlabs stylegan2-ada-pytorch, on weights and outputs computed with
their code (tests/data/nvlabs, made by tests/data/make_nvlabs_reference.py)."""

import pytest
import torch

from ganserve import latents
from ganserve.generator.networks import Generator, to_uint8_nhwc
from nvlabs_reference import CASES, SETTINGS, assert_nvlabs_parity, load_case
from tolerances import MAPPING_ULPS, SYNTHESIS_ULPS, assert_close_ulps


@pytest.fixture(scope="module", params=CASES)
def case(request):
    config, state, reference = load_case(request.param)
    generator = Generator(config)
    generator.load_numpy_state(state)  # strict: every NVlabs parameter and buffer name matches
    return generator.eval(), state, reference


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_matches_nvlabs_within_one_level(case, setting):
    generator, state, ref = case
    psi, cutoff, noise_mode = SETTINGS[setting]
    config = generator.config
    with torch.no_grad():
        c = torch.from_numpy(ref["c"]) if config.c_dim else None
        w = generator.mapping(torch.from_numpy(ref["z"]), c).numpy()
        ws = latents.truncate(latents.broadcast_ws(w, config.num_ws), state["mapping.w_avg"], psi, cutoff)
        assert_close_ulps(ws, ref[f"ws_{setting}"], MAPPING_ULPS, setting)
        gain = torch.full([len(ws)], 1.0 if noise_mode == "const" else 0.0)
        image = generator.synthesis(torch.from_numpy(ws), noise_gain=gain)
    assert_close_ulps(image.numpy(), ref[f"float_{setting}"], SYNTHESIS_ULPS, setting)
    assert_nvlabs_parity(to_uint8_nhwc(image).numpy(), ref[f"img_{setting}"], setting)


def test_noise_modes_differ_and_explicit_noise_matches_const(case):
    generator, _, ref = case
    ws = torch.from_numpy(ref["ws_psi1_const"])
    layers = generator.synthesis.noise_layers()
    with torch.no_grad():
        const = generator.synthesis(ws, noise_gain=torch.ones(len(ws)))
        none = generator.synthesis(ws, noise_gain=torch.zeros(len(ws)))
        explicit = generator.synthesis(ws, noise_maps=[layer.noise_const.expand(len(ws), 1, -1, -1) for layer in layers])
    assert not torch.allclose(const, none)
    torch.testing.assert_close(explicit, const)


def test_uint8_conversion_rounds_like_gen_images():
    img = torch.tensor([-1.5, -1.0, -0.004, 0.0, 0.9999, 1.2]).reshape(1, 1, 1, 6).permute(0, 3, 1, 2)
    expected = (img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    assert torch.equal(to_uint8_nhwc(img), expected)
