"""Podman for the container tests: images built on a base made from Debian's packages, and containers
run the way this kind of machine allows (recipe: ../shared/notes/containers-here.md)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

from ganserve.settings import REPO_ROOT

# Made once by deploy/containers/base/build.sh (debootstrap, minutes) and kept in podman's store.
BASE_IMAGE = "localhost/ganserve-test/base:bookworm"
# The tags docker-compose.test.yml names.
GATEWAY_IMAGE = "localhost/ganserve-test/gateway:latest"
TRITON_IMAGE = "localhost/ganserve-test/triton-cpu:latest"
REDIS_IMAGE = "localhost/ganserve-test/redis:latest"
CONTAINERFILES = {
    GATEWAY_IMAGE: REPO_ROOT / "Dockerfile",
    TRITON_IMAGE: REPO_ROOT / "deploy" / "containers" / "triton-cpu" / "Containerfile",
    REDIS_IMAGE: REPO_ROOT / "deploy" / "containers" / "redis" / "Containerfile",
}

# crun fails on this machine's cgroups, and podman's default rlimits are above what runc may set.
RUN_OPTIONS = ["--runtime", "runc", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
# The default OCI isolation fails here too; downloads in a build go through this machine's TLS chain,
# whose CA is in the host's certificates; the docker format keeps HEALTHCHECK (OCI drops it).
BUILD_OPTIONS = ["--isolation", "chroot", "--network", "host", "-v", "/etc/ssl/certs:/etc/ssl/certs:ro", "--format", "docker"]


def run(command: list[str], timeout: float, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    return result


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    return run(["podman", *args], timeout, check)


def cannot_run_containers() -> str | None:
    """Why podman cannot start a container here, or None when it can. Builds the base image first
    (once: later runs reuse it)."""
    if shutil.which("podman") is None:
        return "podman is not installed (`make system-deps` installs it)"
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        subprocess.run(["sh", str(REPO_ROOT / "deploy" / "containers" / "base" / "build.sh"), BASE_IMAGE], check=True, timeout=1800)
    probe = podman("run", "--rm", *RUN_OPTIONS, BASE_IMAGE, "true", check=False)
    if probe.returncode != 0:
        return f"podman cannot start a container here: {probe.stderr.strip()[-500:]}"
    return None


def build(image: str) -> None:
    """Builds an image from the checkout on the base image, reusing podman's cached layers."""
    podman(
        "build", *BUILD_OPTIONS, "--build-arg", f"BASE={BASE_IMAGE}", "-f", str(CONTAINERFILES[image]), "-t", image, str(REPO_ROOT),
        timeout=1800,
    )  # fmt: skip


def logs(container: str) -> str:
    result = podman("logs", "--tail", "60", container, check=False)
    return f"--- logs of {container}:\n{result.stdout}{result.stderr}"


def running(container: str) -> bool:
    result = podman("inspect", "--format", "{{.State.Running}}", container, check=False)
    return result.stdout.strip() == "true"


def wait_for(condition: Callable[[], bool], what: str, containers: list[str], timeout_s: float = 180) -> None:
    """Polls `condition` until it holds; fails early, with the logs, when a container has exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        stopped = [c for c in containers if not running(c)]
        if stopped:
            raise AssertionError(f"{', '.join(stopped)} exited while waiting for {what}\n" + "\n".join(map(logs, stopped)))
        time.sleep(1)
    raise AssertionError(f"no {what} after {timeout_s} s\n" + "\n".join(map(logs, containers)))


def healthy(container: str) -> bool:
    """Runs the container's own health check. Podman schedules health checks with systemd timers,
    and there is no systemd here, so the tests run them."""
    return podman("healthcheck", "run", container, check=False, timeout=30).returncode == 0
