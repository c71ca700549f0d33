"""`ganserve train` in a process of its own: SIGTERM (a session ending) ends it with a checkpoint."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from ganserve.training.dataset import save_dataset
from ganserve.training.loop import METRICS_FILE, OPTIONS_FILE


def test_sigterm_finishes_the_step_and_writes_a_checkpoint(tmp_path, tiny_dataset, tiny_options):
    data = tmp_path / "tiny.npz"
    save_dataset(tiny_dataset, data)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / OPTIONS_FILE).write_text(tiny_options.model_dump_json())  # a run's options are kept, so the CLI takes them
    command = [str(Path(sys.executable).parent / "ganserve"), "train", "--data", str(data), "--run-dir", str(run_dir), "--kimg", "1000"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait for the first tick: the loop is running
            line = process.stdout.readline()
            if '"event": "tick"' in line:
                break
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        process.stdout.close()
    records = [json.loads(line) for line in (run_dir / METRICS_FILE).read_text().splitlines()]
    assert records[-1]["event"] == "checkpoint" and 0 < records[-1]["kimg"] < 1000
    assert (run_dir / "resume.safetensors").exists()
