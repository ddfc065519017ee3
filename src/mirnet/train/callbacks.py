"""What the training loop reports, as callbacks it calls at fixed points: the CSV logs, TensorBoard
and the progress bar with the epoch's log line. The loop computes each step's and each epoch's row
once and hands it to every callback, which reads it (never changes it) in a scope of its own: a
writer's loop cannot rebind the loop's variables (one once rebound the progress metric's name).

The hooks, in the order ``Trainer.run`` calls them:

- ``on_start(trainer, resumed)``: the run starts at ``trainer.epoch``/``trainer.step``, restored
  from its checkpoint if ``resumed``;
- ``on_epoch_start(trainer)``;
- ``on_step(trainer, row)`` after every optimizer step: ``STEP_CONTEXT`` and the step's values
  (loss and the objective's terms, averaged over ranks);
- ``on_epoch(trainer, row)`` after validation and before the checkpoint commits the epoch (the row
  of ``epochs.csv``, returned by ``run``): a row logged for an epoch whose checkpoint never lands
  is dropped on resume (``CsvLogger``);
- ``on_end(trainer)`` once the loop stops, finished or interrupted.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from ..atomic import atomic_path
from ..errors import MissingDependency
from ..progress import Progress

log = logging.getLogger("mirnet.train.trainer")  # the loop's lines, under the name they always had
STEP_CONTEXT = ("step", "epoch", "elapsed_s", "lr")  # a step row's place in the run; the rest: its values


class Callback:
    """Hooks that do nothing: a callback overrides those it needs."""

    def on_start(self, trainer, resumed: bool) -> None:
        pass

    def on_epoch_start(self, trainer) -> None:
        pass

    def on_step(self, trainer, row: dict) -> None:
        pass

    def on_epoch(self, trainer, row: dict) -> None:
        pass

    def on_end(self, trainer) -> None:
        pass


class CsvLogger(Callback):
    """``steps.csv`` (every ``every`` steps) and ``epochs.csv``, appended a row at a time so that a
    killed run keeps what it logged; a resumed run first drops the rows past its checkpoint, so the
    logs read like one uninterrupted run."""

    def __init__(self, directory: Path, step_keys: tuple[str, ...], every: int):
        self.steps, self.epochs = directory / "steps.csv", directory / "epochs.csv"
        self.step_fields = [*STEP_CONTEXT, "loss", *step_keys]  # a term an objective skips stays empty
        self.every = every

    def on_start(self, trainer, resumed: bool) -> None:
        if resumed:
            _truncate_csv(self.steps, "step", trainer.step)
            _truncate_csv(self.epochs, "epoch", trainer.epoch)
        else:
            self.steps.unlink(missing_ok=True)
            self.epochs.unlink(missing_ok=True)

    def on_step(self, trainer, row: dict) -> None:
        if row["step"] % self.every == 0:
            _append_csv(self.steps, self.step_fields, row)

    def on_epoch(self, trainer, row: dict) -> None:
        _append_csv(self.epochs, list(row), row)  # every epoch row has every column


class TensorBoardLogger(Callback):
    """The step values under ``train/`` (every ``every`` steps), the validation loss and progress
    metric under ``val/``, at the optimizer step."""

    def __init__(self, directory: Path, progress_key: str, every: int):
        self.writer_type = summary_writer()  # a missing package stops the run before it starts
        self.directory, self.progress_key, self.every = directory, progress_key, every

    def on_start(self, trainer, resumed: bool) -> None:
        self.writer = self.writer_type(str(self.directory))

    def on_step(self, trainer, row: dict) -> None:
        if row["step"] % self.every == 0:
            for name, v in row.items():
                if name not in STEP_CONTEXT:
                    self.writer.add_scalar(f"train/{name}", v, row["step"])

    def on_epoch(self, trainer, row: dict) -> None:
        for name in ("loss", self.progress_key):
            self.writer.add_scalar(f"val/{name}", row[f"val_{name}"], row["step"])

    def on_end(self, trainer) -> None:
        self.writer.close()  # flushes the events still buffered


class LogLine(Callback):
    """An epoch's progress bar (drawn by ``progress``), with each step's loss and progress
    metric, and the line it ends with in the log."""

    def __init__(self, progress_key: str, progress: Progress):
        self.progress_key, self.progress, self.bar = progress_key, progress, None

    def on_epoch_start(self, trainer) -> None:
        self.bar = self.progress(
            total=trainer.steps_per_epoch,
            desc=f"epoch {trainer.epoch + 1}/{trainer.cfg.train.epochs}",
            leave=False,
        )

    def on_step(self, trainer, row: dict) -> None:
        key = self.progress_key
        self.bar.set_postfix({"loss": f"{row['loss']:.3f}", key: f"{row[key]:.2f}"})
        self.bar.update()

    def on_epoch(self, trainer, row: dict) -> None:
        self.bar.close()
        key = self.progress_key
        log.info(
            "epoch %d: train loss %.3f, val loss %.3f, val %s %.3f (%.0f s)",
            row["epoch"],
            row["train_loss"],
            row["val_loss"],
            key,
            row[f"val_{key}"],
            trainer.elapsed,
        )

    def on_end(self, trainer) -> None:
        if self.bar is not None:  # an interrupted epoch's bar is still open
            self.bar.close()


def summary_writer() -> type:
    """TensorBoard's writer, from a package the install leaves optional."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise MissingDependency(
            "train.tensorboard=true needs the tensorboard package (pip install tensorboard)"
        ) from None
    return SummaryWriter


def _truncate_csv(path: Path, key: str, last: int) -> None:
    """Drop log rows past the restored checkpoint: a run killed mid-epoch logged steps that
    resuming repeats."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    keep = [r for r in rows if int(r[key]) <= last]
    if len(keep) < len(rows):
        with atomic_path(path) as tmp, tmp.open("w", newline="") as f:  # a crash keeps the old log
            w = csv.DictWriter(f, fieldnames=fields)
            w.writeheader()
            w.writerows(keep)


def _append_csv(path: Path, fields: list[str], row: dict) -> None:
    new = not path.exists()
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
