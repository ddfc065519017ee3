"""Scale-out: `torchrun` processes, gradient accumulation and mixed precision all train the same
model as one process with the whole batch.

The equivalences are tested on a model without trained BatchNorm (encoder ``norm: none``, the
TDNN speaker network frozen, so its BatchNorm runs on fixed statistics): with BatchNorm in
training mode, a batch split over ranks or micro-batches is normalised with each part's own
statistics, which changes the function itself, not just the rounding (on CUDA,
``train.sync_batchnorm`` restores the global statistics across ranks). Gradient clipping is off:
it rescales every step's gradient to the same norm and would hide a wrongly scaled loss.

What is compared is what the scale-out changes: the gradient each optimizer step receives (DDP's
average over ranks, the sum of micro-batch gradients divided by their number). ``SgdProbe`` is
the trainer with Adam swapped for plain SGD (the config's learning-rate schedule), recording that
gradient at every step; the runs compare it at each of 3 steps, and the weights after them. SGD
because its step is linear in the gradient: a gradient's rounding stays a rounding of the update,
and a loss scaled wrongly by the number of ranks or micro-batches (k) scales every update by k, a
relative difference of k - 1 >= 1. Adam divides each element by its own magnitude: it magnifies
the rounding wherever a gradient is near zero (weights after 3 Adam steps differed by 4.1e-6 on a
Sapphire Rapids, by 5.8e-5 on an AMD EPYC) and hides the scale of the loss.

The tolerance is derived from float32, not measured on one machine. The runs differ only in the
order of float sums: one gradient element of a convolution is a sum over the batch and the
frames, n = 8 mixtures x 301 frames = 2408 terms, which one process adds in one order and two
ranks or micro-batches in parts, added afterwards (dividing by 2 or 4 is exact). Summed in any
order, n terms carry a rounding error of at most (n - 1) * u * sum|x_i| (Higham's bound, u =
EPS/2 the unit roundoff, EPS = 2^-23 = 1.19e-7), so two orders differ by at most about n * EPS of
the sum's magnitude: ``RELATIVE_TOLERANCE`` = n * EPS = 2.9e-4 of each tensor's gradient (L2
norm), at each of the 3 steps. The weights after them may differ by the gradients' allowed
difference, applied (2.9e-4 * sum of lr * |gradient|), plus the rounding of each step's addition
to the weights (EPS/2 of |weight| per step and run: 3 * EPS * |weight|). The typical error of a
sum, a random walk of n roundings, is sqrt(n) * EPS = 5.8e-6: what the first step shows, not a
bound (later steps start from weights that differ by a rounding, and a gradient whose norm falls,
as the attention scorer's does in step 2, shows the same absolute difference as a larger relative
one). Measured on 2 cores of an AMD EPYC (AVX-512), seeds 0-3, 2 ranks with and without
accumulation and accumulate=2 and 4 in one process: gradients within 2.4e-5 of the whole batch's,
12x below the tolerance (seed 0: 3.4e-6 at the first step, 2.4e-5 at the second; seeds 1-3:
1.1e-6 to 2e-6 at every step); weights within 0.012 of their bound (3e-8 absolute at most). A
loss scaled wrongly by 2 or 4 differs by 1 or 3 at the first step, 3500x the tolerance.
"""

from __future__ import annotations

import csv
import inspect
import math
import os
import subprocess
import sys

import pytest
import torch
from torch.utils.data import BatchSampler, SequentialSampler

from mirnet.architectures import build_model
from mirnet.checkpoint import MODEL_FILE, load_file
from mirnet.config import save_config
from mirnet.errors import ConfigError
from mirnet.progress import silent
from mirnet.train.distributed import RankShare, World
from mirnet.train.trainer import Trainer

from ..conftest import TINY_MODEL

NORM_FREE = {**TINY_MODEL, "encoder": {**TINY_MODEL["encoder"], "norm": "none"}}
CPU = torch.device("cpu")
EPS = torch.finfo(torch.float32).eps  # 2^-23: the spacing of float32 numbers in [1, 2)
STEPS, BATCH, FRAMES = 3, 8, 301  # 3-s crops at a 10-ms hop (centred STFT): 48000 // 160 + 1 frames
SUMMED_TERMS = BATCH * FRAMES  # the longest float sum behind one gradient element: over the batch and frames
RELATIVE_TOLERANCE = SUMMED_TERMS * EPS  # 2.9e-4: the worst-case rounding of that sum in two orders


class SgdProbe(Trainer):
    """The trainer with plain SGD for Adam (the learning rate still set by ``optimizer_step`` from the
    schedule), recording what each step hands the optimizer: when ``optimizer_step`` returns, ``p.grad``
    holds the micro-batches' accumulated, DDP-averaged gradient (the next step zeroes it). Rank 0
    saves the initial weights, the gradients and the learning rates to ``probe.pt``. Shipped to
    the ``torchrun`` processes as source (``probe_script``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.optimizer = torch.optim.SGD(self.optimizer.param_groups[0]["params"], lr=self.cfg.optim.lr)
        self.trained = [(name, p) for name, p in self.objective.named_parameters() if p.requires_grad]
        self.record = {
            "initial": {name: p.detach().clone() for name, p in self.trained},
            "grads": [],
            "lrs": [],
        }

    def optimizer_step(self, micro_batches):
        result = super().optimizer_step(micro_batches)
        self.record["grads"].append({name: p.grad.detach().clone() for name, p in self.trained})
        self.record["lrs"].append(self.optimizer.param_groups[0]["lr"])
        return result

    def run(self, resume: bool = False) -> dict:
        result = super().run(resume)
        if self.world.is_main:
            torch.save(self.record, self.exp / "probe.pt")
        return result


def probe_script(path) -> str:
    """`mirnet train` with ``SgdProbe`` in place of the trainer, as a script for torchrun."""
    path.write_text(
        "import sys\nimport torch\nfrom mirnet import cli\nfrom mirnet.train import trainer\n"
        "from mirnet.train.trainer import Trainer\n\n"
        + inspect.getsource(SgdProbe)
        + "\n\ntrainer.Trainer = SgdProbe\nsys.exit(cli.main())\n"
    )
    return str(path)


def equivalence_config(tiny_config, *overrides):
    """3 steps of 8 mixtures, no clipping; only BatchNorm-free parts (encoder, attention,
    classifier) train."""
    return tiny_config(
        f"data.epoch_size={STEPS * BATCH}",
        f"data.batch_size={BATCH}",
        "train.epochs=1",
        "train.freeze=[speaker_net]",
        "optim.grad_clip=1e9",
        *overrides,
        model=NORM_FREE,
    )


def trained_weights(exp) -> dict[str, torch.Tensor]:
    """The saved model's and classifier's trained weights, named as in ``Objective``."""
    bundle = load_file(exp / MODEL_FILE)
    weights = {f"model.{k}": v for k, v in bundle["state_dict"].items()}
    weights.update({f"loss.classifier.{k}": v for k, v in bundle["classifier"]["state_dict"].items()})
    return {k: v.double() for k, v in weights.items() if not k.startswith("model.speaker_net.")}


def training_differences(reference, run) -> dict[str, float]:
    """How far ``run`` trained from ``reference`` (the one process with the whole batch), each
    figure the largest over the trained tensors: per step, the gradients' difference relative to
    the reference's (L2 norms); after the steps, the weights' difference relative to its bound,
    RELATIVE_TOLERANCE * sum(lr * |gradient|) (the gradients' allowed difference, applied) +
    STEPS * EPS * |weight| (each step's addition to the weights rounds by up to EPS/2 of them, in
    either run); and the largest absolute difference of any weight."""
    a, b = torch.load(reference / "probe.pt"), torch.load(run / "probe.pt")
    assert len(a["grads"]) == len(b["grads"]) == STEPS and a["lrs"] == b["lrs"]
    initial = a["initial"]
    assert b["initial"].keys() == initial.keys() and all(
        torch.equal(b["initial"][k], initial[k]) for k in initial
    )
    grads_a, grads_b = ([{k: g.double() for k, g in step.items()} for step in r["grads"]] for r in (a, b))
    differences = {
        f"gradient, step {i + 1}": max(((y[k] - x[k]).norm() / x[k].norm()).item() for k in x)
        for i, (x, y) in enumerate(zip(grads_a, grads_b))
    }
    final_a, final_b = trained_weights(reference), trained_weights(run)
    assert final_a.keys() == final_b.keys() == initial.keys()
    bound = {
        k: RELATIVE_TOLERANCE * sum(lr * g[k].norm() for lr, g in zip(a["lrs"], grads_a))
        + STEPS * EPS * final_a[k].norm()
        for k in final_a
    }
    differences[f"weights after {STEPS} steps / bound"] = max(
        ((final_b[k] - final_a[k]).norm() / bound[k]).item() for k in final_a
    )
    differences["weights, max abs"] = max((final_b[k] - final_a[k]).abs().max().item() for k in final_a)
    return differences


def assert_same_training(reference, run) -> None:
    d = training_differences(reference, run)
    report = (
        ", ".join(f"{k}: {v:.2g}" for k, v in d.items()) + f" (gradient tolerance {RELATIVE_TOLERANCE:.2g})"
    )
    print(report)
    worst_gradient = max(v for k, v in d.items() if k.startswith("gradient"))
    assert worst_gradient <= RELATIVE_TOLERANCE and d[f"weights after {STEPS} steps / bound"] <= 1, report


def rows(path) -> list[dict]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_two_torchrun_processes_train_like_one_process_with_the_whole_batch(tiny_config, tmp_path):
    # data.batch_size=8 is the global batch: 2 ranks x 2 accumulated micro-batches of 2 mixtures
    SgdProbe(equivalence_config(tiny_config), tmp_path / "one", progress=silent).run()

    config = save_config(equivalence_config(tiny_config, "train.accumulate=2"), tmp_path / "ddp.yaml")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        probe_script(tmp_path / "probe_train.py"),
        "-q",
        "train",
        str(config),
        str(tmp_path / "two"),
    ]
    done = subprocess.run(
        command, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300
    )
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
    SgdProbe(equivalence_config(tiny_config), tmp_path / "whole", progress=silent).run()
    SgdProbe(equivalence_config(tiny_config, "train.accumulate=4"), tmp_path / "micro", progress=silent).run()
    assert_same_training(tmp_path / "whole", tmp_path / "micro")


def test_bf16_autocast_trains_a_step_on_cpu(tiny_config, tmp_path):
    trainer = Trainer(
        tiny_config("train.precision=bf16", "train.epochs=1"), tmp_path / "bf16", progress=silent
    )
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    seen = set()  # the dtypes the matrix products of the training steps computed in
    layers = [
        m
        for m in trainer.model.modules()
        if isinstance(m, (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d))
    ]
    hooks = [m.register_forward_hook(lambda m, i, out: seen.add(out.dtype)) for m in layers]
    result = trainer.run()
    for h in hooks:
        h.remove()
    assert torch.bfloat16 in seen  # autocast ran: not an fp32 run under a bf16 label
    assert all(math.isfinite(result[k]) for k in ("train_loss", "val_loss"))
    after = trainer.model.state_dict()
    assert all(v.dtype == before[k].dtype and torch.isfinite(v.float()).all() for k, v in after.items())
    assert any(not torch.equal(v, before[k]) for k, v in after.items())


def test_fp16_needs_cuda(tiny_config, tmp_path):
    with pytest.raises(ConfigError, match="train.precision=fp16 needs CUDA"):
        Trainer(tiny_config("train.precision=fp16", "train.device=cpu"), tmp_path / "x", progress=silent)


def test_ranks_draw_disjoint_shares_that_make_up_the_single_process_batches():
    batches = BatchSampler(SequentialSampler(range(22)), 8, drop_last=False)
    shares = [list(RankShare(batches, rank, 2, micro=2)) for rank in range(2)]
    assert shares[0][:2] == [[0, 1], [2, 3]] and shares[1][:2] == [[4, 5], [6, 7]]
    for i, batch in enumerate(batches):  # each global batch: rank 0's micro-batches, then rank 1's
        per_rank = [sum(share[2 * i : 2 * i + 2], []) for share in shares]
        assert per_rank[0] + per_rank[1] == batch
    assert shares[1][-1] == [20, 21]  # the short last batch: rank 1 takes the remainder


def test_batch_must_split_over_ranks_and_micro_batches():
    world = World(rank=0, local_rank=0, size=3, device=CPU)
    assert world.micro_batch(12, 2) == 2
    with pytest.raises(
        ConfigError, match=r"data.batch_size=8 .* 3 process\(es\) x train.accumulate=2; .* of 6"
    ):
        world.micro_batch(8, 2)


def test_sync_batchnorm_on_cpu_is_a_clear_config_error():
    world = World(rank=0, local_rank=0, size=2, device=CPU)
    with_bn = build_model("mirnet", **TINY_MODEL)
    with pytest.raises(ConfigError, match="train.sync_batchnorm=false"):
        world.sync_batchnorm(with_bn)
