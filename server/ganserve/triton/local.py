"""A real tritonserver on this machine, from the binary that the nvidia-pytriton wheel ships.

That binary carries the Python backend only, so it serves the `python` target (ONNX Runtime
inside Triton's Python stub). It is the same server the NGC container runs; tests, benchmarks and
`ganserve triton` start it on free ports.

It runs from its own environment (GANSERVE_TRITON_ENV, made by `make triton-env`): the wheel, and
numpy < 2 with onnxruntime for the models (runtime-requirements.txt says why).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

INSTALL_HINT = "run `make triton-env` (make test does)"


@dataclass(frozen=True)
class RuntimeEnv:
    """What tritonserver needs from a Python environment."""

    site_packages: Path
    libdir: Path  # the interpreter's libpython, which the Python-backend stub links
    python_version: str  # picks the stub built for it

    @property
    def server_dir(self) -> Path:
        return self.site_packages / "pytriton" / "tritonserver"

    @classmethod
    def of(cls, env_dir: Path) -> RuntimeEnv:
        python = Path(env_dir) / "bin" / "python"
        if not python.exists():
            raise FileNotFoundError(f"no Triton runtime environment at {env_dir}: {INSTALL_HINT}")
        query = (
            "import sys, sysconfig; print(sysconfig.get_paths()['purelib']); "
            "print(sysconfig.get_config_var('LIBDIR')); print(f'{sys.version_info[0]}.{sys.version_info[1]}')"
        )
        site, libdir, version = subprocess.run([str(python), "-c", query], capture_output=True, text=True, check=True).stdout.split()
        env = cls(Path(site), Path(libdir), version)
        if not (env.server_dir / "bin" / "tritonserver").exists():
            raise FileNotFoundError(f"tritonserver is not installed in {env_dir}: {INSTALL_HINT}")
        return env


def available(env_dir: Path) -> bool:
    try:
        RuntimeEnv.of(env_dir)
    except (FileNotFoundError, subprocess.CalledProcessError):
        return False
    return True


# Ports for servers started by tests and benchmarks come from below the kernel's ephemeral range
# (/proc/sys/net/ipv4/ip_local_port_range, 32768 up by default): a port the kernel hands out for
# bind(0) can be taken by any outgoing connection (a gateway's to Triton or Redis) before the server
# that was meant to have it binds it. Ports handed out here are remembered so none is given twice.
_PORT_RANGE = (20000, 32000)
_handed_out: set[int] = set()


def free_port() -> int:
    """A port on 127.0.0.1 that is free now, outside the ephemeral range, and not handed out before by this process."""
    low, high = _PORT_RANGE
    for _ in range(200):
        port = random.randint(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {low}-{high} after 200 tries")


@dataclass
class LocalTriton:
    repository: Path  # a model repository of the python target
    workdir: Path  # backend directory and log go here
    env_dir: Path  # the runtime environment (GANSERVE_TRITON_ENV)
    http_port: int = field(default_factory=free_port)
    grpc_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    # True: Triton's explicit model control, as the Helm chart runs it: every model loaded at start,
    # then loaded again only when asked (a gateway's reload), so a rollout is a deliberate step.
    explicit_model_control: bool = False
    process: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "tritonserver.log"

    def _backend_dir(self, runtime: RuntimeEnv) -> Path:
        """Triton's Python backend plus the stub built for the environment's Python version."""
        backend = self.workdir / "backends" / "python"
        if not backend.exists():
            shutil.copytree(runtime.server_dir / "backends" / "python", backend)
            stub = runtime.server_dir / "python_backend_stubs" / runtime.python_version / "triton_python_backend_stub"
            shutil.copy2(stub, backend)
        return backend.parent

    def _environment(self, runtime: RuntimeEnv) -> dict[str, str]:
        env = dict(os.environ)
        # The environment's libpython first, or the stub mixes in another Python's standard library.
        libraries = [str(runtime.libdir), str(runtime.site_packages / "nvidia_pytriton.libs"), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(libraries).rstrip(os.pathsep)
        env["PYTHONPATH"] = str(runtime.site_packages)  # read by our model.py (the stub ignores it)
        return env

    def start(self, timeout_s: float = 120) -> LocalTriton:
        self.workdir.mkdir(parents=True, exist_ok=True)
        runtime = RuntimeEnv.of(self.env_dir)
        command = [
            str(runtime.server_dir / "bin" / "tritonserver"),
            f"--model-repository={self.repository}",
            f"--backend-directory={self._backend_dir(runtime)}",
            f"--http-port={self.http_port}",
            f"--grpc-port={self.grpc_port}",
            f"--metrics-port={self.metrics_port}",
            "--exit-timeout-secs=3",
            "--strict-readiness=true",
        ]
        if self.explicit_model_control:
            command += ["--model-control-mode=explicit", "--load-model=*"]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(command, env=self._environment(runtime), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop(kill=True)  # a server that failed to start must not outlive the caller
            raise
        return self

    def wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        if self.process is None:
            raise RuntimeError("tritonserver was not started")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.http_port}/v2/health/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"tritonserver not ready after {timeout_s} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self, kill: bool = False) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalTriton:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
