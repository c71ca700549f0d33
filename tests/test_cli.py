"""The `ganserve` command: demo and compile produce a servable model."""

from typer.testing import CliRunner

from ganserve.artifacts import Artifact
from ganserve.cli import app
from ganserve.engines import load_engine
from ganserve.repository import GRAPH_PARTS, Target, entry_dir, graph_path
from ganserve.settings import Settings
from ganserve.triton import tensorrt


def test_demo_then_compile_gives_a_loadable_model(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["demo", str(tmp_path / "models" / "tiny"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compile", str(tmp_path / "models" / "tiny"), "--repository", str(tmp_path / "repo")])
    assert result.exit_code == 0, result.output
    for part in GRAPH_PARTS:
        assert graph_path(tmp_path / "repo", "tiny", part).exists()
        for target in Target:
            assert (entry_dir(tmp_path / "repo", target, "tiny", part) / "config.pbtxt").exists()
        assert (entry_dir(tmp_path / "repo", Target.python, "tiny", part) / "1" / "model.py").exists()
    assert (tmp_path / "repo" / "tensorrt" / "build_tiny.sh").exists()
    if not tensorrt.available():
        assert tensorrt.UNAVAILABLE_REASON in result.output
    engine = load_engine(Artifact(tmp_path / "models" / "tiny"), Settings(model_repository=tmp_path / "repo"))
    assert engine.name == "onnxruntime"


def test_help_lists_the_subcommands():
    output = CliRunner().invoke(app, ["--help"]).output
    for command in ("serve", "compile", "import", "demo", "triton"):
        assert command in output
    assert "bench" not in output  # the benchmarks live outside the server: python -m ganserve_bench
