"""ganserve.v1.Generator: each RPC builds the contract's request (ganserve.protocol), calls one
operation (ganserve.operations) and encodes the result, unless the client asked for raw uint8
pixels. Failures are raised as the request path's exceptions; interceptors.py turns them into
statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import numpy as np

from ganserve.encode import encode_image, tile
from ganserve.jobs import JobEvent
from ganserve.operations import children, cost, interpolate, mix, projections, saved_latents
from ganserve.operations.directions import list_directions
from ganserve.operations.generate import generate
from ganserve.operations.models import list_models
from ganserve.protocol import (
    BatchRequest,
    ChildrenRequest,
    InterpolationRequest,
    InterpolationSpace,
    MixRequest,
    Projection,
    ProjectionOptions,
    ProjectionState,
    SaveLatentRequest,
)
from ganserve.rpc import convert
from ganserve.rpc.callers import current_caller
from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve.rpc.generated.ganserve.v1 import ganserve_pb2_grpc
from ganserve.state import AppState

SPACES: dict[pb.InterpolationSpace, InterpolationSpace] = {
    pb.INTERPOLATION_SPACE_UNSPECIFIED: InterpolationSpace.w,
    pb.INTERPOLATION_SPACE_W: InterpolationSpace.w,
}
SPACES[pb.INTERPOLATION_SPACE_Z] = InterpolationSpace.z
PROJECTION_SPACES = {pb.PROJECTION_SPACE_UNSPECIFIED: "w", pb.PROJECTION_SPACE_W: "w", pb.PROJECTION_SPACE_W_PLUS: "w+"}
PROJECTION_STATES = {
    ProjectionState.queued: pb.PROJECTION_STATE_QUEUED,
    ProjectionState.running: pb.PROJECTION_STATE_RUNNING,
    ProjectionState.succeeded: pb.PROJECTION_STATE_SUCCEEDED,
    ProjectionState.failed: pb.PROJECTION_STATE_FAILED,
    ProjectionState.cancelled: pb.PROJECTION_STATE_CANCELLED,
}
DEFAULT_PROJECTION_STEPS = 200
DEFAULT_FRAMES = 16
DEFAULT_CHILDREN = 8
DEFAULT_SPREAD = 0.5


class GeneratorServicer(ganserve_pb2_grpc.GeneratorServicer):
    def __init__(self, state: AppState):
        self.state = state

    async def _images(self, images: np.ndarray, fmt: pb.ImageFormat, ws: np.ndarray | None = None) -> list[pb.Image]:
        """One message per image: raw pixels as they are, or encoded off the event loop."""
        if fmt == pb.IMAGE_FORMAT_RAW:
            payloads = [np.ascontiguousarray(image).tobytes() for image in images]
        else:
            encoder, settings = convert.encoded_format(fmt), self.state.settings
            payloads = await self.state.run_blocking(lambda: [encode_image(image, encoder, settings) for image in images])
        pairs = enumerate(zip(payloads, images, strict=True))
        return [convert.image(data, fmt, image.shape, None if ws is None else ws[i]) for i, (data, image) in pairs]

    async def ListModels(self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext) -> pb.ListModelsResponse:
        return pb.ListModelsResponse(models=[convert.model_info(info) for info in list_models(self.state)])

    async def Generate(self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext) -> pb.GenerateResponse:
        pipeline = self.state.pipeline(request.model)
        fmt = convert.image_format(request.format)
        columns = request.grid_columns or None
        body = BatchRequest.model_validate(
            {
                "latents": convert.latents(request.latents, "latents"),
                "format": convert.encoded_format(fmt),
                "columns": columns,
                "include_ws": request.include_ws,
                **convert.generation(request.options),
            }
        )
        await cost.admit(self.state, current_caller(), cost.of_batch(body, pipeline.config.resolution, grid=request.grid))
        images, ws = await generate(self.state, pipeline, body)
        if request.grid:
            grid = await self.state.run_blocking(tile, images, columns)
            return pb.GenerateResponse(model=pipeline.config.name, images=await self._images(grid[None], fmt))
        encoded = await self._images(images, fmt, ws if request.include_ws else None)
        return pb.GenerateResponse(model=pipeline.config.name, images=encoded)

    async def Interpolate(self, request: pb.InterpolateRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[pb.Frame]:
        pipeline = self.state.pipeline(request.model)
        fmt = convert.image_format(request.format)
        body = InterpolationRequest.model_validate(
            {
                "keyframes": convert.latents(request.keyframes, "keyframes"),
                "frames": request.frames or DEFAULT_FRAMES,
                "space": convert.enum_value(request.space, SPACES, "space"),
                "loop": request.loop,
                "output": "latents" if request.latents_only else "frames",
                "format": convert.encoded_format(fmt),
                **convert.generation(request.options),
            }
        )
        await cost.admit(self.state, current_caller(), cost.of_interpolation(body, pipeline.config.resolution))
        async for frame in interpolate.stream(self.state, pipeline, body):
            message = pb.Frame(index=frame.index, count=frame.count)
            if frame.image is None:
                message.ws.CopyFrom(convert.tensor(frame.ws))
            else:
                (image,) = await self._images(frame.image[None], fmt)
                message.image.CopyFrom(image)
                if request.include_ws:
                    message.ws.CopyFrom(convert.tensor(frame.ws))
            yield message

    async def Mix(self, request: pb.MixRequest, context: grpc.aio.ServicerContext) -> pb.MixResponse:
        pipeline = self.state.pipeline(request.model)
        fmt = convert.image_format(request.format)
        body = MixRequest.model_validate(
            {
                "rows": convert.latents(request.rows, "rows"),
                "columns": convert.latents(request.columns, "columns"),
                "layers": request.layers or "coarse",
                "output": "grid" if request.grid else "cells",
                "format": convert.encoded_format(fmt),
                "include_ws": request.include_ws,
                **convert.generation(request.options),
            }
        )
        await cost.admit(self.state, current_caller(), cost.of_mix(body, pipeline.config.resolution))
        mixed = await mix.mix(self.state, pipeline, body)
        response = pb.MixResponse(model=pipeline.config.name, layers=mixed.layers)
        images = await self._images(mixed.images, fmt, mixed.ws if request.include_ws else None)
        if request.grid:
            response.grid.CopyFrom(images[0])
            return response
        columns = len(body.columns)
        for i, message in enumerate(images):
            response.cells.add(row=i // columns, column=i % columns, image=message)
        return response

    async def ListDirections(self, request: pb.ListDirectionsRequest, context: grpc.aio.ServicerContext) -> pb.ListDirectionsResponse:
        pipeline = self.state.pipeline(request.model)
        found = [convert.direction(info) for info in list_directions(pipeline)]
        return pb.ListDirectionsResponse(model=pipeline.config.name, directions=found)

    async def Children(self, request: pb.ChildrenRequest, context: grpc.aio.ServicerContext) -> pb.ChildrenResponse:
        pipeline = self.state.pipeline(request.model)
        fmt = convert.image_format(request.format)
        columns = request.grid_columns or None
        output = "latents" if request.latents_only else "grid" if request.grid else "list"
        body = ChildrenRequest.model_validate(
            {
                "parent": convert.latent(request.parent, "parent") if request.HasField("parent") else None,
                "count": request.count or DEFAULT_CHILDREN,
                "spread": request.spread if request.HasField("spread") else DEFAULT_SPREAD,
                "layers": request.layers or "all",
                "seed": request.seed,
                "output": output,
                "format": convert.encoded_format(fmt),
                "columns": columns,
                "include_parent": request.include_parent,
                **convert.generation(request.options),
            }
        )
        await cost.admit(self.state, current_caller(), cost.of_children(body, pipeline.config.resolution))
        bred = await children.children(self.state, pipeline, body)
        response = pb.ChildrenResponse(model=pipeline.config.name, ws=[convert.tensor(ws) for ws in bred.ws])
        if bred.images is None:
            return response
        if request.grid:
            grid = await self.state.run_blocking(tile, bred.images, columns)
            response.images.extend(await self._images(grid[None], fmt))
        else:
            response.images.extend(await self._images(bred.images, fmt, bred.ws))
        return response

    async def SaveLatent(self, request: pb.SaveLatentRequest, context: grpc.aio.ServicerContext) -> pb.SavedLatent:
        kind = None if request.kind == pb.LATENT_KIND_UNSPECIFIED else convert.enum_value(request.kind, convert.KINDS, "kind")
        body = SaveLatentRequest.model_validate(
            {
                "model": request.model,
                "latent": convert.latent(request.latent, "latent"),
                "kind": kind,
                "psi": request.psi if request.HasField("psi") else 1.0,
                "cutoff": request.cutoff if request.HasField("cutoff") else None,
                "name": request.name,
                "ttl_s": request.ttl_s if request.HasField("ttl_s") else None,
                "class": convert.class_value(request),
            }
        )
        return convert.saved_latent(await saved_latents.save(self.state, current_caller(), body))

    async def GetLatent(self, request: pb.GetLatentRequest, context: grpc.aio.ServicerContext) -> pb.SavedLatent:
        return convert.saved_latent(await saved_latents.get(self.state, request.id))

    async def DeleteLatent(self, request: pb.DeleteLatentRequest, context: grpc.aio.ServicerContext) -> pb.DeleteLatentResponse:
        await saved_latents.delete(self.state, current_caller(), request.id)
        return pb.DeleteLatentResponse()

    async def ListLatents(self, request: pb.ListLatentsRequest, context: grpc.aio.ServicerContext) -> pb.ListLatentsResponse:
        entries, next_cursor = await saved_latents.list_page(
            self.state, current_caller(), request.model or None, request.limit or None, request.cursor or None, request.include_values
        )
        latents = [convert.saved_latent(entry, request.include_values) for entry in entries]
        return pb.ListLatentsResponse(latents=latents, next_cursor=next_cursor or "")

    async def Project(self, request: pb.ProjectRequest, context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ProjectionEvent]:
        caller = current_caller()
        if request.follow_id:
            job = await projections.get(self.state, request.follow_id)
        else:
            options = ProjectionOptions.model_validate(
                {
                    "steps": request.steps or DEFAULT_PROJECTION_STEPS,
                    "space": convert.enum_value(request.space, PROJECTION_SPACES, "space"),
                    "seed": request.seed,
                    "class": convert.class_value(request),
                    "preview_every": request.preview_every if request.HasField("preview_every") else 25,
                    "name": request.name,
                }
            )
            job = await projections.submit(self.state, caller, request.model, request.image, options)
            yield _projection_event(job)
        finished = False
        try:
            async for event in projections.follow(self.state, job.id):
                if event is not None:
                    finished = event.state in (ProjectionState.succeeded, ProjectionState.failed, ProjectionState.cancelled)
                    yield _job_event(job.id, event)
        finally:
            if not finished and not request.follow_id:  # the submitter hung up: nobody wants the result
                await projections.cancel(self.state, caller, job.id)

    async def GetProjection(self, request: pb.GetProjectionRequest, context: grpc.aio.ServicerContext) -> pb.ProjectionEvent:
        return _projection_event(await projections.get(self.state, request.id))

    async def CancelProjection(self, request: pb.GetProjectionRequest, context: grpc.aio.ServicerContext) -> pb.ProjectionEvent:
        return _projection_event(await projections.cancel(self.state, current_caller(), request.id))


def _projection_event(job: Projection) -> pb.ProjectionEvent:
    message = pb.ProjectionEvent(
        id=job.id, state=PROJECTION_STATES[job.state], step=job.step, steps=job.steps, elapsed_s=job.elapsed_s, error=job.error or ""
    )
    message.latent_id = job.latent_id or ""
    if job.loss is not None:
        message.loss = job.loss
    if job.psnr is not None:
        message.psnr = job.psnr
    return message


def _job_event(id: str, event: JobEvent) -> pb.ProjectionEvent:
    message = pb.ProjectionEvent(
        id=id,
        state=PROJECTION_STATES[event.state],
        step=event.step,
        steps=event.steps,
        elapsed_s=event.elapsed_s,
        preview_png=event.preview_png or b"",
        latent_id=event.latent_id or "",
        error=event.error or "",
    )
    if event.loss is not None:
        message.loss = event.loss
    if event.psnr is not None:
        message.psnr = event.psnr
    return message
