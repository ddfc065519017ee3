"""A full disk while a checkpoint is written: the previous files stay loadable and unchanged, no
temporary file is left, and the command says in one line which file, why, what was lost and how
to go on."""

from __future__ import annotations

import errno
import io
import os

import numpy as np
import pytest
import soundfile as sf
import torch

from mirnet.checkpoint import CheckpointError, load_file, save_atomic
from mirnet.cli import main
from mirnet.config import save_config

from .conftest import REPO


class FullDisk(io.RawIOBase):
    """A file with ``room`` bytes left on its disk: writes fill it, then fail with ENOSPC."""

    def __init__(self, f, room: int):
        self.f, self.room = f, room

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        n = min(len(data), self.room)
        self.f.write(bytes(data[:n]))
        self.room -= n
        if n < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return n


def fill_disk_after(monkeypatch, room: int) -> None:
    """Every torch.save writes ``room`` bytes of the real serialization, then hits a full disk
    (torch reports that as a RuntimeError whose context is the OSError)."""
    real_save = torch.save
    monkeypatch.setattr(
        torch, "save", lambda obj, f, *args, **kwargs: real_save(obj, FullDisk(f, room), *args, **kwargs)
    )


def test_full_disk_midway_keeps_the_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = save_atomic({"format": "x", "v": torch.ones(1000)}, tmp_path / "c.pt")
    before = path.read_bytes()
    fill_disk_after(monkeypatch, 4096)
    with pytest.raises(CheckpointError, match=r"c\.pt: cannot write checkpoint: the disk is full"):
        save_atomic({"v": torch.zeros(1000)}, path)
    assert path.read_bytes() == before and torch.equal(load_file(path)["v"], torch.ones(1000))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_a_failure_that_is_no_write_error_is_not_rephrased(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("not a disk problem")

    monkeypatch.setattr(torch, "save", broken)
    with pytest.raises(RuntimeError, match="not a disk problem"):
        save_atomic({}, tmp_path / "c.pt")
    assert not list(tmp_path.iterdir())


def test_training_on_a_full_disk_stops_with_one_line_and_resumes_when_there_is_room(
    tiny_config, tmp_path, monkeypatch, capsys
):
    config = save_config(tiny_config("train.epochs=1"), tmp_path / "tiny.yaml")
    exp = tmp_path / "exp"
    assert main(["-q", "train", str(config), str(exp)]) == 0
    saved = {name: (exp / name).read_bytes() for name in ("checkpoint.pt", "model.pt")}
    capsys.readouterr()

    with monkeypatch.context() as m:
        fill_disk_after(m, 10_000)
        assert main(["-q", "train", str(config), str(exp), "--resume", "train.epochs=2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mirnet: error: "), err
    assert f"{exp / 'model.pt'}: cannot write checkpoint: the disk is full" in err
    assert "epoch 2 is lost (checkpoint.pt still holds epoch 1): make room, then rerun with --resume" in err
    assert {name: (exp / name).read_bytes() for name in saved} == saved
    assert not [p.name for p in exp.rglob("*") if ".tmp" in p.name]

    assert main(["-q", "train", str(config), str(exp), "--resume", "train.epochs=2"]) == 0
    assert load_file(exp / "checkpoint.pt")["epoch"] == 2
    assert (exp / "epochs.csv").read_text().count("\n") == 3  # header + 2 epochs: the lost one logged once


@pytest.mark.parametrize("key", ["model", "state_dict"])
def test_a_model_file_without_its_description_or_weights_is_refused_in_one_line(tmp_path, capsys, key):
    bundle = load_file(REPO / "models" / "mirnet" / "model.pt")
    del bundle[key]
    path = save_atomic(bundle, tmp_path / "model.pt")
    clip = tmp_path / "tone.wav"
    sf.write(clip, 0.1 * np.sin(np.arange(32000) / 5), 16000)
    assert main(["embed", str(path), str(clip)]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        "\n" not in err and "Traceback" not in err and f"{path}: a model file without" in err and key in err
    )
