"""Image -> latent projection (torch only, like training/): `method.Projector` optimises ws so that the
model renders a target image; `features` holds the losses. The serving path never imports this."""

from ganserve.projection.method import ProjectionCancelled, ProjectionOptions, ProjectionProgress, ProjectionResult, Projector

__all__ = ["ProjectionCancelled", "ProjectionOptions", "ProjectionProgress", "ProjectionResult", "Projector"]
