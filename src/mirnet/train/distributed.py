"""Training in several processes started by ``torchrun``: which process this is, its device, the
process group, and each process's share of the data.

One config means the same training at any number of processes: ``data.batch_size`` is the
global batch of one optimizer step. Every rank takes a contiguous share of each global batch
that a single process would draw (same seed, same permutation) and splits it further into
``train.accumulate`` micro-batches. A mixture being a function of (seed, epoch, index) alone,
ranks draw disjoint mixtures that together are exactly the single-process batch, and a run
can resume on another number of processes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, Sampler

from ..config import TrainConfig
from ..errors import ConfigError


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={raw!r} is not a whole number (torchrun sets it)"
        ) from None


@dataclass(frozen=True)
class World:
    rank: int
    local_rank: int
    size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs, progress bars and checkpoints."""
        return self.rank == 0

    def micro_batch(self, batch_size: int, accumulate: int) -> int:
        parts = self.size * accumulate
        if batch_size % parts:
            raise ConfigError(
                f"data.batch_size={batch_size} (the global batch of one step) does not split into "
                f"{self.size} process(es) x train.accumulate={accumulate}; choose a multiple of {parts}"
            )
        return batch_size // parts

    def share(self, batches: BatchSampler, micro: int) -> RankShare:
        return RankShare(batches, self.rank, self.size, micro)

    def sum(self, values: list[float]) -> list[float]:
        if self.size == 1:
            return values
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.tolist()

    def mean(self, values: list[float]) -> list[float]:
        return [v / self.size for v in self.sum(values)]

    def average_buffers(self, module: nn.Module) -> None:
        """BatchNorm statistics of all ranks' batches, so that validation and the saved model
        see the same ones on every rank (per-rank BatchNorm leaves each rank its own)."""
        if self.size == 1:
            return
        for buf in module.buffers():
            if buf.is_floating_point():
                dist.all_reduce(buf)
                buf.div_(self.size)

    def sync_batchnorm(self, model: nn.Module) -> nn.Module:
        """BatchNorm over the global batch (what one process would compute); torch's
        SyncBatchNorm runs on CUDA only."""
        if self.size == 1:
            return model
        if self.device.type != "cuda":
            raise ConfigError(
                "train.sync_batchnorm: torch's SyncBatchNorm runs on CUDA only; on CPU set "
                "train.sync_batchnorm=false (each rank then normalises with the statistics of its "
                "own share of the batch) or use a model without BatchNorm"
            )
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)

    def wrap(self, module: nn.Module) -> nn.Module:
        """DDP averages gradients over ranks in the backward pass. Every trained parameter of
        the models here takes part in every loss, so unused-parameter search stays off."""
        if self.size == 1:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids)


def accumulating(module: nn.Module, last: bool) -> contextlib.AbstractContextManager:
    """No gradient all-reduce on the backward passes of a step's micro-batches but its last one."""
    if last or not isinstance(module, DistributedDataParallel):
        return contextlib.nullcontext()
    return module.no_sync()


class RankShare(Sampler[list[int]]):
    """This rank's micro-batches of every global batch ``batches`` yields: the rank-th share of
    batch_size/world indices, cut into micro-batches of ``micro``. A short last batch
    (validation) leaves later ranks less or nothing."""

    def __init__(self, batches: BatchSampler, rank: int, world: int, micro: int):
        self.batches, self.rank, self.micro = batches, rank, micro
        self.share = batches.batch_size // world

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches:
            mine = batch[self.rank * self.share : (self.rank + 1) * self.share]
            for i in range(0, len(mine), self.micro):
                yield mine[i : i + self.micro]


def _device(setting: str, local_rank: int) -> torch.device:
    if setting == "auto":
        setting = "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError("train.device=cuda: no CUDA device is available (train.device=cpu or auto)")
    if local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"LOCAL_RANK {local_rank}, but this node has {torch.cuda.device_count()} CUDA device(s): "
            f"start at most that many processes per node (torchrun --nproc_per_node)"
        )
    return torch.device("cuda", local_rank)


def join(cfg: TrainConfig) -> World:
    """This process's place in the run: from the variables torchrun sets (RANK, LOCAL_RANK,
    WORLD_SIZE), a plain process being a world of one. Under torchrun it joins the process
    group: NCCL on CUDA, gloo on CPU unless ``train.backend`` says otherwise."""
    size, rank, local_rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    device = _device(cfg.device, local_rank)
    if size > 1 and not dist.is_initialized():
        backend = cfg.backend if cfg.backend != "auto" else "nccl" if device.type == "cuda" else "gloo"
        if backend == "nccl" and device.type != "cuda":
            raise ConfigError(
                "train.backend=nccl needs CUDA tensors; on CPU use gloo (or train.backend=auto)"
            )
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    return World(rank, local_rank, size, device)


def leave(wait: bool = True) -> None:
    """Tear the process group down, if this process joined one; with ``wait``, only once every
    rank has arrived: a rank that tore gloo down while rank 0 was still writing its checkpoint
    aborted at exit ('terminate called without an active exception'). A failing rank leaves
    without waiting, and torchrun stops the others."""
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def is_main_process() -> bool:
    """Before a World exists (the command line's logging and printing): rank 0 or no torchrun."""
    return os.environ.get("RANK", "0") == "0"
