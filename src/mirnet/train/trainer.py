"""The training loop: on-the-fly mixtures -> model -> PIT loss, with warm-up + cosine LR,
gradient clipping, per-epoch validation (PIT accuracy on held-out utterances of the training
speakers), an atomic checkpoint every epoch and exact resumption. What it reports (CSV logs,
TensorBoard, the progress bar and log line) is written by callbacks (``callbacks.py``).

Resumption is exact because every random draw is a function of (seed, epoch, index) or of the
torch RNG state saved in the checkpoint: a run interrupted mid-epoch restarts that epoch from
its first batch and reproduces the uninterrupted run's weights.

Under ``torchrun`` every process runs this loop on its share of each global batch
(``distributed.py``); gradients are averaged by DDP, logged values and validation sums are
all-reduced, and rank 0 alone writes logs and checkpoints (its default callbacks; a caller's
run on every rank).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, default_collate

from ..checkpoint import (
    MODEL_FILE,
    STATE_FILE,
    CheckpointError,
    load_file,
    model_bundle,
    resolve,
    save_atomic,
)
from ..config import ExperimentConfig, save_config
from ..data.mixing import MixtureDataset
from ..errors import ConfigError
from ..progress import Progress, bars, silent
from . import distributed
from .build import build_data, build_run_model, set_train_mode, trained_batchnorms, trained_parameters
from .callbacks import Callback, CsvLogger, LogLine, TensorBoardLogger
from .optim import build_optimizer, lr_factor

log = logging.getLogger(__name__)
AUTOCAST_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@torch.no_grad()
def recompute_batchnorm(
    model: torch.nn.Module, batches, frozen: list[torch.nn.Module] = (), forward=None
) -> None:
    """ "Precise BN": replace the running statistics by exact averages over ``batches`` under
    the final weights of the epoch. The exponential running averages lag the weights while
    the learning rate is high (docs/training.md has the measurement). ``forward``
    runs a batch (default: ``model`` on its mixture), for a model that needs more than that."""
    norms = trained_batchnorms(model, frozen)
    if not norms:
        return
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    was_training = model.training
    set_train_mode(model, list(frozen))
    for batch in batches:
        (forward or (lambda b: model(b["mixture"])))(batch)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    if not was_training:
        model.eval()


class Trainer:
    def __init__(
        self,
        cfg: ExperimentConfig,
        exp_dir: str | Path,
        progress: Progress = bars,
        callbacks: Iterable[Callback] = (),
    ):
        self.cfg, self.exp = cfg, Path(exp_dir)
        self.world = distributed.join(cfg.train)
        self.device = self.world.device
        if cfg.train.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError(
                "train.precision=fp16 needs CUDA (its loss scaling runs there); on CPU use bf16"
            )
        self.autocast_dtype = AUTOCAST_DTYPES[cfg.train.precision]
        self.micro_batch = self.world.micro_batch(cfg.data.batch_size, cfg.train.accumulate)
        torch.manual_seed(cfg.seed)
        torch.set_num_threads(cfg.train.threads)
        data = build_data(cfg)
        self.train_data, self.val_data = data.train, data.val
        self.speakers, self.provenance = data.speakers, data.provenance
        built = build_run_model(cfg, self.speakers, self.world.sync_batchnorm, data.attributes)
        self.model, self.objective, self.frozen = built.model, built.objective, built.frozen
        self.classifier = self.objective.classifier  # None for a separator
        self.objective.to(self.device)
        self.optimizer = build_optimizer(trained_parameters(self.objective), cfg.optim)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.train.precision == "fp16")
        self.ddp = self.world.wrap(self.objective)
        self.steps_per_epoch = (
            cfg.data.epoch_size // cfg.data.batch_size
        )  # the training sampler drops a partial batch
        self.total_steps = self.steps_per_epoch * cfg.train.epochs
        self.epoch, self.step, self.elapsed = 0, 0, 0.0
        self.callbacks = [*self._default_callbacks(progress), *callbacks]  # a caller's run on every rank

    def _default_callbacks(self, progress: Progress) -> list[Callback]:
        """What the config asks to report: files and the bar on rank 0 alone, the log line on
        every rank, written in this order (the files before the line that reports them)."""
        t, key = self.cfg.train, self.objective.progress_key
        if not self.world.is_main:
            return [LogLine(key, silent)]
        files: list[Callback] = [CsvLogger(self.exp, self.objective.step_keys, t.log_every)]
        if t.tensorboard:
            files.append(TensorBoardLogger(self.exp / "tensorboard", key, t.log_every))
        return [*files, LogLine(key, progress)]

    def _notify(self, hook: str, *args) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    # -- checkpoints -------------------------------------------------------------------
    def bundle(self) -> dict:
        conditioner = getattr(self.objective, "conditioner", None)
        return model_bundle(
            self.model,
            self.speakers,
            classifier=self.classifier,
            classifier_args=self.objective.classifier_args,
            conditioner=None if conditioner is None else conditioner.spec,
            data=self.provenance,
            config=self.cfg.to_dict(),
            progress={"epoch": self.epoch, "step": self.step, "elapsed_s": self.elapsed},
        )

    def save(self) -> None:
        """``checkpoint.pt`` is written last: it is the epoch's commit point. If a write fails
        before it, the resumed run repeats the epoch and writes the same weights again."""
        bundle = self.bundle()
        state = {
            "bundle": bundle,
            "optimizer": self.optimizer.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "elapsed_s": self.elapsed,
            "torch_rng": torch.get_rng_state(),
            "grad_scaler": self.scaler.state_dict(),
        }
        try:
            save_atomic(bundle, self.exp / MODEL_FILE)
            if self.cfg.train.keep_epoch_models:
                save_atomic(bundle, self.exp / "epochs" / f"epoch{self.epoch:03d}.pt")
            save_atomic(state, self.exp / STATE_FILE)
        except CheckpointError as exc:
            held = (
                f"{STATE_FILE} still holds epoch {self.epoch - 1}"
                if self.epoch > 1
                else f"no {STATE_FILE} yet"
            )
            raise CheckpointError(
                f"{exc}; the training of epoch {self.epoch} is lost ({held}): "
                f"make room, then rerun with --resume"
            ) from None

    def restore(self) -> None:
        state = load_file(self.exp / STATE_FILE)
        self.model.load_state_dict(state["bundle"]["state_dict"])
        if self.classifier is not None:
            self.classifier.load_state_dict(state["bundle"]["classifier"]["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("grad_scaler"):  # empty unless the run trained in fp16
            self.scaler.load_state_dict(state["grad_scaler"])
        self.epoch, self.step, self.elapsed = state["epoch"], state["step"], state["elapsed_s"]
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed %s at epoch %d, step %d", self.exp, self.epoch, self.step)

    # -- loop ----------------------------------------------------------------------------
    def loader(self, data: MixtureDataset, shuffle: bool) -> DataLoader:
        """This rank's micro-batches of the global batches one process would draw: the same
        generator, permutation and batch boundaries whatever the number of processes."""
        generator = torch.Generator().manual_seed(self.cfg.seed * 1000 + self.epoch)
        order = RandomSampler(data, generator=generator) if shuffle else SequentialSampler(data)
        batches = BatchSampler(order, self.cfg.data.batch_size, drop_last=shuffle)
        return DataLoader(
            data,
            batch_sampler=self.world.share(batches, self.micro_batch),
            num_workers=self.cfg.data.workers,
            persistent_workers=False,
            generator=generator,
            pin_memory=self.device.type == "cuda",
        )

    def _on_device(self, batch: dict) -> dict:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    def _forward(self, batch: dict) -> tuple[torch.Tensor, dict]:
        """Training forwards go through DDP, whose backward averages gradients over ranks;
        evaluation forwards are each rank's own."""
        return (self.ddp if self.model.training else self.objective)(self._on_device(batch))

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def optimizer_step(self, micro_batches: tuple[dict, ...]) -> tuple[float, dict, int]:
        """One optimizer step on this rank's micro-batches. Each micro-batch loss is divided by
        their number, so the summed gradient is that of the mean loss over the rank's share, and
        DDP's average over ranks that of the global batch. Returns the learning rate, the logged
        values averaged the same way, and the bad-file retries."""
        o = self.cfg.optim
        lr = o.lr * lr_factor(self.step, self.total_steps, o.warmup_steps, o.schedule, o.min_lr_ratio)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        k, total, retries = len(micro_batches), 0.0, 0
        for i, batch in enumerate(micro_batches):
            with distributed.accumulating(self.ddp, last=i == k - 1):
                with self._autocast():
                    loss, logs = self._forward(batch)
                self.scaler.scale(loss / k).backward()
            values = {"loss": loss, **{name: v for name, v in logs.items() if name != "perm"}}
            total = total + torch.stack([v.detach().float() for v in values.values()])
            retries += int(batch["retries"].sum())
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], o.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.step += 1
        return lr, dict(zip(values, self.world.mean([v / k for v in total.tolist()]))), retries

    def run(self, resume: bool = False) -> dict:
        """Train to ``train.epochs``, continuing the checkpoint if ``resume`` finds one; returns
        the last epoch's row."""
        self._refuse_existing_run(resume)
        self.exp.mkdir(parents=True, exist_ok=True)
        resumed = resume and (self.exp / STATE_FILE).exists()
        if resumed:
            self.restore()
        if self.world.is_main:
            save_config(self.cfg, self.exp / "config.yaml")
            self._keep_conditioner()
        self._notify("on_start", resumed)
        last: dict = {}
        try:
            while self.epoch < self.cfg.train.epochs:
                last = self._train_epoch()
                self._notify("on_epoch", last)  # before the commit: see callbacks.py
                if self.world.is_main:
                    self.save()
        finally:
            self._notify("on_end")
        return last

    def _train_epoch(self) -> dict:
        """An epoch's steps, precise BatchNorm and validation; returns the epoch's row."""
        k = self.cfg.train.accumulate
        self.train_data.set_epoch(self.epoch)
        set_train_mode(self.model, self.frozen)
        self._notify("on_epoch_start")
        start, sums, n, retries = time.time(), {}, 0, 0
        for micro_batches in zip(*[iter(self.loader(self.train_data, True))] * k):  # k micro-batches a step
            lr, values, tries = self.optimizer_step(micro_batches)
            n += 1
            retries += tries
            for name, v in values.items():
                sums[name] = sums.get(name, 0.0) + v
            elapsed = round(self.elapsed + time.time() - start, 1)
            self._notify(
                "on_step", {"step": self.step, "epoch": self.epoch, "elapsed_s": elapsed, "lr": lr, **values}
            )
        if self.cfg.train.precise_bn_batches:
            batches = itertools.islice(
                self.loader(self.train_data, False), self.cfg.train.precise_bn_batches * k
            )
            recompute_batchnorm(self.model, map(self._on_device, batches), self.frozen, self.objective)
        self.world.average_buffers(self.model)
        self.elapsed += time.time() - start
        self.epoch += 1
        val = self.validate()
        return {
            "epoch": self.epoch,
            "step": self.step,
            "elapsed_s": round(self.elapsed, 1),
            "lr": lr,
            "train_loss": sums["loss"] / n,
            **{f"train_{key}": sums[key] / n for key in self.objective.epoch_keys},
            **{f"val_{key}": v for key, v in val.items()},
            "bad_file_retries": round(self.world.sum([retries])[0]),
        }

    def _keep_conditioner(self) -> None:
        """A conditioned separator's embedder goes into its experiment dir, which is then all
        that separating a mixture needs (``checkpoint.conditioner_spec``)."""
        spec = getattr(getattr(self.objective, "conditioner", None), "spec", {})
        if "file" in spec:
            save_atomic(resolve(spec["source"]), self.exp / spec["file"])

    def _refuse_existing_run(self, resume: bool) -> None:
        if not resume and (self.exp / STATE_FILE).exists():
            raise FileExistsError(
                f"{self.exp} already holds a run; pass --resume to continue it or choose a new dir"
            )

    @torch.no_grad()
    def check(self, resume: bool = False) -> str:
        """A run's start without the run: refuse what ``run`` would refuse, put one training
        micro-batch through model and loss as the first step would (no update), and describe
        the run in one line. Writes nothing."""
        self._refuse_existing_run(resume)
        set_train_mode(self.model, self.frozen)
        batch = default_collate([self.train_data[i] for i in range(self.micro_batch)])
        with self._autocast():
            loss, _ = self._forward(batch)
        d = self.cfg.data
        params = sum(p.numel() for p in self.objective.parameters() if p.requires_grad)
        what = (
            f"{len(self.speakers)} speaker classes"
            if self.classifier is not None
            else f"{self.model.n_outputs} output(s)"
        )
        return (
            f"{self.exp}: {self.cfg.model.name} with {params:,} trained parameters, {what}, "
            f"{len(self.train_data.manifest)} training and "
            f"{len(self.val_data.manifest)} validation utterances; {self.steps_per_epoch} steps of {d.batch_size} "
            f"mixtures per epoch x {self.cfg.train.epochs} epochs; loss of a first batch {float(loss):.3f}"
        )

    @torch.no_grad()
    def validate(self) -> dict:
        """Loss and the objective's epoch values (PIT accuracy, SI-SDRi) over the validation mixtures:
        each rank scores its share and the sums are all-reduced, so every rank returns the
        single-process numbers."""
        self.model.eval()
        keys, sums, n = ("loss", *self.objective.epoch_keys), {}, 0
        for batch in self.loader(self.val_data, False):
            loss, logs = self._forward(batch)
            k = len(batch["mixture"])
            for key, v in {"loss": loss, **{key: logs[key] for key in keys[1:]}}.items():
                sums[key] = sums.get(key, 0.0) + float(v) * k
            n += k
        *totals, n = self.world.sum([sums.get(key, 0.0) for key in keys] + [n])
        return {key: v / n for key, v in zip(keys, totals)}
