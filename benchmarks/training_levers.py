"""Training speed levers, each timed against the plain step in the same interleaved rounds: bf16
autocast, and Adam's fused and foreach implementations, on the compact recipe's optimizer step
(forward, loss with the teacher's distillation, backward, clipping, Adam) through
``Trainer.optimizer_step``.

    python benchmarks/training_levers.py --data data/corpus/seen [--rounds 6] [--batch 32] [--keep-freed-memory]

Every thread pool is pinned to one thread before torch loads, so CPU time is the step's own.
Each variant is its own Trainer (same seed, same initial weights) and takes the very same
batches, drawn once; the figure that survives a shared machine is the median over rounds of
each variant's time over the plain step's in the same round. Channels-last is not a lever here:
the compact model's convolutions are 1-D, and its tensors have no 4-D layout to change.
"""

from __future__ import annotations

import os

for _pool in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_pool] = "1"

import argparse  # noqa: E402
import itertools  # noqa: E402
import tempfile  # noqa: E402

import torch  # noqa: E402

from _timing import REPO, add_common_args, conditions, interleaved, keep_freed_memory, table, write_results  # noqa: E402
from mirnet.train.build import set_train_mode  # noqa: E402
from mirnet.train.experiment import load_experiment  # noqa: E402
from mirnet.train.trainer import Trainer  # noqa: E402

# name -> (train.precision, Adam implementation: None = torch's default on CPU, the for-loop)
VARIANTS = {
    "plain: fp32, Adam for-loop": ("fp32", None),
    "bf16 autocast": ("bf16", None),
    "fp32, Adam foreach": ("fp32", "foreach"),
    "fp32, Adam fused": ("fp32", "fused"),
    "bf16 autocast + Adam fused": ("bf16", "fused"),
}


def trainer(overrides: list[str], precision: str, adam: str | None, exp: str) -> Trainer:
    torch.manual_seed(0)
    t = Trainer(
        load_experiment(
            REPO / "configs" / "mirnet_compact.yaml", [*overrides, f"train.precision={precision}"]
        ),
        exp,
        progress=False,
    )
    set_train_mode(t.model, t.frozen)
    if adam is not None:
        group = t.optimizer.param_groups[0]
        t.optimizer = torch.optim.Adam(
            group["params"], lr=group["lr"], weight_decay=group["weight_decay"], **{adam: True}
        )
    return t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO / "data" / "corpus" / "seen"))
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--teacher", default=str(REPO / "models" / "mirnet" / "teacher"))
    p.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="glibc's thresholds as every mirnet command sets them (benchmarks/allocator.py); "
        "process-wide, so compare against a run without it",
    )
    add_common_args(p, "training_levers")
    a = p.parse_args()
    if a.keep_freed_memory:
        keep_freed_memory()
    overrides = [
        f"data.train={a.data}",
        "train.threads=1",
        "data.workers=0",
        f"data.batch_size={a.batch}",
        f"train.teacher={a.teacher}",
    ]
    start = conditions()
    with tempfile.TemporaryDirectory() as tmp:
        trainers = {
            name: trainer(overrides, precision, adam, f"{tmp}/{i}")
            for i, (name, (precision, adam)) in enumerate(VARIANTS.items())
        }
        first = next(iter(trainers.values()))
        batches = list(itertools.islice(first.loader(first.train_data, True), a.rounds + 1))
        cursor = dict.fromkeys(trainers, 0)

        def step(name: str):
            def run():
                trainers[name].optimizer_step((batches[cursor[name] % len(batches)],))
                cursor[name] += 1

            return run

        times = interleaved({name: step(name) for name in trainers}, a.rounds)
    rows = [
        {
            "variant": name,
            "cpu_s_per_step": t["cpu_ms"] / 1000,
            "samples_per_cpu_s": a.batch / (t["cpu_ms"] / 1000),
            "speed_up_vs_plain": 1 / t["ratio"],
        }
        for name, t in times.items()
    ]
    print(table(rows, ["variant", "cpu_s_per_step", "samples_per_cpu_s", "speed_up_vs_plain"]))
    write_results(a, "training_levers", start, rows=rows)


if __name__ == "__main__":
    main()
