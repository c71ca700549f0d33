"""The directions an edit can move along, as the API lists them."""

from __future__ import annotations

from ganserve.pipeline import ModelPipeline
from ganserve.protocol import DirectionInfo


def list_directions(pipeline: ModelPipeline) -> list[DirectionInfo]:
    ranges = pipeline.layer_ranges
    return [
        DirectionInfo(
            id=d.id,
            method=d.method,
            label=d.label,
            layers=d.layers,
            layer_indices=ranges[d.layers],
            sigma=d.sigma,
            explained_variance=d.explained_variance,
            eigenvalue=d.eigenvalue,
        )
        for d in pipeline.directions.listed()
    ]
