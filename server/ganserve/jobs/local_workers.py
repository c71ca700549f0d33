"""The embedded gateway's own projection workers: `ganserve worker` subprocesses, started on the first
job (a gateway that never projects never pays for torch) and stopped with the gateway.

Each subprocess gets this gateway's settings as GANSERVE_* variables, so it reads the same models,
job queue and saved-latent store, and it stops by itself if the gateway dies without stopping it.
With GANSERVE_PROJECTION_LOCAL_WORKERS=0 the gateway starts none: run `ganserve worker` elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

from ganserve.settings import Settings

log = logging.getLogger("ganserve.jobs")
STOP_GRACE_S = 5.0


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as the environment variables that make them again."""
    env = {}
    # warnings=False: settings copied with model_copy(update=...) may hold a str where an enum goes.
    for name, value in settings.model_dump(mode="json", warnings=False).items():
        if value is not None:
            env[f"GANSERVE_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


class LocalWorkers:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.count = settings.projection_local_workers
        self.processes: list[subprocess.Popen] = []

    def ensure_running(self) -> None:
        """Start the missing ones (none have started yet, or one died)."""
        self.processes = [p for p in self.processes if p.poll() is None]
        if len(self.processes) >= self.count:
            return
        env = {**os.environ, **settings_env(self.settings)}
        while len(self.processes) < self.count:
            name = f"local-{os.getpid()}-{len(self.processes)}"
            command = [
                sys.executable,
                "-c",
                "from ganserve.cli import app; app()",
                "worker",
                "--name",
                name,
                "--parent-pid",
                str(os.getpid()),
            ]
            self.processes.append(subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL))
            log.info("started projection worker %s (pid %d)", name, self.processes[-1].pid)

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []
