"""The `ganserve` command: demo and compile produce a servable model."""

from typer.testing import CliRunner

from ganserve.artifacts import Artifact
from ganserve.cli import app
from ganserve.engines import load_engine
from ganserve.repository import GRAPH_PARTS, graph_path
from ganserve.settings import Settings


def test_demo_then_compile_gives_a_loadable_model(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["demo", str(tmp_path / "models" / "tiny"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["compile", str(tmp_path / "models" / "tiny"), "--repository", str(tmp_path / "repo")])
    assert result.exit_code == 0, result.output
    for part in GRAPH_PARTS:
        assert graph_path(tmp_path / "repo", "tiny", part).exists()
        assert (tmp_path / "repo" / f"tiny_{part}" / "config.pbtxt").exists()
    engine = load_engine(Artifact(tmp_path / "models" / "tiny"), Settings(model_repository=tmp_path / "repo"))
    assert engine.name == "onnxruntime"


def test_help_lists_the_subcommands():
    output = CliRunner().invoke(app, ["--help"]).output
    for command in ("serve", "compile", "demo", "bench"):
        assert command in output
