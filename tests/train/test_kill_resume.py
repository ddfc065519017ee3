"""Exact resumption after a real crash: ``mirnet train`` as its own process, killed with
SIGKILL in the middle of its second epoch (no handler, no finally block runs), then
``--resume`` to the end gives bit for bit the weights of a run that was never interrupted."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from mirnet.checkpoint import load_file
from mirnet.cli import main
from mirnet.config import save_config

DEADLINE_S = 300  # wall clock, generous: shared CI machines are slow


def train_command(config, exp, *extra):
    return [sys.executable, "-m", "mirnet.cli", "-q", "train", str(config), str(exp), *extra]


def second_epoch_started(exp) -> bool:
    """The first epoch's checkpoint is on disk and a step of the second epoch (epoch index 1) is logged."""
    if not (exp / "checkpoint.pt").exists() or not (exp / "steps.csv").exists():
        return False
    with (exp / "steps.csv").open(newline="") as f:
        return any(row.get("epoch") == "1" for row in csv.DictReader(f))


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_uninterrupted_weights(tiny_config, tmp_path):
    # 5 steps per epoch: a wide window to land the kill inside the second epoch
    cfg = tiny_config("data.epoch_size=40", "data.crop_seconds=1.5")
    config = save_config(cfg, tmp_path / "tiny.yaml")
    assert main(["-q", "train", str(config), str(tmp_path / "straight")]) == 0

    exp = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(train_command(config, exp), env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + DEADLINE_S
    while not second_epoch_started(exp):
        assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read()}"
        assert time.monotonic() < deadline, "the second epoch did not start in time"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    proc.stderr.close()
    assert load_file(exp / "checkpoint.pt")["epoch"] == 1  # killed before the second epoch's checkpoint

    resumed = subprocess.run(train_command(config, exp, "--resume"), env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr

    a, b = load_file(tmp_path / "straight" / "model.pt"), load_file(exp / "model.pt")
    assert a["progress"]["step"] == b["progress"]["step"] == 10
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for k in a["state_dict"]:
        assert torch.equal(a["state_dict"][k], b["state_dict"][k]), k
    for k in a["classifier"]["state_dict"]:
        assert torch.equal(a["classifier"]["state_dict"][k], b["classifier"]["state_dict"][k]), k
    # the logs read like the uninterrupted run's: the killed epoch's steps are not repeated
    for name, key in (("steps.csv", "step"), ("epochs.csv", "epoch")):
        with (tmp_path / "straight" / name).open() as f, (exp / name).open() as g:
            assert [r[key] for r in csv.DictReader(f)] == [r[key] for r in csv.DictReader(g)], name
