import torch
import torch.nn.functional as F

from ganserve.training.discriminator import Discriminator, minibatch_stddev


def test_shapes_and_conditioning():
    torch.manual_seed(0)
    D = Discriminator(resolution=16, c_dim=3, channel_base=256, channel_max=16)
    x = torch.randn(4, 3, 16, 16)
    c0 = F.one_hot(torch.zeros(4, dtype=torch.long), 3).float()
    c1 = F.one_hot(torch.ones(4, dtype=torch.long), 3).float()
    out0, out1 = D(x, c0), D(x, c1)
    assert out0.shape == (4, 1)
    assert not torch.allclose(out0, out1)  # the class is projected onto the features


def test_minibatch_stddev_adds_one_channel_constant_per_group():
    x = torch.randn(8, 5, 4, 4)
    y = minibatch_stddev(x, group_size=4)
    assert y.shape == (8, 6, 4, 4)
    assert torch.equal(y[:, :5], x)
    # Identical images: no variation within any group.
    same = minibatch_stddev(torch.ones(8, 5, 4, 4), group_size=4)
    assert same[:, 5].abs().max() < 1e-3
