"""Hypothesis-generated protobuf requests against a real gateway's gRPC server: whatever a client
sends, every RPC of ganserve.v1.Generator answers OK or a deliberate status (INVALID_ARGUMENT,
NOT_FOUND, ...), never INTERNAL or UNKNOWN (an exception nothing mapped).

The requests are drawn from the message descriptors, field by field, so that a field added to the
proto is fuzzed without touching this file; `model`, latent ids, directions and class names mostly
take the server's real values so that the requests get past the lookups."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from fuzzing import METADATA, RssSampler, examples, fuzz_gateway, png
from ganserve_client.generated.ganserve.v1 import ganserve_pb2 as pb
from ganserve_client.generated.ganserve.v1 import ganserve_pb2_grpc

SERVICE = pb.DESCRIPTOR.services_by_name["Generator"]
EXAMPLES = examples(60)  # per RPC
CALL_TIMEOUT_S = 60
FAILURES = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
MAX_REPEATED = 4  # elements of a repeated field: past the limits (8 images, 3 mix side) only with shaped lists
MIN_REPEATED = {"keyframes": 2}  # of an ALWAYS list, four times in five (an interpolation needs two); else fewer
MAX_TEXT = 24
MAX_DEPTH = 4  # nested messages; the request messages nest 3 deep (GenerateRequest.latents.edits)
LAYERS = ["", "all", "coarse", "middle", "fine", "0-3", "0,2,4-5", "3-1", "0-999", "-1"]
F = FieldDescriptor
ABSENT = object()
PROJECTION_MESSAGES = {"GetProjectionRequest"}  # their `id` is a projection's (CancelProjection takes one too)
VIEW_FIELDS = {"translate", "rotate"}  # StyleGAN3 models only
UPLOAD = png(8, 8, rgb=True)  # an image a projection accepts (it is resized to the model's resolution)
# A stream that may never end by itself: a projection's runs until its job does, and the fuzz
# gateway runs none. Its first event (the job's, or an error) is what the call is judged by.
FIRST_EVENT_ONLY = {"Project"}
# What a request is about: set in every one (to real values, mostly), since a request without them
# has one answer only (NOT_FOUND, INVALID_ARGUMENT). The other fields are set a third of the time.
ALWAYS = {"model", "id", "latents", "keyframes", "rows", "columns", "parent", "latent", "value"}
INTEGERS = {
    F.TYPE_INT32: (-(2**31), 2**31 - 1),
    F.TYPE_SINT32: (-(2**31), 2**31 - 1),
    F.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    F.TYPE_INT64: (-(2**63), 2**63 - 1),
    F.TYPE_SINT64: (-(2**63), 2**63 - 1),
    F.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    F.TYPE_UINT32: (0, 2**32 - 1),
    F.TYPE_FIXED32: (0, 2**32 - 1),
    F.TYPE_UINT64: (0, 2**64 - 1),
    F.TYPE_FIXED64: (0, 2**64 - 1),
}


def weighted(often: st.SearchStrategy, rarely: st.SearchStrategy) -> st.SearchStrategy:
    """`often` four times in five, else `rarely`."""
    return st.sampled_from([True, True, True, True, False]).flatmap(lambda pick: often if pick else rarely)


def mostly(real: list[Any], other: st.SearchStrategy) -> st.SearchStrategy:
    """A real value four times in five (when there is one), else `other`."""
    return weighted(st.sampled_from(real), other) if real else other


def sometimes(strategy: st.SearchStrategy) -> st.SearchStrategy:
    """ABSENT two times in three: a request with fewer fields set is more often one that can be served."""
    return st.sampled_from([False, False, True]).flatmap(lambda present: strategy if present else st.just(ABSENT))


class Requests:
    """Strategies for request messages, built from their descriptors with the server's values.

    Four requests in five are about one real model, drawn first: its name, its saved ids, its
    directions and classes, tensors of its shapes, a class only where it has classes, a view only
    where it is a StyleGAN3, so that they get past validation and reach the engine. The fifth
    mixes values of every model (and made-up ones) freely."""

    def __init__(self, values: dict[str, Any], models: list[pb.ModelInfo]):
        self.values, self.models = values, models

    def real(self, group: dict[str, list], info: pb.ModelInfo | None) -> list:
        """The values of `group` (per model) for the request's model, or of every model."""
        if info is not None:
            return sorted(group.get(info.name, []))
        return sorted({value for values in group.values() for value in values})

    def text(self) -> st.SearchStrategy[str]:
        # Every code point but lone surrogates (a protobuf string is UTF-8), NUL and controls included.
        return st.text(st.characters(codec="utf-8"), max_size=MAX_TEXT)

    def scalar(self, field: FieldDescriptor, message: Descriptor, info: pb.ModelInfo | None) -> st.SearchStrategy:
        name = field.name
        if field.type == F.TYPE_STRING:
            if name == "id" and message.name in PROJECTION_MESSAGES or name == "follow_id":
                real = self.values["projection_ids"]
            else:
                real = {
                    "model": [info.name] if info is not None else self.values["models"],
                    "id": self.real(self.values["deletable_ids" if message.name == "DeleteLatentRequest" else "ids"], info),
                    "direction": self.real(self.values["directions"], info),
                    "class_name": self.real(self.values["class_names"], info),
                    "layers": LAYERS,
                }.get(name, [])
            return mostly(real, self.text())
        if field.type == F.TYPE_BYTES:
            return weighted(st.just(UPLOAD), st.binary(max_size=64)) if name == "image" else st.binary(max_size=64)
        if field.type == F.TYPE_BOOL:
            return st.booleans()
        # Mostly values a request can use (small numbers, known enum values), else the whole range:
        # NaN and both infinities, the integer type's ends, enum numbers the proto does not name.
        if field.type == F.TYPE_DOUBLE:
            return weighted(st.floats(-3, 3), st.floats())
        if field.type == F.TYPE_FLOAT:
            return weighted(st.floats(-3, 3, width=32), st.floats(width=32))
        if field.type == F.TYPE_ENUM:
            known = [value.number for value in field.enum_type.values]
            return weighted(st.sampled_from(known), st.integers(-(2**31), 2**31 - 1))
        low, high = INTEGERS[field.type]
        if name == "class_index" and info is not None and info.c_dim:
            return weighted(st.integers(0, info.c_dim - 1), st.integers(low, high))
        return weighted(st.integers(max(low, -3), min(high, 20)), st.integers(low, high))

    def tensor(self, name: str, info: pb.ModelInfo | None) -> st.SearchStrategy[dict[str, Any]]:
        """A FloatTensor as descriptors alone would draw it, or one shaped as the request's model's
        z, w or ws (the one the field `name` holds; any shape of any model without a model): an
        arbitrary fill with some odd values, so that the values reach the engine."""
        if info is not None:
            shapes = [{"z": [info.z_dim], "w": [info.w_dim]}.get(name, [info.num_ws, info.w_dim])]
        else:
            shapes = [shape for each in self.models for shape in ([each.z_dim], [each.w_dim], [each.num_ws, each.w_dim])]

        @st.composite
        def shaped(draw: st.DrawFn) -> dict[str, Any]:
            shape = draw(st.sampled_from(shapes))
            size = shape[0] * (shape[1] if len(shape) > 1 else 1)
            values = [draw(st.floats(-3, 3, width=32))] * size
            for index, value in draw(st.lists(st.tuples(st.integers(0, size - 1), st.floats(width=32)), max_size=4)):
                values[index] = value
            return {"shape": draw(st.sampled_from([shape, []])) if len(shape) == 1 else shape, "values": values}

        return weighted(shaped(), self.fields(pb.FloatTensor.DESCRIPTOR, MAX_DEPTH, info))

    def value(self, field: FieldDescriptor, message: Descriptor, depth: int, info: pb.ModelInfo | None) -> st.SearchStrategy:
        if field.type != F.TYPE_MESSAGE:
            return self.scalar(field, message, info)
        if field.message_type.GetOptions().map_entry:
            key, value = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            return st.dictionaries(self.scalar(key, message, info), self.value(value, message, depth + 1, info), max_size=MAX_REPEATED)
        if field.message_type.full_name == pb.FloatTensor.DESCRIPTOR.full_name:
            return self.tensor(field.name, info)
        return self.fields(field.message_type, depth + 1, info)

    def presence(self, name: str, strategy: st.SearchStrategy, info: pb.ModelInfo | None) -> st.SearchStrategy:
        """How often a field (or a oneof) outside ALWAYS is set: by what the request's model takes."""
        if info is not None and name == "class_value":  # conditional models need one, the others refuse one
            return weighted(strategy, st.just(ABSENT)) if info.c_dim else weighted(st.just(ABSENT), strategy)
        if info is not None and name == "options" and info.c_dim:  # where a conditional model's class goes
            return weighted(strategy, st.just(ABSENT))
        if info is not None and name in VIEW_FIELDS and info.architecture != "stylegan3":  # the identity only
            return weighted(st.just(ABSENT), strategy)
        if info is None and name == "class_value":
            return st.one_of(st.just(ABSENT), strategy)
        return sometimes(strategy)

    def fields(self, message: Descriptor, depth: int, info: pb.ModelInfo | None) -> st.SearchStrategy[dict[str, Any]]:
        """Keyword arguments for the message: every field independently present or absent (repeated
        ones 0..MAX_REPEATED long), and at most one field of each oneof."""
        if depth > MAX_DEPTH:
            return st.just({})
        fields, oneofs = [], []
        for oneof in message.oneofs:
            choices = [self.member(field, message, depth, info).map(lambda v, n=field.name: {n: v}) for field in oneof.fields]
            if oneof.name in ALWAYS:
                oneofs.append(weighted(st.one_of(*choices), st.just(ABSENT)))
            else:
                oneofs.append(self.presence(oneof.name, st.one_of(*choices), info))
        in_oneof = {field.name for oneof in message.oneofs for field in oneof.fields}
        for field in message.fields:
            if field.name not in in_oneof:
                strategy = self.member(field, message, depth, info).map(lambda v, n=field.name: {n: v})
                fields.append(strategy if field.name in ALWAYS else self.presence(field.name, strategy, info))
        return st.tuples(*fields, *oneofs).map(lambda parts: {k: v for part in parts if part is not ABSENT for k, v in part.items()})

    def member(self, field: FieldDescriptor, message: Descriptor, depth: int, info: pb.ModelInfo | None) -> st.SearchStrategy:
        strategy = self.value(field, message, depth, info)
        if field.is_repeated and not (field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry):
            if field.name in ALWAYS:
                least = MIN_REPEATED.get(field.name, 1)
                return weighted(st.lists(strategy, min_size=least, max_size=MAX_REPEATED), st.lists(strategy, max_size=least - 1))
            return st.lists(strategy, max_size=MAX_REPEATED)
        return strategy

    def request(self, message: type[Message]) -> st.SearchStrategy[Message]:
        about = weighted(st.sampled_from(self.models), st.just(None))
        return about.flatmap(lambda info: self.fields(message.DESCRIPTOR, 0, info)).map(lambda kwargs: build(message, kwargs))


def build(message: type[Message], kwargs: dict[str, Any]) -> Message:
    """The message from nested dicts (sub-messages and map values are dicts too)."""
    out = message()
    for name, value in kwargs.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        if field.type == F.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            for key, item in value.items():
                if value_field.type == F.TYPE_MESSAGE:
                    getattr(out, name)[key].CopyFrom(build(message_factory.GetMessageClass(value_field.message_type), item))
                else:
                    getattr(out, name)[key] = item
        elif field.type == F.TYPE_MESSAGE:
            sub = message_factory.GetMessageClass(field.message_type)
            if field.is_repeated:
                getattr(out, name).extend([build(sub, item) for item in value])
            else:
                getattr(out, name).CopyFrom(build(sub, value))
        elif field.is_repeated:
            getattr(out, name).extend(value)
        else:
            setattr(out, name, value)
    return out


@pytest.fixture(scope="module")
def rpc_server(settings, tmp_path_factory):
    with fuzz_gateway(settings, tmp_path_factory.mktemp("rpc-fuzz")) as (server, values):
        options = [("grpc.max_receive_message_length", 64 << 20)]
        with grpc.insecure_channel(server.grpc_target, options=options) as channel:
            stub = ganserve_pb2_grpc.GeneratorStub(channel)
            models = list(stub.ListModels(pb.ListModelsRequest(), metadata=METADATA, timeout=CALL_TIMEOUT_S).models)
            yield server, stub, Requests(values, models)


def call(stub: ganserve_pb2_grpc.GeneratorStub, method: str, request: Message) -> tuple[grpc.StatusCode, str]:
    """The call's status and the field it names (trailing metadata ganserve-field); a server stream
    is read to its end (its status comes last)."""
    rpc = getattr(stub, method)
    try:
        if method in FIRST_EVENT_ONLY:
            stream = rpc(request, metadata=METADATA, timeout=CALL_TIMEOUT_S)
            next(stream, None)
            stream.cancel()  # cancels the job it submitted: the per-caller limit stays free
        elif SERVICE.methods_by_name[method].server_streaming:
            for _ in rpc(request, metadata=METADATA, timeout=CALL_TIMEOUT_S):
                pass
        else:
            rpc(request, metadata=METADATA, timeout=CALL_TIMEOUT_S)
    except grpc.RpcError as error:
        field = dict(error.trailing_metadata() or ()).get("ganserve-field", "")
        return error.code(), field
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("method", list(SERVICE.methods_by_name))
def test_no_request_causes_an_internal_error(rpc_server, method, capsys):
    """EXAMPLES generated requests (derandomized: the same ones each run); none gets INTERNAL or UNKNOWN."""
    server, stub, requests = rpc_server
    request_class = getattr(pb, SERVICE.methods_by_name[method].input_type.name)
    statuses: Counter[str] = Counter()
    fields: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(request=requests.request(request_class))
    def check(request: Message) -> None:
        code, field = call(stub, method, request)
        statuses[code.name] += 1
        fields[field] += bool(field)
        assert code not in FAILURES, f"{method} answered {code.name} to {request!r}"[:4000]

    started = time.perf_counter()
    with RssSampler(server.proc.pid) as memory:
        try:
            check()
        except AssertionError as failure:
            failure.add_note(f"the server's log:\n{server.log_tail(40)}")  # its traceback
            raise
        finally:
            with capsys.disabled():
                elapsed = time.perf_counter() - started
                rejected = ", ".join(f"{name} {count}" for name, count in fields.most_common(4) if count)
                print(f"\n{method}: {sum(statuses.values())} calls in {elapsed:.1f} s, status {dict(statuses.most_common())}")
                print(f"  most rejected fields: {rejected or '-'}; {memory.report()}")
    memory.check()
