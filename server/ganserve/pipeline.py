"""The request path for one model: latents -> w (cached) -> ws -> truncation -> engine images.

Mapping and synthesis are separate engine calls, so interpolation and mixing run synthesis on
cached w only. All three engine calls go through micro-batchers shared by concurrent requests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import numpy as np

from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.batching import MicroBatcher
from ganserve.cache import Cache, cache_key
from ganserve.cache.codec import decode_array, encode_array
from ganserve.directions import Direction, Directions, layer_ranges
from ganserve.engines import Engine
from ganserve.errors import InvalidInput, NotFound
from ganserve.protocol import IDENTITY, Edit, Latent, NoiseMode, View
from ganserve.settings import Settings
from ganserve.store import LatentStore

ResolvedEdit = tuple[Direction, float, list[int]]  # an edit checked against the model: direction, strength, ws indices


def _decode_w(value: bytes | None, w_dim: int) -> np.ndarray | None:
    """A cached w, or None for a miss or an entry that is not a w of this model (treated as a miss)."""
    if value is None:
        return None
    try:
        w = decode_array(value)
    except ValueError:
        return None
    return w if w.shape == (w_dim,) else None


def _finite(array: np.ndarray, field: str) -> np.ndarray:
    if not np.all(np.isfinite(array)):
        raise InvalidInput(field, "values must be finite numbers")
    return array


class ModelPipeline:
    def __init__(self, artifact: Artifact, engine: Engine, settings: Settings, w_cache: Cache, store: LatentStore | None = None):
        self.artifact, self.engine, self.settings, self.w_cache, self.store = artifact, engine, settings, w_cache, store
        self.config = artifact.config
        self.digest = artifact.digest
        self.w_avg = artifact.load_w_avg()
        self.directions = Directions.load(artifact)
        self.layer_ranges = layer_ranges(self.config)  # computed once: edits resolve layers on every request

        def batcher(fn: Callable[..., Any], name: str) -> MicroBatcher:
            delay = settings.batch_max_delay_ms / 1000
            in_flight = getattr(engine, "batches_in_flight", 1)
            return MicroBatcher(fn, settings.batch_max_size, delay, settings.queue_max_images, f"{self.config.name} {name}", in_flight)

        self.mapping = batcher(engine.map, "mapping")
        if self.config.stylegan3 is not None:
            self.synthesis = batcher(engine.synthesize_transformed, "synthesis")
            self.synthesis_noise: MicroBatcher | None = None  # StyleGAN3 has no noise inputs
        else:
            self.synthesis = batcher(engine.synthesize, "synthesis")
            self.synthesis_noise = batcher(engine.synthesize_with_noise, "synthesis_noise")

    # -- classes -----------------------------------------------------------------------------
    def class_index(self, value: int | str | None, field: str = "class") -> int | None:
        cfg = self.config
        if cfg.c_dim == 0:
            if value is not None:
                raise InvalidInput(field, f"model {cfg.name} is unconditional: leave out the class")
            return None
        if value is None:  # needed only where a z is mapped: required there (needs_class)
            return None
        if isinstance(value, str) and not value.isdigit():
            if value not in cfg.class_names:
                raise InvalidInput(field, f"unknown class {value!r}; classes: {', '.join(cfg.class_names) or 'indices only'}")
            return cfg.class_names.index(value)
        index = int(value)
        if not 0 <= index < cfg.c_dim:
            raise InvalidInput(field, f"class index must be 0-{cfg.c_dim - 1}")
        return index

    # -- latents -> w / ws -----------------------------------------------------------------------
    def needs_class(self, class_index: int | None) -> None:
        """A class conditions the mapping: required to map a z (a seed's) on a conditional model, and
        only then, so that a saved w or ws (a projection's, say) is used without one."""
        if self.config.c_dim and class_index is None:
            cfg = self.config
            raise InvalidInput("class", f"model {cfg.name} is conditional: give a class index 0-{cfg.c_dim - 1} or name")

    async def w_from_z(self, z: np.ndarray, class_index: int | None) -> np.ndarray:
        self.needs_class(class_index)
        c = latents.one_hot([class_index] * len(z), self.config.c_dim)
        return await self.mapping.submit(z.astype(np.float32), c)

    async def w_from_seeds(self, seeds: list[int], class_index: int | None) -> np.ndarray:
        """Mapped w per seed, from the cache where possible; one engine call for all misses."""
        self.needs_class(class_index)
        keys = [cache_key(self.config.name, self.digest, "w", seed, class_index) for seed in seeds]
        cached = [_decode_w(value, self.config.w_dim) for value in await self.w_cache.get_many(keys)]
        missing = [i for i, w in enumerate(cached) if w is None]
        found = np.empty((len(seeds), self.config.w_dim), dtype=np.float32)
        for i, w in enumerate(cached):
            if w is not None:
                found[i] = w
        if missing:
            z = latents.seeds_to_z([seeds[i] for i in missing], self.config.z_dim)
            computed = await self.w_from_z(z, class_index)
            found[missing] = computed
            await self.w_cache.set_many({keys[i]: encode_array(w) for i, w in zip(missing, computed, strict=True)})
        return found

    def _vector(self, values: list[float], length: int, field: str) -> np.ndarray:
        if len(values) != length:
            raise InvalidInput(field, f"expected {length} numbers, got {len(values)}")
        with np.errstate(over="ignore"):  # beyond float32's range becomes inf, which _finite rejects
            return _finite(np.asarray(values, dtype=np.float32), field)

    async def resolve_saved(self, latent: Latent, field: str) -> Latent:
        """A saved latent's id -> the z, w or ws it holds, checked against this model."""
        if latent.id is None:
            return latent
        if self.store is None:
            raise InvalidInput(f"{field}.id", "this server keeps no saved latents")
        saved = await self.store.get(latent.id)
        if saved is None:
            raise NotFound(f"{field}.id", f"no saved latent {latent.id!r}")
        if saved.model != self.config.name:
            raise InvalidInput(f"{field}.id", f"saved latent {latent.id} belongs to model {saved.model!r}, not {self.config.name!r}")
        # A z means the same under new weights; a w or ws does not (W space changes with them).
        if saved.kind != "z" and saved.model_version != self.digest[:16]:
            message = (
                f"saved latent {latent.id} is a {saved.kind} of version {saved.model_version}; {self.config.name} is now {self.digest[:16]}"
            )
            raise InvalidInput(f"{field}.id", message)
        return Latent(**{saved.kind: saved.values})

    async def z_of(self, latent: Latent, field: str) -> np.ndarray:
        latent = await self.resolve_saved(latent, field)
        if latent.seed is not None:
            return latents.seeds_to_z([latent.seed], self.config.z_dim)[0]
        if latent.z is not None:
            return self._vector(latent.z, self.config.z_dim, f"{field}.z")
        raise InvalidInput(field, "interpolation in Z needs seeds, z or saved z latents; use space=w for w or ws")

    async def to_ws(self, items: list[Latent], class_index: int | None, field: str = "latents") -> np.ndarray:
        """Any mix of seeds, z, w, ws and saved ids -> ws [N, num_ws, w_dim] (not truncated)."""
        cfg = self.config
        items = [await self.resolve_saved(item, f"{field}[{i}]") for i, item in enumerate(items)]
        ws = np.empty((len(items), cfg.num_ws, cfg.w_dim), dtype=np.float32)
        seeds = {i: item.seed for i, item in enumerate(items) if item.seed is not None}  # row -> seed
        z_rows = [i for i, item in enumerate(items) if item.z is not None]
        for i, item in enumerate(items):
            if item.w is not None:
                ws[i] = self._vector(item.w, cfg.w_dim, f"{field}[{i}].w")
            elif item.ws is not None:
                if len(item.ws) != cfg.num_ws:
                    raise InvalidInput(f"{field}[{i}].ws", f"expected {cfg.num_ws} rows of {cfg.w_dim}, got {len(item.ws)} rows")
                for j, row in enumerate(item.ws):
                    ws[i, j] = self._vector(row, cfg.w_dim, f"{field}[{i}].ws[{j}]")
        z = np.stack([await self.z_of(items[i], f"{field}[{i}]") for i in z_rows]) if z_rows else None
        if seeds:
            ws[list(seeds)] = (await self.w_from_seeds(list(seeds.values()), class_index))[:, None]
        if z is not None:
            ws[z_rows] = (await self.w_from_z(z, class_index))[:, None]
        return ws

    # -- edits ---------------------------------------------------------------------------------
    def layer_indices(self, spec: str | list[int], field: str, with_all: bool = True) -> list[int]:
        """Layer names (coarse, middle, fine, and 'all' unless with_all is off: mixing's names),
        ranges or indices -> sorted ws indices."""
        cfg = self.config
        if isinstance(spec, list):
            if not spec or any(not 0 <= i < cfg.num_ws for i in spec):
                raise InvalidInput(field, f"layer indices must be 0-{cfg.num_ws - 1}")
            return sorted(set(spec))
        try:
            return latents.parse_layers(spec, cfg.num_ws, self.layer_ranges if with_all else cfg.layer_groups)
        except ValueError as exc:
            raise InvalidInput(field, str(exc)) from None

    def direction(self, direction_id: str, field: str) -> Direction:
        found = self.directions.get(direction_id)
        if found is None:
            if not len(self.directions):
                raise InvalidInput(field, f"model {self.config.name} has no directions (run `ganserve directions` on it)")
            raise InvalidInput(field, f"unknown direction {direction_id!r}; see GET /v1/models/{self.config.name}/directions")
        return found

    def resolved_edits(self, edits: list[Edit], field: str) -> list[ResolvedEdit]:
        """Each edit's direction, strength and ws indices, checked, before any work; `field` names the list."""
        most = self.settings.max_edits
        if len(edits) > most:
            raise InvalidInput(field, f"at most {most} edits per latent (GANSERVE_MAX_EDITS)")
        resolved = []
        for i, edit in enumerate(edits):
            direction = self.direction(edit.direction, f"{field}[{i}].direction")
            layers = self.layer_indices(direction.layers if edit.layers is None else edit.layers, f"{field}[{i}].layers")
            resolved.append((direction, edit.strength, layers))
        return resolved

    def edit_offsets(self, items: list[Latent], field: str) -> np.ndarray | None:
        """What the edits add to each latent's final ws [N, num_ws, w_dim]; None when there are none.
        Checks every edit first, so call it before any engine work. `field` names the list."""
        return self._offsets([(item, f"{field}[{i}]") for i, item in enumerate(items)])

    def edit_offset(self, item: Latent, field: str) -> np.ndarray | None:
        """edit_offsets of a request's one latent (`field`: parent, latent): [1, num_ws, w_dim] or None."""
        return self._offsets([(item, field)])

    def _offsets(self, named: list[tuple[Latent, str]]) -> np.ndarray | None:
        return self.offsets_of([self.resolved_edits(item.edits, f"{field}.edits") for item, field in named])

    def offsets_of(self, resolved: list[list[ResolvedEdit]]) -> np.ndarray | None:
        """The offsets [N, num_ws, w_dim] of edits already resolved (resolved_edits), a list per latent."""
        if not any(resolved):
            return None
        offsets = np.zeros((len(resolved), self.config.num_ws, self.config.w_dim), dtype=np.float32)
        for row, edits in enumerate(resolved):
            for direction, strength, layers in edits:
                offsets[row, layers] += np.float32(strength * direction.sigma) * direction.vector
        return offsets

    def check_cutoff(self, cutoff: int | None) -> None:
        if cutoff is not None and not 0 <= cutoff <= self.config.num_ws:
            raise InvalidInput("cutoff", f"must be 0-{self.config.num_ws} (how many ws layers to truncate)")

    def truncate(self, ws: np.ndarray, psi: float, cutoff: int | None, offsets: np.ndarray | None = None) -> np.ndarray:
        """Truncation, then the edits' offsets (edit_offsets): edits move the truncated w, so a
        slider's step means the same at every psi."""
        self.check_cutoff(cutoff)
        truncated = latents.truncate(ws, self.w_avg, psi, cutoff)
        return truncated if offsets is None else (truncated + offsets).astype(np.float32)

    # -- ws -> images --------------------------------------------------------------------------
    def check_view(self, view: View) -> None:
        if self.config.stylegan3 is None and not view.is_identity:
            field = "rotate" if view.translate == (0.0, 0.0) else "translate"
            raise InvalidInput(field, f"model {self.config.name} is StyleGAN2: translate and rotate need a StyleGAN3 model")

    async def synthesize(
        self, ws: np.ndarray, noise: NoiseMode, noise_seed: int = 0, same_noise: bool = False, view: View = IDENTITY
    ) -> np.ndarray:
        """uint8 [N, H, W, C]. With noise=random, image i draws its noise from noise_seed + i, or every
        image from noise_seed when same_noise (animation frames, where only the latent should move).
        StyleGAN3 models ignore noise (as NVlabs' code does) and take the view instead."""
        self.check_view(view)
        ws = np.ascontiguousarray(ws, dtype=np.float32)
        if self.config.stylegan3 is not None:
            transform = np.repeat(latents.input_transform(view.translate, view.rotate)[None], len(ws), axis=0)
            return await self.synthesis.submit(ws, transform)
        if noise == NoiseMode.random and self.synthesis_noise is not None:
            seeds = [noise_seed if same_noise else (noise_seed + i) % (latents.SEED_MAX + 1) for i in range(len(ws))]
            return await self.synthesis_noise.submit(ws, latents.random_noise_maps(seeds, self.config.noise_shapes))
        gain = np.full([len(ws)], 1.0 if noise == NoiseMode.const else 0.0, dtype=np.float32)
        return await self.synthesis.submit(ws, gain)

    def batchers(self) -> dict[str, MicroBatcher]:
        batchers = {"mapping": self.mapping, "synthesis": self.synthesis, "synthesis_noise": self.synthesis_noise}
        return {name: batcher for name, batcher in batchers.items() if batcher is not None}

    async def retire(self, grace_s: float) -> None:
        """Replaced by a reload: once no request has work queued or running here, and grace_s more
        have passed (a request that picked this pipeline may not have submitted yet), stop the
        batchers. The engine is not closed: a late request still works, and the garbage collector
        frees it when the last one is done."""
        batchers = list(self.batchers().values())
        while any(b.queued_images or b.running for b in batchers):
            await asyncio.sleep(0.05)
        await asyncio.sleep(grace_s)
        for batcher in batchers:
            await batcher.close()

    async def close(self) -> None:
        for batcher in self.batchers().values():
            await batcher.close()
        self.engine.close()
