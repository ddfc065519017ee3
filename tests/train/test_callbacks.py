"""The loop's callbacks on real short runs: what a callback is handed and when, and that the logs
the default ones write (CSV, TensorBoard) are the rows the loop computed, across a resume too."""

from __future__ import annotations

import csv
import sys

import pytest
import torch

from mirnet.checkpoint import STATE_FILE, load_file
from mirnet.errors import MissingDependency
from mirnet.progress import silent
from mirnet.train import callbacks
from mirnet.train.callbacks import Callback, CsvLogger, LogLine, TensorBoardLogger
from mirnet.train.trainer import Trainer

from .test_trainer import _interrupt_after


class Recorder(Callback):
    """Each hook call, with the trainer's position at the call and the row it was handed; at an
    epoch, also the epoch its checkpoint held then (None: no checkpoint yet)."""

    def __init__(self):
        self.calls = []

    def on_start(self, trainer, resumed):
        self.calls.append(("start", trainer.epoch, trainer.step, resumed))

    def on_epoch_start(self, trainer):
        self.calls.append(("epoch_start", trainer.epoch, trainer.step, None))

    def on_step(self, trainer, row):
        self.calls.append(("step", trainer.epoch, trainer.step, dict(row)))

    def on_epoch(self, trainer, row):
        state = trainer.exp / STATE_FILE
        committed = load_file(state)["epoch"] if state.exists() else None
        self.calls.append(("epoch", trainer.epoch, trainer.step, {**row, "committed": committed}))

    def on_end(self, trainer):
        self.calls.append(("end", trainer.epoch, trainer.step, None))

    def rows(self, hook: str) -> list[dict]:
        return [row for name, _, _, row in self.calls if name == hook]


class FakeWriter:
    """SummaryWriter's calls the logger makes, recorded in ``FakeWriter.made``."""

    made: list[FakeWriter] = []

    def __init__(self, log_dir: str):
        self.log_dir, self.scalars, self.closed = log_dir, [], 0
        FakeWriter.made.append(self)

    def add_scalar(self, tag, value, step):
        self.scalars.append((tag, value, step))

    def close(self):
        self.closed += 1


@pytest.fixture
def fake_writer(monkeypatch):
    FakeWriter.made = []
    monkeypatch.setattr(callbacks, "summary_writer", lambda: FakeWriter)
    return FakeWriter


def read_csv(path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def timeless(rows: list[dict]) -> list[dict]:
    """Rows without their wall-clock column, the one thing two runs of the same training differ in."""
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in rows]


def test_a_callback_sees_each_step_and_epoch_once_in_order_with_the_rows_the_csv_logs_hold(
    tiny_config, tmp_path
):
    torch.manual_seed(0)
    recorder = Recorder()
    exp = tmp_path / "exp"
    trainer = Trainer(tiny_config("train.log_every=2"), exp, progress=silent, callbacks=[recorder])
    last = trainer.run()

    assert [(name, epoch, step) for name, epoch, step, _ in recorder.calls] == [
        ("start", 0, 0),
        ("epoch_start", 0, 0),
        ("step", 0, 1),
        ("step", 0, 2),
        ("epoch", 1, 2),
        ("epoch_start", 1, 2),
        ("step", 1, 3),
        ("step", 1, 4),
        ("epoch", 2, 4),
        ("end", 2, 4),
    ]
    assert recorder.calls[0][3] is False  # a new run, not a resumed one
    steps = recorder.rows("step")
    assert [(r["step"], r["epoch"]) for r in steps] == [(1, 0), (2, 0), (3, 1), (4, 1)]
    key = trainer.objective.progress_key
    assert all(0 <= r[key] <= 1 and r["lr"] > 0 for r in steps), steps
    # steps.csv holds every log_every-th step the callbacks saw, value for value
    logged = read_csv(exp / "steps.csv")
    assert [int(r["step"]) for r in logged] == [2, 4]
    for r, seen in zip(logged, steps[1::2]):
        assert {k: float(v) for k, v in r.items() if v} == seen, (r, seen)
    # epochs.csv and run()'s result are the epoch rows, each seen before its checkpoint committed it
    epochs = recorder.rows("epoch")
    assert [r.pop("committed") for r in epochs] == [None, 1]
    assert [{k: float(v) for k, v in r.items()} for r in read_csv(exp / "epochs.csv")] == epochs
    assert last == epochs[-1] and f"val_{key}" in last


def test_after_an_interrupted_epoch_the_resumed_run_logs_what_the_uninterrupted_one_logged(
    tiny_config, tmp_path, monkeypatch
):
    torch.manual_seed(0)
    Trainer(tiny_config(), tmp_path / "straight", progress=silent).run()

    exp = tmp_path / "resumed"
    broken = Recorder()
    trainer = Trainer(tiny_config(), exp, progress=silent, callbacks=[broken])
    _interrupt_after(trainer, 2 + 1 + 1, monkeypatch)  # epoch 1 (2 steps) + validation (1) + 1 step
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert broken.calls[-1][0] == "end"  # an interrupted run's callbacks are told it stopped
    assert [r["step"] for r in read_csv(exp / "steps.csv")] == ["1", "2", "3"]  # 3: past the checkpoint

    resumed = Recorder()
    Trainer(tiny_config(), exp, progress=silent, callbacks=[resumed]).run(resume=True)
    assert resumed.calls[0] == ("start", 1, 2, True)
    assert [r["step"] for r in resumed.rows("step")] == [3, 4]  # the lost step is done again, once
    for name in ("steps.csv", "epochs.csv"):
        straight, again = read_csv(tmp_path / "straight" / name), read_csv(exp / name)
        assert timeless(again) == timeless(straight), name


def test_tensorboard_gets_the_logged_steps_values_and_the_validation_metrics(
    tiny_config, tmp_path, fake_writer
):
    torch.manual_seed(0)
    exp = tmp_path / "exp"
    trainer = Trainer(tiny_config("train.tensorboard=true", "train.log_every=2"), exp, progress=silent)
    assert not fake_writer.made  # opened when the run starts, not by the trainer's construction
    trainer.run()

    (writer,) = fake_writer.made
    assert writer.log_dir == str(exp / "tensorboard") and writer.closed == 1
    key = trainer.objective.progress_key
    expected = []
    for step in read_csv(exp / "steps.csv"):
        values = {k: float(v) for k, v in step.items() if v and k not in callbacks.STEP_CONTEXT}
        expected += [(f"train/{k}", v, int(step["step"])) for k, v in values.items()]
    for epoch in read_csv(exp / "epochs.csv"):
        expected += [(f"val/{k}", float(epoch[f"val_{k}"]), int(epoch["step"])) for k in ("loss", key)]
    assert sorted(writer.scalars, key=lambda s: s[2]) == sorted(expected, key=lambda s: s[2])
    assert {tag for tag, _, _ in writer.scalars} == {
        "train/loss",
        "train/ce",
        "train/pit_acc",
        "val/loss",
        "val/pit_acc",
    }


def test_tensorboard_without_its_package_stops_the_trainer_before_it_writes(
    tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    with pytest.raises(MissingDependency, match="train.tensorboard=true needs the tensorboard package"):
        Trainer(tiny_config("train.tensorboard=true"), tmp_path / "exp", progress=silent)
    assert not (tmp_path / "exp").exists()


def test_only_rank_0_writes_files_while_every_rank_logs_and_calls_the_callers_callbacks(
    tiny_config, tmp_path, monkeypatch, fake_writer
):
    def kinds(rank: str) -> list[type]:
        monkeypatch.setenv("RANK", rank)  # in a world of one: no process group to join
        monkeypatch.delenv("WORLD_SIZE", raising=False)
        recorder = Recorder()
        trainer = Trainer(tiny_config("train.tensorboard=true"), tmp_path / rank, callbacks=[recorder])
        assert trainer.callbacks[-1] is recorder  # a caller's come after the defaults
        return [type(c) for c in trainer.callbacks]

    assert kinds("0") == [CsvLogger, TensorBoardLogger, LogLine, Recorder]
    assert kinds("1") == [LogLine, Recorder]
    assert not fake_writer.made
