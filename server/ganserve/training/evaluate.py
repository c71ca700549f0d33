"""How good a generator is, measured offline: a Fréchet distance in the features of a small classifier
trained on the dataset's categories, and the class accuracy of generated images under it.

No ImageNet network can be downloaded here, so the feature network is ours: `EmojiClassifier`, a
4-layer CNN trained once (fixed seed, 90% of the data; its accuracy on the other 10% is recorded)
and kept with the run (`classifier.safetensors`), so that every evaluation of a run uses the same
features. The distance is reported with its floor: real half A vs real half B (a stratified split),
and generated vs real half B with as many generated images as half A, so both have the same
sample-size bias.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ganserve.generator.networks import Generator
from ganserve.training.dataset import EmojiDataset

CLASSIFIER_FILE = "classifier.safetensors"
EVALUATION_FILE = "evaluation.jsonl"


class EmojiClassifier(nn.Module):
    def __init__(self, num_classes: int, width: int = 32, features: int = 128):
        super().__init__()
        channels = [3, width, width * 2, width * 4, width * 4]
        self.convs = nn.ModuleList([nn.Conv2d(i, o, 3, padding=1) for i, o in zip(channels, channels[1:], strict=False)])
        self.norms = nn.ModuleList([nn.GroupNorm(8, o) for o in channels[1:]])
        self.fc = nn.Linear(width * 4, features)
        self.head = nn.Linear(features, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x NCHW in [-1, 1] (any resolution) -> [N, features]."""
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.avg_pool2d(F.relu(norm(conv(x))), 2)
        return F.relu(self.fc(x.mean(dim=[2, 3])))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1


def split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified: `fraction` of every class in the first index set, the rest in the second."""
    rng = np.random.RandomState(seed)
    first, second = [], []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        cut = int(round(len(idx) * fraction))
        first.append(idx[:cut])
        second.append(idx[cut:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def train_classifier(dataset: EmojiDataset, resolution: int, epochs: int = 20, seed: int = 0) -> tuple[EmojiClassifier, float]:
    """(classifier, held-out accuracy). Flips and small shifts as augmentation; about a minute on CPU."""
    torch.manual_seed(seed)
    images = to_tensor(dataset.at_resolution(resolution))
    labels = torch.from_numpy(dataset.labels)
    train_idx, test_idx = split(dataset.labels, 0.9, seed)
    model = EmojiClassifier(len(dataset.class_names))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=epochs * (len(train_idx) // 64 + 1))
    for _ in range(epochs):
        model.train()
        for batch in torch.from_numpy(np.random.permutation(train_idx)).split(64):
            x = images[batch]
            x = torch.where((torch.rand(len(batch)) < 0.5).reshape(-1, 1, 1, 1), x.flip(3), x)
            shift = [int(s) for s in torch.randint(-2, 3, (2,))]
            x = torch.roll(x, shifts=shift, dims=(2, 3))
            loss = F.cross_entropy(model(x), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(images[test_idx]).argmax(1) == labels[test_idx]).float().mean())
    return model, accuracy


def load_or_train_classifier(run_dir: Path, dataset: EmojiDataset, resolution: int) -> EmojiClassifier:
    path = run_dir / CLASSIFIER_FILE
    model = EmojiClassifier(len(dataset.class_names))
    if path.exists():
        model.load_state_dict(load_file(path))
        return model.eval()
    model, accuracy = train_classifier(dataset, resolution)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, path, metadata={"held_out_accuracy": f"{accuracy:.4f}"})
    return model


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^1/2), in float64; the square root's trace from the
    eigenvalues of S_a S_b (real and non-negative up to rounding, since both are PSD)."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    eigenvalues = np.linalg.eigvals(s_a @ s_b)
    sqrt_trace = np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()
    return float(np.square(mu_a - mu_b).sum() + np.trace(s_a) + np.trace(s_b) - 2 * sqrt_trace)


@dataclass
class Evaluation:
    kimg: float
    fd: float  # generated vs real half B
    fd_floor: float  # real half A vs real half B
    class_accuracy: float  # generated images classified as the class they were generated for
    real_class_accuracy: float  # the same for real half B: what the classifier allows at best
    images: int  # per side

    @property
    def fd_ratio(self) -> float:
        return self.fd / self.fd_floor


def generated_images(G: Generator, labels: np.ndarray, seed: int, batch: int = 256) -> torch.Tensor:
    """G_ema images for the given class labels, psi 1, const noise: what the server gives."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    with torch.no_grad():
        for chunk in torch.from_numpy(labels).split(batch):
            z = torch.randn(len(chunk), G.config.z_dim, generator=gen)
            c = F.one_hot(chunk, G.config.c_dim).to(torch.float32)
            ws = G.mapping(z, c).unsqueeze(1).repeat(1, G.synthesis.num_ws, 1)
            img = G.synthesis(ws)
            # Quantised as served: uint8, then back to the classifier's range.
            img = torch.floor((img * 127.5 + 128).clamp(0, 255)) / 127.5 - 1
            out.append(img)
    return torch.cat(out)


def evaluate(G: Generator, classifier: EmojiClassifier, dataset: EmojiDataset, kimg: float, seed: int = 0) -> Evaluation:
    reals = to_tensor(dataset.at_resolution(G.config.resolution))
    half_a, half_b = split(dataset.labels, 0.5, seed)
    fakes = generated_images(G, dataset.labels[half_a], seed)
    with torch.no_grad():
        feats = lambda x: torch.cat([classifier.features(c) for c in x.split(512)]).numpy()  # noqa: E731
        real_a, real_b, fake = feats(reals[half_a]), feats(reals[half_b]), feats(fakes)
        predict = lambda x: torch.cat([classifier(c).argmax(1) for c in x.split(512)]).numpy()  # noqa: E731
        predicted, predicted_real = predict(fakes), predict(reals[half_b])
    return Evaluation(
        kimg=kimg,
        fd=frechet_distance(fake, real_b),
        fd_floor=frechet_distance(real_a, real_b),
        class_accuracy=float((predicted == dataset.labels[half_a]).mean()),
        real_class_accuracy=float((predicted_real == dataset.labels[half_b]).mean()),
        images=len(half_a),
    )


def evaluate_run(run_dir: Path, dataset: EmojiDataset, log=print) -> list[Evaluation]:
    """Evaluates every snapshot not yet in evaluation.jsonl, appending a line for each."""
    from ganserve.training.loop import OPTIONS_FILE
    from ganserve.training.options import TrainingOptions

    options = TrainingOptions.model_validate_json((run_dir / OPTIONS_FILE).read_text())
    classifier = load_or_train_classifier(run_dir, dataset, options.resolution)
    log_path = run_dir / EVALUATION_FILE
    done = {json.loads(line)["snapshot"] for line in log_path.read_text().splitlines()} if log_path.exists() else set()
    results = []
    for snapshot in sorted((run_dir / "snapshots").glob("kimg-*.safetensors")):
        name = f"snapshots/{snapshot.name}"
        if name in done:
            continue
        G = Generator(options.generator_config(list(dataset.class_names))).eval()
        G.load_state_dict(load_file(snapshot))
        kimg = int(snapshot.stem.split("-")[1])
        result = evaluate(G, classifier, dataset, kimg)
        record = {"snapshot": name, "kimg": kimg, "fd": round(result.fd, 4), "fd_floor": round(result.fd_floor, 4)}
        record |= {"fd_ratio": round(result.fd_ratio, 3), "class_accuracy": round(result.class_accuracy, 4)}
        record |= {"real_class_accuracy": round(result.real_class_accuracy, 4), "images": result.images}
        with log_path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        log(record)
        results.append(result)
    return results
