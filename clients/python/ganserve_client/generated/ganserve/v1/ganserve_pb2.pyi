from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NoiseMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOISE_MODE_UNSPECIFIED: _ClassVar[NoiseMode]
    NOISE_MODE_CONST: _ClassVar[NoiseMode]
    NOISE_MODE_NONE: _ClassVar[NoiseMode]
    NOISE_MODE_RANDOM: _ClassVar[NoiseMode]

class ImageFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_FORMAT_UNSPECIFIED: _ClassVar[ImageFormat]
    IMAGE_FORMAT_PNG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_JPEG: _ClassVar[ImageFormat]
    IMAGE_FORMAT_WEBP: _ClassVar[ImageFormat]
    IMAGE_FORMAT_RAW: _ClassVar[ImageFormat]

class InterpolationSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INTERPOLATION_SPACE_UNSPECIFIED: _ClassVar[InterpolationSpace]
    INTERPOLATION_SPACE_W: _ClassVar[InterpolationSpace]
    INTERPOLATION_SPACE_Z: _ClassVar[InterpolationSpace]

class LatentKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LATENT_KIND_UNSPECIFIED: _ClassVar[LatentKind]
    LATENT_KIND_Z: _ClassVar[LatentKind]
    LATENT_KIND_W: _ClassVar[LatentKind]
    LATENT_KIND_WS: _ClassVar[LatentKind]

class ProjectionSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECTION_SPACE_UNSPECIFIED: _ClassVar[ProjectionSpace]
    PROJECTION_SPACE_W: _ClassVar[ProjectionSpace]
    PROJECTION_SPACE_W_PLUS: _ClassVar[ProjectionSpace]

class ProjectionState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PROJECTION_STATE_UNSPECIFIED: _ClassVar[ProjectionState]
    PROJECTION_STATE_QUEUED: _ClassVar[ProjectionState]
    PROJECTION_STATE_RUNNING: _ClassVar[ProjectionState]
    PROJECTION_STATE_SUCCEEDED: _ClassVar[ProjectionState]
    PROJECTION_STATE_FAILED: _ClassVar[ProjectionState]
    PROJECTION_STATE_CANCELLED: _ClassVar[ProjectionState]
NOISE_MODE_UNSPECIFIED: NoiseMode
NOISE_MODE_CONST: NoiseMode
NOISE_MODE_NONE: NoiseMode
NOISE_MODE_RANDOM: NoiseMode
IMAGE_FORMAT_UNSPECIFIED: ImageFormat
IMAGE_FORMAT_PNG: ImageFormat
IMAGE_FORMAT_JPEG: ImageFormat
IMAGE_FORMAT_WEBP: ImageFormat
IMAGE_FORMAT_RAW: ImageFormat
INTERPOLATION_SPACE_UNSPECIFIED: InterpolationSpace
INTERPOLATION_SPACE_W: InterpolationSpace
INTERPOLATION_SPACE_Z: InterpolationSpace
LATENT_KIND_UNSPECIFIED: LatentKind
LATENT_KIND_Z: LatentKind
LATENT_KIND_W: LatentKind
LATENT_KIND_WS: LatentKind
PROJECTION_SPACE_UNSPECIFIED: ProjectionSpace
PROJECTION_SPACE_W: ProjectionSpace
PROJECTION_SPACE_W_PLUS: ProjectionSpace
PROJECTION_STATE_UNSPECIFIED: ProjectionState
PROJECTION_STATE_QUEUED: ProjectionState
PROJECTION_STATE_RUNNING: ProjectionState
PROJECTION_STATE_SUCCEEDED: ProjectionState
PROJECTION_STATE_FAILED: ProjectionState
PROJECTION_STATE_CANCELLED: ProjectionState

class FloatTensor(_message.Message):
    __slots__ = ("shape", "values")
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    shape: _containers.RepeatedScalarFieldContainer[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, shape: _Optional[_Iterable[int]] = ..., values: _Optional[_Iterable[float]] = ...) -> None: ...

class Latent(_message.Message):
    __slots__ = ("seed", "z", "w", "ws", "id", "edits")
    SEED_FIELD_NUMBER: _ClassVar[int]
    Z_FIELD_NUMBER: _ClassVar[int]
    W_FIELD_NUMBER: _ClassVar[int]
    WS_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    EDITS_FIELD_NUMBER: _ClassVar[int]
    seed: int
    z: FloatTensor
    w: FloatTensor
    ws: FloatTensor
    id: str
    edits: _containers.RepeatedCompositeFieldContainer[Edit]
    def __init__(self, seed: _Optional[int] = ..., z: _Optional[_Union[FloatTensor, _Mapping]] = ..., w: _Optional[_Union[FloatTensor, _Mapping]] = ..., ws: _Optional[_Union[FloatTensor, _Mapping]] = ..., id: _Optional[str] = ..., edits: _Optional[_Iterable[_Union[Edit, _Mapping]]] = ...) -> None: ...

class Edit(_message.Message):
    __slots__ = ("direction", "strength", "layers")
    DIRECTION_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    direction: str
    strength: float
    layers: str
    def __init__(self, direction: _Optional[str] = ..., strength: _Optional[float] = ..., layers: _Optional[str] = ...) -> None: ...

class GenerationOptions(_message.Message):
    __slots__ = ("psi", "cutoff", "class_index", "class_name", "noise", "noise_seed", "translate", "rotate")
    PSI_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    CLASS_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    NOISE_FIELD_NUMBER: _ClassVar[int]
    NOISE_SEED_FIELD_NUMBER: _ClassVar[int]
    TRANSLATE_FIELD_NUMBER: _ClassVar[int]
    ROTATE_FIELD_NUMBER: _ClassVar[int]
    psi: float
    cutoff: int
    class_index: int
    class_name: str
    noise: NoiseMode
    noise_seed: int
    translate: Translation
    rotate: float
    def __init__(self, psi: _Optional[float] = ..., cutoff: _Optional[int] = ..., class_index: _Optional[int] = ..., class_name: _Optional[str] = ..., noise: _Optional[_Union[NoiseMode, str]] = ..., noise_seed: _Optional[int] = ..., translate: _Optional[_Union[Translation, _Mapping]] = ..., rotate: _Optional[float] = ...) -> None: ...

class Translation(_message.Message):
    __slots__ = ("x", "y")
    X_FIELD_NUMBER: _ClassVar[int]
    Y_FIELD_NUMBER: _ClassVar[int]
    x: float
    y: float
    def __init__(self, x: _Optional[float] = ..., y: _Optional[float] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("format", "media_type", "shape", "data", "ws")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    WS_FIELD_NUMBER: _ClassVar[int]
    format: ImageFormat
    media_type: str
    shape: _containers.RepeatedScalarFieldContainer[int]
    data: bytes
    ws: FloatTensor
    def __init__(self, format: _Optional[_Union[ImageFormat, str]] = ..., media_type: _Optional[str] = ..., shape: _Optional[_Iterable[int]] = ..., data: _Optional[bytes] = ..., ws: _Optional[_Union[FloatTensor, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LayerIndices(_message.Message):
    __slots__ = ("indices",)
    INDICES_FIELD_NUMBER: _ClassVar[int]
    indices: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, indices: _Optional[_Iterable[int]] = ...) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("name", "architecture", "resolution", "img_channels", "z_dim", "w_dim", "num_ws", "c_dim", "class_names", "layer_groups", "version", "engine", "source", "default", "training_log", "precision", "precision_reason")
    class LayerGroupsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: LayerIndices
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[LayerIndices, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURE_FIELD_NUMBER: _ClassVar[int]
    RESOLUTION_FIELD_NUMBER: _ClassVar[int]
    IMG_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    Z_DIM_FIELD_NUMBER: _ClassVar[int]
    W_DIM_FIELD_NUMBER: _ClassVar[int]
    NUM_WS_FIELD_NUMBER: _ClassVar[int]
    C_DIM_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    LAYER_GROUPS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    TRAINING_LOG_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    PRECISION_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    architecture: str
    resolution: int
    img_channels: int
    z_dim: int
    w_dim: int
    num_ws: int
    c_dim: int
    class_names: _containers.RepeatedScalarFieldContainer[str]
    layer_groups: _containers.MessageMap[str, LayerIndices]
    version: str
    engine: str
    source: _struct_pb2.Struct
    default: bool
    training_log: bool
    precision: str
    precision_reason: str
    def __init__(self, name: _Optional[str] = ..., architecture: _Optional[str] = ..., resolution: _Optional[int] = ..., img_channels: _Optional[int] = ..., z_dim: _Optional[int] = ..., w_dim: _Optional[int] = ..., num_ws: _Optional[int] = ..., c_dim: _Optional[int] = ..., class_names: _Optional[_Iterable[str]] = ..., layer_groups: _Optional[_Mapping[str, LayerIndices]] = ..., version: _Optional[str] = ..., engine: _Optional[str] = ..., source: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., default: _Optional[bool] = ..., training_log: _Optional[bool] = ..., precision: _Optional[str] = ..., precision_reason: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class GenerateRequest(_message.Message):
    __slots__ = ("model", "latents", "options", "format", "include_ws", "grid", "grid_columns")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LATENTS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_WS_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    GRID_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    model: str
    latents: _containers.RepeatedCompositeFieldContainer[Latent]
    options: GenerationOptions
    format: ImageFormat
    include_ws: bool
    grid: bool
    grid_columns: int
    def __init__(self, model: _Optional[str] = ..., latents: _Optional[_Iterable[_Union[Latent, _Mapping]]] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., include_ws: _Optional[bool] = ..., grid: _Optional[bool] = ..., grid_columns: _Optional[int] = ...) -> None: ...

class GenerateResponse(_message.Message):
    __slots__ = ("model", "images")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    model: str
    images: _containers.RepeatedCompositeFieldContainer[Image]
    def __init__(self, model: _Optional[str] = ..., images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ...) -> None: ...

class InterpolateRequest(_message.Message):
    __slots__ = ("model", "keyframes", "frames", "space", "loop", "options", "format", "include_ws", "latents_only")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    KEYFRAMES_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    LOOP_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_WS_FIELD_NUMBER: _ClassVar[int]
    LATENTS_ONLY_FIELD_NUMBER: _ClassVar[int]
    model: str
    keyframes: _containers.RepeatedCompositeFieldContainer[Latent]
    frames: int
    space: InterpolationSpace
    loop: bool
    options: GenerationOptions
    format: ImageFormat
    include_ws: bool
    latents_only: bool
    def __init__(self, model: _Optional[str] = ..., keyframes: _Optional[_Iterable[_Union[Latent, _Mapping]]] = ..., frames: _Optional[int] = ..., space: _Optional[_Union[InterpolationSpace, str]] = ..., loop: _Optional[bool] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., include_ws: _Optional[bool] = ..., latents_only: _Optional[bool] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("index", "count", "image", "ws")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    WS_FIELD_NUMBER: _ClassVar[int]
    index: int
    count: int
    image: Image
    ws: FloatTensor
    def __init__(self, index: _Optional[int] = ..., count: _Optional[int] = ..., image: _Optional[_Union[Image, _Mapping]] = ..., ws: _Optional[_Union[FloatTensor, _Mapping]] = ...) -> None: ...

class MixRequest(_message.Message):
    __slots__ = ("model", "rows", "columns", "layers", "options", "format", "include_ws", "grid")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_WS_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    model: str
    rows: _containers.RepeatedCompositeFieldContainer[Latent]
    columns: _containers.RepeatedCompositeFieldContainer[Latent]
    layers: str
    options: GenerationOptions
    format: ImageFormat
    include_ws: bool
    grid: bool
    def __init__(self, model: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[Latent, _Mapping]]] = ..., columns: _Optional[_Iterable[_Union[Latent, _Mapping]]] = ..., layers: _Optional[str] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., include_ws: _Optional[bool] = ..., grid: _Optional[bool] = ...) -> None: ...

class MixCell(_message.Message):
    __slots__ = ("row", "column", "image")
    ROW_FIELD_NUMBER: _ClassVar[int]
    COLUMN_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    row: int
    column: int
    image: Image
    def __init__(self, row: _Optional[int] = ..., column: _Optional[int] = ..., image: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class MixResponse(_message.Message):
    __slots__ = ("model", "layers", "cells", "grid")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    CELLS_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    model: str
    layers: _containers.RepeatedScalarFieldContainer[int]
    cells: _containers.RepeatedCompositeFieldContainer[MixCell]
    grid: Image
    def __init__(self, model: _Optional[str] = ..., layers: _Optional[_Iterable[int]] = ..., cells: _Optional[_Iterable[_Union[MixCell, _Mapping]]] = ..., grid: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...

class ListDirectionsRequest(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: str
    def __init__(self, model: _Optional[str] = ...) -> None: ...

class Direction(_message.Message):
    __slots__ = ("id", "method", "label", "layers", "layer_indices", "sigma", "explained_variance", "eigenvalue")
    ID_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    LAYER_INDICES_FIELD_NUMBER: _ClassVar[int]
    SIGMA_FIELD_NUMBER: _ClassVar[int]
    EXPLAINED_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    EIGENVALUE_FIELD_NUMBER: _ClassVar[int]
    id: str
    method: str
    label: str
    layers: str
    layer_indices: _containers.RepeatedScalarFieldContainer[int]
    sigma: float
    explained_variance: float
    eigenvalue: float
    def __init__(self, id: _Optional[str] = ..., method: _Optional[str] = ..., label: _Optional[str] = ..., layers: _Optional[str] = ..., layer_indices: _Optional[_Iterable[int]] = ..., sigma: _Optional[float] = ..., explained_variance: _Optional[float] = ..., eigenvalue: _Optional[float] = ...) -> None: ...

class ListDirectionsResponse(_message.Message):
    __slots__ = ("model", "directions")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DIRECTIONS_FIELD_NUMBER: _ClassVar[int]
    model: str
    directions: _containers.RepeatedCompositeFieldContainer[Direction]
    def __init__(self, model: _Optional[str] = ..., directions: _Optional[_Iterable[_Union[Direction, _Mapping]]] = ...) -> None: ...

class ChildrenRequest(_message.Message):
    __slots__ = ("model", "parent", "count", "spread", "layers", "seed", "options", "format", "include_parent", "latents_only", "grid", "grid_columns")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_PARENT_FIELD_NUMBER: _ClassVar[int]
    LATENTS_ONLY_FIELD_NUMBER: _ClassVar[int]
    GRID_FIELD_NUMBER: _ClassVar[int]
    GRID_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    model: str
    parent: Latent
    count: int
    spread: float
    layers: str
    seed: int
    options: GenerationOptions
    format: ImageFormat
    include_parent: bool
    latents_only: bool
    grid: bool
    grid_columns: int
    def __init__(self, model: _Optional[str] = ..., parent: _Optional[_Union[Latent, _Mapping]] = ..., count: _Optional[int] = ..., spread: _Optional[float] = ..., layers: _Optional[str] = ..., seed: _Optional[int] = ..., options: _Optional[_Union[GenerationOptions, _Mapping]] = ..., format: _Optional[_Union[ImageFormat, str]] = ..., include_parent: _Optional[bool] = ..., latents_only: _Optional[bool] = ..., grid: _Optional[bool] = ..., grid_columns: _Optional[int] = ...) -> None: ...

class ChildrenResponse(_message.Message):
    __slots__ = ("model", "images", "ws")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    WS_FIELD_NUMBER: _ClassVar[int]
    model: str
    images: _containers.RepeatedCompositeFieldContainer[Image]
    ws: _containers.RepeatedCompositeFieldContainer[FloatTensor]
    def __init__(self, model: _Optional[str] = ..., images: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., ws: _Optional[_Iterable[_Union[FloatTensor, _Mapping]]] = ...) -> None: ...

class SaveLatentRequest(_message.Message):
    __slots__ = ("model", "latent", "kind", "psi", "cutoff", "class_index", "class_name", "name", "ttl_s")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LATENT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PSI_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    CLASS_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TTL_S_FIELD_NUMBER: _ClassVar[int]
    model: str
    latent: Latent
    kind: LatentKind
    psi: float
    cutoff: int
    class_index: int
    class_name: str
    name: str
    ttl_s: float
    def __init__(self, model: _Optional[str] = ..., latent: _Optional[_Union[Latent, _Mapping]] = ..., kind: _Optional[_Union[LatentKind, str]] = ..., psi: _Optional[float] = ..., cutoff: _Optional[int] = ..., class_index: _Optional[int] = ..., class_name: _Optional[str] = ..., name: _Optional[str] = ..., ttl_s: _Optional[float] = ...) -> None: ...

class SavedLatent(_message.Message):
    __slots__ = ("id", "model", "model_version", "kind", "values", "name", "source", "created", "expires", "shape")
    ID_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    model: str
    model_version: str
    kind: LatentKind
    values: FloatTensor
    name: str
    source: _struct_pb2.Struct
    created: float
    expires: float
    shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, id: _Optional[str] = ..., model: _Optional[str] = ..., model_version: _Optional[str] = ..., kind: _Optional[_Union[LatentKind, str]] = ..., values: _Optional[_Union[FloatTensor, _Mapping]] = ..., name: _Optional[str] = ..., source: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created: _Optional[float] = ..., expires: _Optional[float] = ..., shape: _Optional[_Iterable[int]] = ...) -> None: ...

class GetLatentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteLatentRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteLatentResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListLatentsRequest(_message.Message):
    __slots__ = ("model", "limit", "cursor", "include_values")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VALUES_FIELD_NUMBER: _ClassVar[int]
    model: str
    limit: int
    cursor: str
    include_values: bool
    def __init__(self, model: _Optional[str] = ..., limit: _Optional[int] = ..., cursor: _Optional[str] = ..., include_values: _Optional[bool] = ...) -> None: ...

class ListLatentsResponse(_message.Message):
    __slots__ = ("latents", "next_cursor")
    LATENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_CURSOR_FIELD_NUMBER: _ClassVar[int]
    latents: _containers.RepeatedCompositeFieldContainer[SavedLatent]
    next_cursor: str
    def __init__(self, latents: _Optional[_Iterable[_Union[SavedLatent, _Mapping]]] = ..., next_cursor: _Optional[str] = ...) -> None: ...

class ProjectRequest(_message.Message):
    __slots__ = ("model", "image", "steps", "space", "seed", "class_index", "class_name", "preview_every", "name", "follow_id")
    MODEL_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CLASS_INDEX_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_EVERY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_ID_FIELD_NUMBER: _ClassVar[int]
    model: str
    image: bytes
    steps: int
    space: ProjectionSpace
    seed: int
    class_index: int
    class_name: str
    preview_every: int
    name: str
    follow_id: str
    def __init__(self, model: _Optional[str] = ..., image: _Optional[bytes] = ..., steps: _Optional[int] = ..., space: _Optional[_Union[ProjectionSpace, str]] = ..., seed: _Optional[int] = ..., class_index: _Optional[int] = ..., class_name: _Optional[str] = ..., preview_every: _Optional[int] = ..., name: _Optional[str] = ..., follow_id: _Optional[str] = ...) -> None: ...

class ProjectionEvent(_message.Message):
    __slots__ = ("id", "state", "step", "steps", "loss", "psnr", "elapsed_s", "preview_png", "latent_id", "error")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    PSNR_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_S_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_PNG_FIELD_NUMBER: _ClassVar[int]
    LATENT_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    state: ProjectionState
    step: int
    steps: int
    loss: float
    psnr: float
    elapsed_s: float
    preview_png: bytes
    latent_id: str
    error: str
    def __init__(self, id: _Optional[str] = ..., state: _Optional[_Union[ProjectionState, str]] = ..., step: _Optional[int] = ..., steps: _Optional[int] = ..., loss: _Optional[float] = ..., psnr: _Optional[float] = ..., elapsed_s: _Optional[float] = ..., preview_png: _Optional[bytes] = ..., latent_id: _Optional[str] = ..., error: _Optional[str] = ...) -> None: ...

class GetProjectionRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...
