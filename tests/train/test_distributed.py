"""Scale-out: `torchrun` processes, gradient accumulation and mixed precision all train the same
model as one process with the whole batch.

The equivalences are tested on a model without trained BatchNorm (encoder ``norm: none``, the
TDNN speaker network frozen, so its BatchNorm runs on fixed statistics): with BatchNorm in
training mode, a batch split over ranks or micro-batches is normalised with each part's own
statistics, which changes the function itself, not just the rounding (on CUDA,
``train.sync_batchnorm`` restores the global statistics across ranks). Gradient clipping is off:
it rescales every step's gradient to the same norm, and Adam's steps barely depend on the
gradient's scale either, so only Adam's moments show a wrongly scaled loss (tested: a missing
division by the number of micro-batches moves them by 50%, the weights by 8e-4).

What remains is the order of floating-point sums (DDP averages per-rank gradients, one process
sums the whole batch at once), about 1e-7 relative. Adam divides each gradient element by its
own magnitude, which magnifies that for elements whose gradient is near zero. Measured after 3
steps: weights within 6.4e-6, Adam's moments within 4.6e-5 of each tensor's largest value.
"""
from __future__ import annotations

import csv
import math
import os
import subprocess
import sys

import pytest
import torch
from torch.utils.data import BatchSampler, SequentialSampler

from mirnet.config import ConfigError, save_config
from mirnet.models import build_model
from mirnet.train.checkpoint import load_file
from mirnet.train.distributed import RankShare, World
from mirnet.train.trainer import Trainer

from ..conftest import TINY_MODEL

WEIGHT_TOLERANCE = 2e-5  # max abs difference of any weight after 3 Adam steps
MOMENT_TOLERANCE = 1e-3  # max abs difference of Adam's moments, relative to each tensor's largest
NORM_FREE = {**TINY_MODEL, "encoder": {**TINY_MODEL["encoder"], "norm": "none"}}
CPU = torch.device("cpu")


def equivalence_config(tiny_config, *overrides):
    """3 steps of 8 mixtures, no clipping; only BatchNorm-free parts (encoder, attention,
    classifier) train."""
    return tiny_config("data.epoch_size=24", "train.epochs=1", "train.freeze=[speaker_net]", "optim.grad_clip=1e9",
                       *overrides, model=NORM_FREE)


def assert_same_training(exp_a, exp_b) -> None:
    a, b = load_file(exp_a / "checkpoint.pt"), load_file(exp_b / "checkpoint.pt")
    assert a["step"] == b["step"] == 3
    weights = [(a["bundle"]["state_dict"], b["bundle"]["state_dict"]),
               (a["bundle"]["classifier"]["state_dict"], b["bundle"]["classifier"]["state_dict"])]
    assert all(x.keys() == y.keys() for x, y in weights)
    weight_diff = max((x[k].double() - y[k].double()).abs().max().item() for x, y in weights for k in x)
    moments = [(x[name], y[name]) for x, y in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values())
               for name in ("exp_avg", "exp_avg_sq")]
    moment_diff = max(((x - y).abs().max() / y.abs().max()).item() for x, y in moments)
    assert weight_diff <= WEIGHT_TOLERANCE and moment_diff <= MOMENT_TOLERANCE, (weight_diff, moment_diff)


def rows(path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_two_torchrun_processes_train_like_one_process_with_the_whole_batch(tiny_config, tmp_path):
    # data.batch_size=8 is the global batch: 2 ranks x 2 accumulated micro-batches of 2 mixtures
    cfg = equivalence_config(tiny_config)
    Trainer(cfg, tmp_path / "one", progress=False).run()

    config = save_config(equivalence_config(tiny_config, "train.accumulate=2"), tmp_path / "ddp.yaml")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "mirnet.cli", "-q", "train", str(config), str(tmp_path / "two")]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count('"val_loss"') == 1  # the result is printed by rank 0 alone

    assert_same_training(tmp_path / "one", tmp_path / "two")
    # rank 0 alone logs, and what it logs is the whole batch's, not its share's
    one, two = rows(tmp_path / "one" / "steps.csv"), rows(tmp_path / "two" / "steps.csv")
    assert [r["step"] for r in two] == ["1", "2", "3"]
    for r, s in zip(one, two):
        assert math.isclose(float(r["loss"]), float(s["loss"]), rel_tol=1e-5), (r, s)
    (r,), (s,) = rows(tmp_path / "one" / "epochs.csv"), rows(tmp_path / "two" / "epochs.csv")
    for key in ("train_loss", "val_loss", "val_pit_acc"):
        assert math.isclose(float(r[key]), float(s[key]), rel_tol=1e-5, abs_tol=1e-6), key


def test_accumulated_micro_batches_train_like_the_whole_batch(tiny_config, tmp_path):
    Trainer(equivalence_config(tiny_config), tmp_path / "whole", progress=False).run()
    Trainer(equivalence_config(tiny_config, "train.accumulate=4"), tmp_path / "micro", progress=False).run()
    assert_same_training(tmp_path / "whole", tmp_path / "micro")


def test_bf16_autocast_trains_a_step_on_cpu(tiny_config, tmp_path):
    trainer = Trainer(tiny_config("train.precision=bf16", "train.epochs=1"), tmp_path / "bf16", progress=False)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.run()
    assert all(math.isfinite(result[k]) for k in ("train_loss", "val_loss"))
    after = trainer.model.state_dict()
    assert all(v.dtype == before[k].dtype and torch.isfinite(v.float()).all() for k, v in after.items())
    assert any(not torch.equal(v, before[k]) for k, v in after.items())


def test_fp16_needs_cuda(tiny_config, tmp_path):
    with pytest.raises(ConfigError, match="train.precision=fp16 needs CUDA"):
        Trainer(tiny_config("train.precision=fp16", "train.device=cpu"), tmp_path / "x", progress=False)


def test_ranks_draw_disjoint_shares_that_make_up_the_single_process_batches():
    batches = BatchSampler(SequentialSampler(range(22)), 8, drop_last=False)
    shares = [list(RankShare(batches, rank, 2, micro=2)) for rank in range(2)]
    assert shares[0][:2] == [[0, 1], [2, 3]] and shares[1][:2] == [[4, 5], [6, 7]]
    for i, batch in enumerate(batches):  # each global batch: rank 0's micro-batches, then rank 1's
        per_rank = [sum(share[2 * i:2 * i + 2], []) for share in shares]
        assert per_rank[0] + per_rank[1] == batch
    assert shares[1][-1] == [20, 21]  # the short last batch: rank 1 takes the remainder


def test_batch_must_split_over_ranks_and_micro_batches():
    world = World(rank=0, local_rank=0, size=3, device=CPU)
    assert world.micro_batch(12, 2) == 2
    with pytest.raises(ConfigError, match=r"data.batch_size=8 .* 3 process\(es\) x train.accumulate=2; .* of 6"):
        world.micro_batch(8, 2)


def test_sync_batchnorm_on_cpu_is_a_clear_config_error():
    world = World(rank=0, local_rank=0, size=2, device=CPU)
    with_bn = build_model("mirnet", **TINY_MODEL)
    with pytest.raises(ConfigError, match="train.sync_batchnorm=false"):
        world.sync_batchnorm(with_bn)
