"""A run killed with SIGKILL at a random moment resumes to exactly the run that was never interrupted."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gngan.config import RunConfig

CONFIG = RunConfig(method="gngan", num_steps=160, eval_every=10, checkpoint_every=10, eval_samples=100,
                   batch_size=16, d_steps=2, lambda_r=0.5)


def _train(config_path: Path, run_dir: Path) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "gngan", "train", "--config", str(config_path),
                             "--run-dir", str(run_dir), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _weights(run_dir: Path) -> dict:
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    return {f"{k}.{n}": t for k, sd in state["nets"].items() for n, t in sd.items()}


def test_sigkill_then_resume_equals_uninterrupted_run(tmp_path):
    cfg = tmp_path / "config.json"
    CONFIG.save(cfg)
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert _train(cfg, full).wait(timeout=300) == 0

    proc = _train(cfg, cut)
    deadline = time.time() + 120
    while not (cut / "checkpoint.pt").exists():  # wait for a first checkpoint, then kill at a random moment
        assert time.time() < deadline and proc.poll() is None, "no checkpoint appeared"
        time.sleep(0.05)
    time.sleep(random.Random().uniform(0.0, 0.4))
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed (machine faster than expected)")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (cut / "result.json").exists()
    killed_at = torch.load(cut / "checkpoint.pt", weights_only=False)["step"]
    assert 0 < killed_at < CONFIG.num_steps

    assert _train(cfg, cut).wait(timeout=300) == 0
    a = json.loads((full / "result.json").read_text())
    b = json.loads((cut / "result.json").read_text())
    assert b["history"] == a["history"]
    wa, wb = _weights(full), _weights(cut)
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wb[k], wa[k], rtol=0, atol=0)
    assert b["manifest"]["git_segments"][-1]["from_step"] == killed_at
