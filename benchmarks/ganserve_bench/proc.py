"""What Linux /proc says about the machine and about a process, read from outside it so that the
server measured does not have to cooperate. Every reader answers None where /proc cannot tell."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def fields(path: str, names: Iterable[str]) -> dict[str, str | None]:
    """The first `name: value` line for each name in a /proc file such as cpuinfo or <pid>/status."""
    found: dict[str, str | None] = dict.fromkeys(names)
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip()
        if name in found and found[name] is None:
            found[name] = value.strip()
    return found


def kib_to_bytes(value: str | None) -> int | None:
    """A "1234 kB" field in bytes."""
    return None if value is None else int(value.split()[0]) * 1024


def memory(pid: int) -> dict[str, int | None]:
    """RSS and peak RSS (VmRSS, VmHWM) in bytes."""
    status = fields(f"/proc/{pid}/status", ("VmRSS", "VmHWM"))
    return {"rss_bytes": kib_to_bytes(status["VmRSS"]), "peak_rss_bytes": kib_to_bytes(status["VmHWM"])}


def loaded_libraries(pid: int) -> dict[str, bool | None]:
    """Which native runtimes are mapped into the process: the server must map onnxruntime and never torch."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return {"torch": None, "onnxruntime": None}
    return {"torch": "libtorch" in maps, "onnxruntime": "onnxruntime" in maps}


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()  # the name before ")" may hold spaces
    except OSError:
        return None
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
