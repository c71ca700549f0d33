"""`ganserve import`: NVlabs snapshot pickles -> model artifacts, without running anything from the pickle.

Snapshots are written at test time (tests/importer_pickles.py) from the committed NVlabs reference
weights; with GANSERVE_NVLABS_STYLEGAN2 / GANSERVE_NVLABS_STYLEGAN3 pointing at NVlabs checkouts, real
snapshots pickled by NVlabs' own code are imported too (into tmp_path only: never committed), and
the images their gen_images.py makes are compared with what we serve from the imported model.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import pickle
import select
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import importer_pickles
import nvlabs_reference
from ganserve import latents
from ganserve.artifacts import Artifact
from ganserve.cli import app
from ganserve.compile import compile_model
from ganserve.engines import load_engine
from ganserve.importer import ImportRefused, import_pickle
from ganserve.importer.unpickle import loads
from ganserve.repository import GRAPH_PARTS, Target, graph_path
from ganserve.settings import Settings
from ganserve.triton.config import BatchingOptions
from tolerances import MAPPING_ULPS, assert_close_ulps

# Every committed reference case; StyleGAN3 ones come from nvlabs_reference.SG3_CASES.
SG3_CASES = getattr(nvlabs_reference, "SG3_CASES", [])
CASES = [*nvlabs_reference.CASES, *SG3_CASES]
if not SG3_CASES:
    CASES.append(pytest.param("stylegan3", marks=pytest.mark.skip(reason="no StyleGAN3 reference cases in tests/nvlabs_reference.py yet")))


def run_import(*args: str):
    return CliRunner().invoke(app, ["import", *map(str, args)])


def assert_same_state(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == set(want)
    for key, value in want.items():
        assert got[key].shape == value.shape and got[key].dtype == np.float32, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)


# --- (a) the reference networks, through an NVlabs-format snapshot --------------------------------


@pytest.mark.parametrize("case", CASES)
def test_import_gives_the_reference_state_and_config(tmp_path, case):
    # exotic: matrices stored transposed and at a storage offset, as torch views can be.
    config, state = importer_pickles.case_snapshot(tmp_path / "network-snapshot-000100.pkl", case, exotic=True)
    result = import_pickle(tmp_path / "network-snapshot-000100.pkl", "imported", tmp_path / "models")

    assert_same_state(result.network.state, state)
    assert result.network.network == "G_ema" and not result.network.notes
    got = result.artifact.config
    assert got.model_dump(exclude={"name", "source"}) == config.model_dump(exclude={"name", "source"})
    assert got.name == "imported" and got.source.kind == "nvlabs-pickle" and got.source.detail == "network-snapshot-000100.pkl"
    details = got.source.details
    assert details["sha256"] == hashlib.sha256((tmp_path / "network-snapshot-000100.pkl").read_bytes()).hexdigest()
    assert details["family"] == config.architecture and details["class_name"] == "Generator" and details["network"] == "G_ema"
    assert details["module_src_sha256"] == hashlib.sha256(importer_pickles.PLACEHOLDER_SRC.encode()).hexdigest()
    assert details["init_kwargs"] == importer_pickles.case_kwargs(case)
    assert details["pickle_keys"] == ["D", "G", "G_ema", "augment_pipe", "training_set_kwargs"]
    saved = result.artifact.load_weights()  # save_artifact stores 0-d tensors as [1]
    assert set(saved) == set(state) and all(np.array_equal(saved[k].reshape(v.shape), v) for k, v in state.items())


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_every_pickle_protocol_reads_the_same(tmp_path, protocol):
    _, state = importer_pickles.case_snapshot(tmp_path / "s.pkl", "sg2_cond_16_map2", protocol=protocol)
    assert_same_state(import_pickle(tmp_path / "s.pkl", "p", tmp_path / "models").network.state, state)


def test_g_is_taken_only_without_g_ema_and_said(tmp_path):
    _, state = importer_pickles.case_snapshot(tmp_path / "s.pkl", "sg2_cond_16_map2", networks=("G", "D"))
    result = import_pickle(tmp_path / "s.pkl", "from-g", tmp_path / "models")
    assert result.network.network == "G" and result.artifact.config.source.details["network"] == "G"
    assert "no G_ema" in result.network.notes[0]
    assert not np.array_equal(result.network.state["mapping.fc0.weight"], state["mapping.fc0.weight"])  # G is not G_ema


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_restricted_unpickler_reads_torch_and_numpy_values(protocol):
    base = torch.randn(5, 6)
    values = {
        "param": torch.nn.Parameter(torch.randn(2, 3), requires_grad=False),
        "half": torch.arange(4, dtype=torch.float16),
        "bfloat16": torch.randn(3).to(torch.bfloat16),
        "int64": torch.arange(5),
        "bool": torch.tensor([True, False]),
        "float64": torch.randn(2, dtype=torch.float64),
        "transposed": base.t(),
        "offset_view": base[2:, 1:4],
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
    }
    plain = {"set": {"a"}, "np_float": np.float64(1.5), "od": collections.OrderedDict(x=1), "size": torch.Size([2, 3])}
    arrays = {"broadcast": np.broadcast_to(np.asarray(4), [2]), "fortran": np.arange(6, dtype=np.float32).reshape(2, 3).T}
    out = loads(pickle.dumps({**values, **plain, **arrays}, protocol=protocol))
    for key, tensor in values.items():
        want = (tensor.float() if tensor.dtype == torch.bfloat16 else tensor).detach().numpy()
        assert out[key].dtype == want.dtype and out[key].shape == want.shape, key
        np.testing.assert_array_equal(out[key], want)
    assert out["set"] == {"a"} and out["np_float"] == 1.5 and out["od"] == {"x": 1} and out["size"] == (2, 3)
    for key, array in arrays.items():
        np.testing.assert_array_equal(out[key], array)


def test_unpickler_limits():
    # A stride-0 view: 4 bytes of data that would be copied into 40 kB.
    with pytest.raises(ImportRefused, match="more tensor memory"):
        loads(pickle.dumps(torch.zeros(1).expand(10_000)), max_tensor_bytes=1000)
    with pytest.raises(ImportRefused, match="numpy dtype 'O8'"):
        loads(pickle.dumps(np.array([1, "a"], dtype=object)))
    # BUILD on an allowed function (GLOBAL, {}, BUILD) would set attributes on our stand-in.
    with pytest.raises(ImportRefused, match="refused to set the state of a function from the pickle"):
        loads(b"\x80\x02ctorch_utils.persistence\n_reconstruct_persistent_obj\n}b.")


# --- (b) pickles that run code ------------------------------------------------------------------


class Payload:
    """Pickles as a call that creates `marker`: what a malicious snapshot does on pickle.load."""

    def __init__(self, kind: str, marker: Path):
        self.kind, self.marker = kind, str(marker)

    def __reduce__(self):
        if self.kind == "os.system":
            return os.system, (f"touch {self.marker}",)
        if self.kind == "builtins.exec":
            return exec, (f"open({self.marker!r}, 'w').write('ran')",)
        if self.kind == "subprocess":
            return subprocess.call, (["touch", self.marker],)
        raise ValueError(self.kind)


class PayloadStorage:
    """A tensor storage whose legacy torch.save stream holds the payload (torch.load runs it)."""

    def __init__(self, payload: Payload):
        self.payload = payload

    def __reduce__(self):
        header = b"".join(
            pickle.dumps(v, protocol=2) for v in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True})
        )
        return torch.storage._load_from_bytes, (header + pickle.dumps(self.payload, protocol=2),)


REFUSED_NAME = {"os.system": f"{os.system.__module__}.system", "builtins.exec": "builtins.exec", "subprocess": "subprocess.call"}
EVIL_SRC = "import pathlib\npathlib.Path({marker!r}).write_text('module_src ran')\n"

FAKE_PERSISTENCE = '''
"""Does what NVlabs' torch_utils/persistence.py does on unpickling: exec module_src in a new module."""
import types

def _reconstruct_persistent_obj(meta):
    module = types.ModuleType("_imported_module_")
    exec(meta["module_src"], module.__dict__)
    return module
'''


def plain_pickle_load(pkl: Path, tmp_path: Path) -> None:
    """pickle.load(pkl) in a subprocess, with NVlabs-like torch_utils.persistence and dnnlib importable."""
    lib = tmp_path / "nvlabs_like"
    (lib / "torch_utils").mkdir(parents=True, exist_ok=True)
    (lib / "dnnlib").mkdir(exist_ok=True)
    (lib / "torch_utils" / "__init__.py").write_text("")
    (lib / "torch_utils" / "persistence.py").write_text(FAKE_PERSISTENCE)
    (lib / "dnnlib" / "__init__.py").write_text("")
    (lib / "dnnlib" / "util.py").write_text("class EasyDict(dict):\n    pass\n")
    code = "import pickle, sys, torch\ntry:\n    pickle.load(open(sys.argv[1], 'rb'))\nexcept Exception:\n    pass\n"
    subprocess.run([sys.executable, "-c", code, str(pkl)], env={**os.environ, "PYTHONPATH": str(lib)}, timeout=120, check=True)


def crafted(tmp_path: Path, where: str, kind: str, marker: Path) -> Path:
    """A pickle with the payload: alone, inside G_ema's module state, or inside a tensor storage."""
    path = tmp_path / f"{where}-{kind}.pkl"
    if where == "top-level":
        path.write_bytes(pickle.dumps({"G_ema": Payload(kind, marker)}))
    else:
        hidden = Payload(kind, marker) if where == "module-state" else PayloadStorage(Payload(kind, marker))
        _, state, _ = nvlabs_reference.load_case("sg2_cond_16_map2")
        kwargs = importer_pickles.case_kwargs("sg2_cond_16_map2")
        importer_pickles.write_snapshot(path, state, kwargs, networks=("G_ema",), extra_state={"hook": hidden})
    return path


@pytest.mark.parametrize("where", ["top-level", "module-state", "storage-stream"])
@pytest.mark.parametrize("kind", ["os.system", "builtins.exec", "subprocess"])
def test_code_running_pickles_are_refused(tmp_path, where, kind):
    marker = tmp_path / "marker"
    pkl = crafted(tmp_path, where, kind, marker)
    result = run_import(pkl, "--name", "evil", "--models-dir", tmp_path / "models", "--no-compile")
    assert result.exit_code == 1
    assert result.output.strip() == result.output.strip().splitlines()[0]  # one line
    assert f"ImportRefused: refused to load global {REFUSED_NAME[kind]} from the pickle" in result.output
    assert not marker.exists() and not (tmp_path / "models" / "evil").exists()
    # The same file does run code when unpickled normally: the test above can fail.
    plain_pickle_load(pkl, tmp_path)
    assert marker.exists()


def test_module_src_is_never_executed(tmp_path):
    marker = tmp_path / "marker"
    src = EVIL_SRC.format(marker=str(marker))
    _, state = importer_pickles.case_snapshot(tmp_path / "s.pkl", "sg2_cond_16_map2", module_src=src)
    result = run_import(tmp_path / "s.pkl", "--name", "ok", "--models-dir", tmp_path / "models", "--no-compile")
    assert result.exit_code == 0, result.output
    assert not marker.exists()
    details = Artifact(tmp_path / "models" / "ok").config.source.details
    assert details["module_src_sha256"] == hashlib.sha256(src.encode()).hexdigest()
    plain_pickle_load(tmp_path / "s.pkl", tmp_path)  # NVlabs-style unpickling execs it
    assert marker.read_text() == "module_src ran"


class PersistentIdPickler(pickle.Pickler):
    def persistent_id(self, obj):
        return ("module", "x") if obj == "secret" else None


def test_other_refusals_name_what_was_refused(tmp_path):
    import io

    buffer = io.BytesIO()
    PersistentIdPickler(buffer).dump({"G_ema": "secret"})
    (tmp_path / "pid.pkl").write_bytes(buffer.getvalue())
    tf = tmp_path / "tf.pkl"
    tf.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\n)\x81.")  # how a TensorFlow StyleGAN pickle starts
    for pkl, message in [
        (tmp_path / "pid.pkl", "refused persistent id"),
        (tf, "global dnnlib.tflib.network.Network from the pickle (a TensorFlow"),
    ]:
        result = run_import(pkl, "--name", "x", "--models-dir", tmp_path / "models", "--no-compile")
        assert result.exit_code == 1 and message in result.output, result.output


# --- (c) the command ----------------------------------------------------------------------------


def test_cli_import_writes_generator_files_with_provenance(tmp_path):
    config, state = importer_pickles.case_snapshot(tmp_path / "network-snapshot-000200.pkl", "sg2_uncond_32")
    result = run_import(tmp_path / "network-snapshot-000200.pkl", "--name", "faces", "--models-dir", tmp_path / "models", "--no-compile")
    assert result.exit_code == 0, result.output
    directory = tmp_path / "models" / "faces"
    assert f"wrote {directory / 'generator.json'}" in result.output and f"wrote {directory / 'generator.safetensors'}" in result.output
    assert "imported G_ema from network-snapshot-000200.pkl" in result.output and "(not executed)" in result.output
    saved = json.loads((directory / "generator.json").read_text())
    assert saved["source"]["kind"] == "nvlabs-pickle" and saved["source"]["detail"] == "network-snapshot-000200.pkl"
    assert saved["source"]["details"]["family"] == "stylegan2" and saved["num_ws"] == config.num_ws
    artifact = Artifact(directory)
    assert set(artifact.load_weights()) == set(state)
    assert not list((tmp_path / "models").glob(".*"))  # no staging directory left behind


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[list, str]]:
    good = tmp_path / "good.pkl"
    importer_pickles.case_snapshot(good, "sg2_cond_16_map2")
    (tmp_path / "truncated.pkl").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    (tmp_path / "notes.txt").write_text("not a pickle\n")
    (tmp_path / "checkpoint.pt").write_bytes(b"PK\x03\x04" + bytes(64))
    _, state, _ = nvlabs_reference.load_case("sg2_cond_16_map2")
    kwargs = importer_pickles.case_kwargs("sg2_cond_16_map2")
    resnet = {**kwargs, "synthesis_kwargs": {**kwargs["synthesis_kwargs"], "architecture": "resnet"}}
    importer_pickles.write_snapshot(tmp_path / "resnet.pkl", state, resnet)
    wider = {**kwargs, "synthesis_kwargs": {**kwargs["synthesis_kwargs"], "channel_max": 64}}
    importer_pickles.write_snapshot(tmp_path / "wider.pkl", state, wider)
    return {
        "bad name": ([good, "--name", "Faces!"], "invalid model name 'Faces!'"),
        "missing file": ([tmp_path / "nope.pkl", "--name", "m"], "nope.pkl: no such file"),
        "truncated": ([tmp_path / "truncated.pkl", "--name", "m"], "PickleFormatError: not a readable pickle"),
        "not a pickle": ([tmp_path / "notes.txt", "--name", "m"], "notes.txt is not a binary pickle"),
        "zip checkpoint": ([tmp_path / "checkpoint.pt", "--name", "m"], "a zip archive"),
        "resnet": ([tmp_path / "resnet.pkl", "--name", "m"], "UnsupportedNetwork: StyleGAN2 architecture 'resnet'"),
        "shapes": ([tmp_path / "wider.pkl", "--name", "m"], "tensors do not match its constructor arguments: wrong shape"),
    }


@pytest.mark.parametrize("problem", ["bad name", "missing file", "truncated", "not a pickle", "zip checkpoint", "resnet", "shapes"])
def test_cli_errors_are_one_clear_line(tmp_path, problem):
    args, message = _bad_inputs(tmp_path)[problem]
    result = run_import(*args, "--models-dir", tmp_path / "models", "--no-compile")
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "Traceback" not in result.output and not (tmp_path / "models" / "m").exists()


def test_cli_refuses_an_existing_model_unless_forced(tmp_path):
    importer_pickles.case_snapshot(tmp_path / "s.pkl", "sg2_cond_16_map2")
    args = [tmp_path / "s.pkl", "--name", "m", "--models-dir", tmp_path / "models", "--no-compile"]
    assert run_import(*args).exit_code == 0
    result = run_import(*args)
    assert result.exit_code == 1 and "ModelExists" in result.output and "--force" in result.output
    assert run_import(*args, "--force").exit_code == 0
    (tmp_path / "models" / "other").mkdir(parents=True)
    (tmp_path / "models" / "other" / "keep.txt").write_text("mine")
    result = run_import(tmp_path / "s.pkl", "--name", "other", "--models-dir", tmp_path / "models", "--no-compile", "--force")
    assert result.exit_code == 1 and "not a model directory" in result.output
    assert (tmp_path / "models" / "other" / "keep.txt").exists()


@pytest.mark.slow
def test_cli_import_compiles_by_default(tmp_path):
    importer_pickles.case_snapshot(tmp_path / "s.pkl", "sg2_cond_16_map2")
    result = run_import(tmp_path / "s.pkl", "--name", "cond", "--models-dir", tmp_path / "models", "--repository", tmp_path / "repo")
    assert result.exit_code == 0, result.output
    for part in GRAPH_PARTS:
        assert graph_path(tmp_path / "repo", "cond", part).exists()


# --- (d) real snapshots pickled by NVlabs' own code (optional) ------------------------------------

NVLABS_SCRIPT = textwrap.dedent(
    """
    import copy, json, pickle, sys
    import numpy as np, torch
    checkout, module_name, kwargs, out, view = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
    ready, sys.stdout = sys.stdout, sys.stderr  # stdout only says when the snapshot is written
    sys.path.insert(0, checkout)
    import dnnlib
    torch.manual_seed(0)
    common = dict(c_dim=kwargs.pop("c_dim"), img_resolution=kwargs.pop("img_resolution"), img_channels=3)
    G = dnnlib.util.construct_class_by_name(class_name=f"training.{module_name}.Generator", **kwargs, **common)
    with torch.no_grad():  # zero/one-initialised values, randomised so that a wrong mapping shows (tests/data/make_nvlabs_reference.py)
        for name, tensor in G.state_dict(keep_vars=True).items():
            if name.endswith("bias"):  # FullyConnectedLayer scales its bias by bias_gain (the mapping's lr_multiplier)
                gain = getattr(G.get_submodule(name.rpartition(".")[0]), "bias_gain", 1)
                tensor.add_(torch.randn(tensor.shape) * 0.1 / gain)
            elif name.endswith("w_avg"):
                tensor.copy_(torch.randn(tensor.shape) * 0.5)
            elif name.endswith("noise_strength"):
                tensor.copy_(torch.randn([]) * 0.3)
            elif name.endswith("magnitude_ema"):
                tensor.uniform_(0.5, 2.0)
            elif name == "synthesis.input.affine.weight":  # zero-initialised: the learned rotation/translation
                tensor.copy_(torch.randn(tensor.shape) * 0.3)
        # toRGB scaled so that the images use more of [0, 255]: StyleGAN2's would saturate, StyleGAN3's stay near grey
        torgb = [t for name, t in G.named_parameters() if name.endswith("torgb.weight")]
        for weight in torgb or [getattr(G.synthesis, G.synthesis.layer_names[-1]).weight]:
            weight.mul_(0.25 if torgb else 4)
    G_ema = copy.deepcopy(G).eval()
    d_module = "networks" if module_name == "networks" else "networks_stylegan2"
    D = dnnlib.util.construct_class_by_name(class_name=f"training.{d_module}.Discriminator", channel_base=256, channel_max=16, **common)
    augment_pipe = dnnlib.util.construct_class_by_name(class_name="training.augment.AugmentPipe", xflip=1, rotate90=1, xint=1)
    dataset = dict(class_name="training.dataset.ImageFolderDataset", path="x.zip", use_labels=common["c_dim"] > 0)
    snapshot = dict(training_set_kwargs=dataset)
    for name, module in [("G", G), ("D", D), ("G_ema", G_ema), ("augment_pipe", augment_pipe)]:
        snapshot[name] = copy.deepcopy(module).eval().requires_grad_(False).cpu()  # as training_loop.py saves
    with open(out + ".pkl", "wb") as f:
        pickle.dump(snapshot, f)
    state = G_ema.state_dict()
    np.savez(out + ".npz", **{k: v.numpy() for k, v in state.items()})
    json.dump({"keys": list(state), "num_ws": G_ema.num_ws}, open(out + ".json", "w"))
    print("snapshot", file=ready, flush=True)  # the test imports and compiles it while the images are made

    def make_transform(translate, angle):  # as gen_images.py (stylegan3) defines it
        m = np.eye(3)
        s = np.sin(angle / 360.0 * np.pi * 2)
        c = np.cos(angle / 360.0 * np.pi * 2)
        m[0][0] = c
        m[0][1] = s
        m[0][2] = translate[0]
        m[1][0] = -s
        m[1][1] = c
        m[1][2] = translate[1]
        return m

    # Images as gen_images.py / generate.py make them on the CPU: one seed per call, float64 z.
    # stylegan2-ada-pytorch would run its fp16 blocks in fp16 on the CPU: force_fp32 there.
    options = dict(force_fp32=True) if module_name == "networks" else {}
    if hasattr(G_ema.synthesis, "input"):
        G_ema.synthesis.input.transform.copy_(torch.from_numpy(np.linalg.inv(make_transform(view["translate"], view["rotate"]))))
    ws, images = [], []
    with torch.no_grad():
        for seed in view["seeds"]:
            z = torch.from_numpy(np.random.RandomState(seed).randn(1, G_ema.z_dim))
            label = torch.zeros([1, G_ema.c_dim])
            if G_ema.c_dim:
                label[:, seed % G_ema.c_dim] = 1
            ws.append(G_ema.mapping(z, label, truncation_psi=view["psi"]).numpy())
            img = G_ema(z, label, truncation_psi=view["psi"], noise_mode="const", **options)
            images.append((img.permute(0, 2, 3, 1) * 127.5 + 128).clamp(0, 255).to(torch.uint8).numpy())
    np.save(out + ".ws.npy", np.concatenate(ws), allow_pickle=False)
    np.save(out + ".images.npy", np.concatenate(images), allow_pickle=False)
    """
)
# gen_images.py's view of every case: seeds (one-hot class seed % c_dim), truncation, and for
# StyleGAN3 the input transform's translate and rotate (degrees).
NVLABS_VIEW = {"seeds": [2, 7], "psi": 0.7, "translate": [0.2, -0.1], "rotate": 20.0}

SG2 = {"z_dim": 32, "w_dim": 32, "mapping_kwargs": {"num_layers": 8}}
NVLABS_CASES = {
    "sg2ada-uncond-map8": (
        "GANSERVE_NVLABS_STYLEGAN2",
        "networks",
        {**SG2, "c_dim": 0, "img_resolution": 32, "synthesis_kwargs": {"channel_base": 512, "channel_max": 32}},
    ),
    "sg2ada-cond-map2": (
        "GANSERVE_NVLABS_STYLEGAN2",
        "networks",
        {
            **SG2,
            "mapping_kwargs": {"num_layers": 2},
            "c_dim": 4,
            "img_resolution": 16,
            "synthesis_kwargs": {"channel_base": 256, "channel_max": 32},
        },
    ),
    "sg2ada-fp16": (
        "GANSERVE_NVLABS_STYLEGAN2",
        "networks",
        {
            **SG2,
            "c_dim": 0,
            "img_resolution": 32,
            "synthesis_kwargs": {"channel_base": 512, "channel_max": 32, "num_fp16_res": 2, "conv_clamp": 256},
        },
    ),
    "sg3repo-stylegan2": (
        "GANSERVE_NVLABS_STYLEGAN3",
        "networks_stylegan2",
        {
            **SG2,
            "c_dim": 0,
            "img_resolution": 16,
            "channel_base": 256,
            "channel_max": 32,
            "num_fp16_res": 1,
            "conv_clamp": 256,
            "fused_modconv_default": "inference_only",
        },
    ),
    "sg3-t": (
        "GANSERVE_NVLABS_STYLEGAN3",
        "networks_stylegan3",
        {
            "z_dim": 32,
            "w_dim": 32,
            "c_dim": 0,
            "img_resolution": 16,
            "mapping_kwargs": {"num_layers": 2},
            "channel_base": 512,
            "channel_max": 32,
            "magnitude_ema_beta": 0.999,
        },
    ),
    "sg3-r": (
        "GANSERVE_NVLABS_STYLEGAN3",
        "networks_stylegan3",
        {
            "z_dim": 32,
            "w_dim": 32,
            "c_dim": 3,
            "img_resolution": 16,
            "mapping_kwargs": {"num_layers": 2},
            "channel_base": 1024,
            "channel_max": 64,
            "conv_kernel": 1,
            "use_radial_filters": True,
            "num_fp16_res": 4,
            "conv_clamp": 256,
        },
    ),
}


@pytest.mark.parametrize("case", list(NVLABS_CASES))
def test_real_nvlabs_snapshot(tmp_path, case):
    env_var, module_name, kwargs = NVLABS_CASES[case]
    checkout = os.environ.get(env_var)
    if not checkout:
        pytest.skip(f"set {env_var} to an NVlabs checkout (and GANSERVE_NVLABS_PYTHON to a Python with torch, scipy, setuptools<70)")
    python = os.environ.get("GANSERVE_NVLABS_PYTHON", sys.executable)
    out = tmp_path / "snapshot"
    args = [python, "-c", NVLABS_SCRIPT, checkout, module_name, json.dumps(kwargs), str(out), json.dumps(NVLABS_VIEW)]
    with subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=tmp_path) as nvlabs:
        try:
            check_real_nvlabs_snapshot(case, nvlabs, out, module_name, kwargs, tmp_path)
        finally:
            nvlabs.kill()


def check_real_nvlabs_snapshot(case: str, nvlabs: subprocess.Popen, out: Path, module_name: str, kwargs: dict, tmp_path: Path) -> None:
    assert select.select([nvlabs.stdout], [], [], 300)[0] and nvlabs.stdout.readline() == "snapshot\n", "NVlabs' code failed: see stderr"
    reference = json.loads(out.with_suffix(".json").read_text())
    with np.load(out.with_suffix(".npz"), allow_pickle=False) as npz:
        want = {k: npz[k] for k in npz.files}

    result = import_pickle(out.with_suffix(".pkl"), "real", tmp_path / "models")
    assert list(result.network.state) == reference["keys"]  # state_dict() order too
    assert_same_state(result.network.state, want)
    cfg = result.artifact.config
    assert cfg.num_ws == reference["num_ws"] and cfg.c_dim == kwargs["c_dim"] and cfg.resolution == kwargs["img_resolution"]
    assert cfg.mapping.num_layers == kwargs["mapping_kwargs"]["num_layers"]
    synthesis = kwargs.get("synthesis_kwargs", kwargs)
    assert cfg.synthesis.channel_base == synthesis["channel_base"] and cfg.synthesis.channel_max == synthesis["channel_max"]
    assert cfg.source.details["num_fp16_res"] == synthesis.get("num_fp16_res", 4 if module_name == "networks_stylegan3" else 0)
    if module_name == "networks_stylegan3":
        assert cfg.architecture == "stylegan3" and cfg.synthesis.conv_clamp == synthesis.get("conv_clamp", 256)
        assert cfg.stylegan3.conv_kernel == kwargs.get("conv_kernel", 3) and cfg.stylegan3.use_radial_filters == kwargs.get(
            "use_radial_filters", False
        )
    else:
        assert cfg.architecture == "stylegan2" and cfg.synthesis.conv_clamp == synthesis.get("conv_clamp")

    # gen_images.py's images against what we serve: the imported artifact, compiled, on ONNX Runtime.
    artifact = result.artifact
    compile_model(artifact, tmp_path / "repo", [Target.onnx], BatchingOptions())
    engine = load_engine(artifact, Settings(engine="onnxruntime", model_repository=tmp_path / "repo"))
    assert nvlabs.wait(timeout=300) == 0, "NVlabs' code failed making the images: see stderr"
    seeds, psi = NVLABS_VIEW["seeds"], NVLABS_VIEW["psi"]
    z = latents.seeds_to_z(seeds, cfg.z_dim)
    c = latents.one_hot([seed % cfg.c_dim if cfg.c_dim else None for seed in seeds], cfg.c_dim)
    ws = latents.truncate(latents.broadcast_ws(engine.map(z, c), cfg.num_ws), artifact.load_w_avg(), psi)
    assert_close_ulps(ws, np.load(out.with_suffix(".ws.npy"), allow_pickle=False), MAPPING_ULPS, "mapping")
    if cfg.architecture == "stylegan3":
        transform = latents.input_transform(tuple(NVLABS_VIEW["translate"]), NVLABS_VIEW["rotate"])
        ours = engine.synthesize_transformed(ws, np.repeat(transform[None], len(seeds), axis=0))
    else:
        ours = engine.synthesize(ws, np.ones(len(seeds), np.float32))
    nvlabs_reference.assert_nvlabs_parity(ours, np.load(out.with_suffix(".images.npy"), allow_pickle=False), f"{case} images")
