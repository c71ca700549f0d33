"""The deployment files: compose structure, Dockerfile, and the two commands' wiring."""

import yaml

from ganserve.settings import REPO_ROOT


def test_compose_gateway_service():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    gateway = compose["services"]["gateway"]
    assert gateway["build"] == "." and "8000:8000" in gateway["ports"]
    assert "readyz" in " ".join(gateway["healthcheck"]["test"])
    for volume in gateway["volumes"]:
        assert (REPO_ROOT / volume.split(":")[0]).exists(), volume


def test_dockerfile_serves_without_torch():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir .\n" in dockerfile  # the serving extra only, no [torch]
    assert 'CMD ["ganserve", "serve"]' in dockerfile


def test_ci_runs_make_test():
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "\nserve:" in makefile and "\ntest:" in makefile
