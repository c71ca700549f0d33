import numpy as np
import pytest

from ganserve.training.evaluate import evaluate, frechet_distance, split, train_classifier
from ganserve.training.loop import Trainer


def test_frechet_distance_of_gaussians():
    rng = np.random.RandomState(0)
    a = rng.randn(4000, 4)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    # N(0, I) vs N(m, 4I) in 4-d: |m|^2 + 4 * (1 + 4 - 2 * 2) = |m|^2 + 4; sampling error a few percent.
    b = rng.randn(4000, 4) * 2 + np.array([1.0, 0, 0, 0])
    assert frechet_distance(a, b) == pytest.approx(1 + 4, rel=0.1)


def test_split_is_stratified_and_disjoint():
    labels = np.array([0] * 10 + [1] * 20)
    a, b = split(labels, 0.5, seed=0)
    assert set(a).isdisjoint(b) and len(a) + len(b) == 30
    assert (labels[a] == 0).sum() == 5 and (labels[a] == 1).sum() == 10


def test_classifier_learns_the_classes_and_an_untrained_generator_scores_badly(tmp_path, tiny_dataset, tiny_options):
    classifier, accuracy = train_classifier(tiny_dataset, resolution=16, epochs=15)
    assert accuracy == 1.0  # three colours: trivially separable
    G = Trainer(tiny_options, tiny_dataset, tmp_path / "run").nets.G_ema
    result = evaluate(G, classifier, tiny_dataset, kimg=0)
    assert result.fd_floor > 0 and result.images == 24
    assert result.fd_ratio > 4  # random weights are far from the data
