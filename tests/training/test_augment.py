import torch

from ganserve.training.augment import AdaptiveStrength, cutout, diff_augment, translation


def test_probability_zero_is_the_identity():
    x = torch.randn(4, 3, 8, 8)
    assert torch.equal(diff_augment(x, 0.0), x)
    assert torch.equal(translation(x, 0.0), x)
    assert torch.equal(cutout(x, 0.0), x)


def test_translation_moves_content_by_whole_pixels():
    torch.manual_seed(0)
    x = torch.zeros(64, 1, 16, 16)
    x[:, :, 8, 8] = 1
    y = translation(x, 1.0)
    assert torch.equal(y.sum(dim=[1, 2, 3]), torch.ones(64))  # a 2-pixel shift at most: the dot stays inside
    positions = y[:, 0].flatten(1).argmax(1)
    dy, dx = positions // 16 - 8, positions % 16 - 8
    assert dy.abs().max() <= 2 and dx.abs().max() <= 2 and (dy != 0).any() and (dx != 0).any()


def test_cutout_zeroes_a_quarter_of_the_area_at_most():
    torch.manual_seed(0)
    y = cutout(torch.ones(64, 3, 16, 16), 1.0)
    zeroed = (y == 0).float().mean(dim=[1, 2, 3])
    assert zeroed.max() <= 0.25 + 1e-6 and zeroed.min() > 0  # an 8x8 square, possibly clipped by the edge


def test_gradients_flow_through_the_augmentations():
    x = torch.randn(8, 3, 16, 16, requires_grad=True)
    diff_augment(x, 1.0).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_adaptive_strength_follows_the_overfitting_heuristic():
    ada = AdaptiveStrength(target=0.6, speed_kimg=1.0, interval=2)
    for _ in range(4):  # D is sure of every real image: r_t = 1 > 0.6, so p rises
        ada.observe(torch.ones(32, 1))
        ada.update(32)
    assert ada.rt == 1.0 and abs(ada.p - 2 * 64 / 1000) < 1e-9
    for _ in range(20):  # D calls real images fake: r_t = -1, p falls back to 0 and stays there
        ada.observe(-torch.ones(32, 1))
        ada.update(32)
    assert ada.p == 0.0
