"""Export a model artifact to ONNX: the graphs every compile target starts from.

The model's graphs (`ModelConfig.graph_parts`), each in `<repository>/onnx/<model>_<part>/<version>/model.onnx`:
- `mapping`:          z [N, z_dim] (+ c [N, c_dim]) -> w [N, w_dim]
- `synthesis`:        StyleGAN2: ws [N, num_ws, w_dim], noise_gain [N] -> images uint8 [N, H, W, C]
                      (noise = each layer's stored noise_const x gain: 1 is 'const', 0 is 'none');
                      StyleGAN3: ws, transform [N, 3, 3] (latents.input_transform) -> images
- `synthesis_noise`:  StyleGAN2 only: ws, noise_0 ... noise_{L-1} [N, 1, r, r] -> images, for explicit
                      (seeded) noise
The fast path needs no noise transfer; the explicit-noise graph serves `noise=random`.
Each graph records the artifact digest it was built from, so a stale compile is refused at load.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
import torch
from torch import nn

from ganserve.artifacts import Artifact
from ganserve.generator.networks import Generator, to_uint8_nhwc
from ganserve.generator.stylegan3 import Generator3, build_generator
from ganserve.repository import DIGEST_KEY, VERSION, graph_path

OPSET = 18
# torch.onnx logs a warning per torchvision op it cannot register; we use none of them.
logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)


class MappingGraph(nn.Module):
    def __init__(self, generator: Generator | Generator3):  # every graph is built; graph_parts picks
        super().__init__()
        self.mapping = generator.mapping

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.mapping(z, c)


class SynthesisGraph(nn.Module):
    def __init__(self, generator: Generator | Generator3):  # every graph is built; graph_parts picks
        super().__init__()
        self.synthesis = generator.synthesis

    def forward(self, ws: torch.Tensor, noise_gain: torch.Tensor) -> torch.Tensor:
        return to_uint8_nhwc(self.synthesis(ws, noise_gain=noise_gain))


class TransformSynthesisGraph(nn.Module):
    """StyleGAN3: a per-sample view transform instead of noise."""

    def __init__(self, generator: Generator | Generator3):  # every graph is built; graph_parts picks
        super().__init__()
        self.synthesis = generator.synthesis

    def forward(self, ws: torch.Tensor, transform: torch.Tensor) -> torch.Tensor:
        return to_uint8_nhwc(self.synthesis(ws, transform))


class SynthesisNoiseGraph(nn.Module):
    def __init__(self, generator: Generator | Generator3):  # every graph is built; graph_parts picks
        super().__init__()
        self.synthesis = generator.synthesis

    def forward(self, ws: torch.Tensor, *noise_maps: torch.Tensor) -> torch.Tensor:
        return to_uint8_nhwc(self.synthesis(ws, noise_maps=list(noise_maps)))


def load_generator(artifact: Artifact) -> Generator | Generator3:
    generator = build_generator(artifact.config)
    generator.load_numpy_state(artifact.load_weights())
    return generator.eval().requires_grad_(False)


def example_inputs(artifact: Artifact, batch: int = 2) -> dict[str, dict[str, torch.Tensor]]:
    cfg = artifact.config
    mapping = {"z": torch.randn(batch, cfg.z_dim)}
    if cfg.c_dim:
        mapping["c"] = torch.eye(cfg.c_dim)[torch.arange(batch) % cfg.c_dim]
    ws = torch.randn(batch, cfg.num_ws, cfg.w_dim)
    if cfg.architecture == "stylegan3":
        return {"mapping": mapping, "synthesis": {"ws": ws, "transform": torch.eye(3).repeat(batch, 1, 1)}}
    noise = {f"noise_{i}": torch.randn(batch, 1, h, w) for i, (h, w) in enumerate(cfg.noise_shapes)}
    return {
        "mapping": mapping,
        "synthesis": {"ws": ws, "noise_gain": torch.ones(batch)},
        "synthesis_noise": {"ws": ws, **noise},
    }


def _batch_dynamic(part: str, count: int, batch) -> tuple:
    """dynamic_shapes mirrors forward()'s arguments: the noise maps arrive as one *args tuple."""
    if part == "synthesis_noise":
        return ({0: batch}, tuple({0: batch} for _ in range(count - 1)))
    return tuple({0: batch} for _ in range(count))


def _export(graph: nn.Module, inputs: dict[str, torch.Tensor], path: Path, part: str) -> None:
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.onnx.export(
        graph,
        tuple(inputs.values()),
        str(path),
        input_names=list(inputs),
        output_names=["w" if part == "mapping" else "images"],
        dynamic_shapes=_batch_dynamic(part, len(inputs), batch),
        opset_version=OPSET,
        dynamo=True,
        external_data=False,
        verbose=False,
    )


def export_onnx(artifact: Artifact, repository: Path, version: int = VERSION) -> list[Path]:
    generator = load_generator(artifact)
    synthesis = TransformSynthesisGraph if artifact.config.architecture == "stylegan3" else SynthesisGraph
    # Only the config's graph_parts are exported: StyleGAN3 has no synthesis_noise.
    graphs = {"mapping": MappingGraph(generator), "synthesis": synthesis(generator), "synthesis_noise": SynthesisNoiseGraph(generator)}
    written = []
    for part in artifact.config.graph_parts:
        inputs = example_inputs(artifact)[part]
        path = graph_path(repository, artifact.config.name, part, version)
        path.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's own deprecation chatter, not actionable here
            _export(graphs[part].eval(), inputs, path, part)
        model = onnx.load(str(path))
        onnx.helper.set_model_props(model, {DIGEST_KEY: artifact.digest, "ganserve.model": artifact.config.name})
        onnx.save(model, str(path))
        written.append(path)
    return written
