"""Training speed: samples per second and peak memory of a few optimizer steps of the compact
and paper configurations, with the batches made beforehand (model cost alone) and, for the
compact one, drawn by the DataLoader during the steps (data loading included).

    python benchmarks/training.py --data data/corpus/seen [--threads 2] [--steps 4] [--paper-batch 2]
    python benchmarks/training.py --threads 1 2 --workers 0 1 2 --paper-steps 0   # workers against threads
    python benchmarks/training.py --config separator_upit_compact.yaml --teacher none --batch 8 ...

Each configuration runs in a fresh process, so its peak RSS (getrusage) is its own. The compact
model trains as the reference recipe does, with the clean teacher's distillation term
(``--teacher``); the paper model as configs/mirnet_paper.yaml says, at a small batch: on CPU
one step of 32 takes minutes. With several ``--threads`` and ``--workers`` the compact model
is measured at each pair: on 2 cores, torch's threads and the DataLoader's worker processes
compete for the same cores, and only samples per wall second on idle cores says which split pays.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import torch

from _timing import REPO, add_common_args, conditions, table, write_results
from mirnet.train.build import set_train_mode
from mirnet.train.experiment import load_experiment
from mirnet.train.trainer import Trainer


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _steps(trainer: Trainer, batches) -> tuple[float, float, int]:
    """(wall s, process CPU s, samples) of one optimizer step per batch: the Trainer's own step
    (schedule, autocast, clipping, logging values), as ``Trainer.run`` takes it."""
    start, start_cpu, samples = time.perf_counter(), time.process_time(), 0
    for batch in batches:
        trainer.optimizer_step((batch,))
        samples += len(batch["mixture"])
    return time.perf_counter() - start, time.process_time() - start_cpu, samples


def measure(name: str, config: str, overrides: list[str], steps: int, with_loading: bool) -> list[dict]:
    cfg = load_experiment(config, overrides)
    with tempfile.TemporaryDirectory() as exp:
        trainer = Trainer(cfg, exp, progress=False)
        set_train_mode(trainer.model, trainer.frozen)
        loader = trainer.loader(trainer.train_data, True)
        batches = list(itertools.islice(loader, steps + 1))
        rss_built = _rss_mb()
        _steps(trainer, batches[:1])  # warm-up: first-call allocations and kernel choices
        rows = [("batches made beforehand", _steps(trainer, batches[1:]))]
        if with_loading:
            rows.append(
                (
                    f"DataLoader during the steps (workers={cfg.data.workers})",
                    _steps(trainer, itertools.islice(loader, steps)),
                )
            )
    params = sum(p.numel() for p in trainer.model.parameters())
    out = []
    for data, (wall, cpu, samples) in rows:
        out.append(
            {
                "config": name,
                "precision": cfg.train.precision,
                "batch": cfg.data.batch_size,
                "threads": cfg.train.threads,
                "data": data,
                "steps": samples // cfg.data.batch_size,
                "s_per_step": wall / (samples / cfg.data.batch_size),
                "samples_per_s": samples / wall,
                "samples_per_cpu_s": samples / cpu,
                "peak_rss_mb": _rss_mb(),
                "rss_before_steps_mb": rss_built,
                "params_m": params / 1e6,
                **(
                    {"cuda_peak_mb": torch.cuda.max_memory_allocated() / 2**20}
                    if torch.cuda.is_available()
                    else {}
                ),
            }
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO / "data" / "corpus" / "seen"))
    p.add_argument("--threads", type=int, nargs="+", default=[2])
    p.add_argument("--workers", type=int, nargs="+", default=[1], help="DataLoader worker processes")
    p.add_argument(
        "--precisions", nargs="+", choices=("fp32", "bf16"), default=["fp32"], help="train.precision"
    )
    p.add_argument(
        "--steps", type=int, default=4, help="timed steps of the compact model (after one warm-up)"
    )
    p.add_argument("--paper-steps", type=int, default=2)
    p.add_argument("--batch", type=int, default=32, help="compact batch (its config's)")
    p.add_argument(
        "--config",
        default="mirnet_compact.yaml",
        help="the compact run's config in configs/ (with --teacher none for a separator)",
    )
    p.add_argument("--paper-batch", type=int, default=2)
    p.add_argument(
        "--teacher",
        default=str(REPO / "models" / "mirnet" / "teacher"),
        help="clean teacher of the compact recipe; 'none' to train without one",
    )
    add_common_args(p, "training")
    a = p.parse_args()
    teacher = [] if a.teacher == "none" else [f"train.teacher={a.teacher}"]
    runs = [
        (
            Path(a.config).stem,
            str(REPO / "configs" / a.config),
            [f"data.train={a.data}", f"train.threads={t}", f"data.workers={w}", *teacher]
            + [f"data.batch_size={a.batch}", f"train.precision={precision}"],
            a.steps,
            True,
        )
        for precision in a.precisions
        for t in a.threads
        for w in a.workers
    ]
    if a.paper_steps:
        runs.append(
            (
                "paper",
                str(REPO / "configs" / "mirnet_paper.yaml"),
                [f"data.train={a.data}", f"train.threads={a.threads[0]}", "data.workers=1"]
                + [f"data.batch_size={a.paper_batch}"],
                a.paper_steps,
                False,
            )
        )
    start = conditions()
    rows = []
    for run in runs:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:  # its own peak RSS
            rows += pool.submit(measure, *run).result()
        print(f"{run[0]} measured", flush=True)
    print(
        table(
            rows,
            [
                "config",
                "precision",
                "batch",
                "threads",
                "data",
                "steps",
                "s_per_step",
                "samples_per_s",
                "samples_per_cpu_s",
                "peak_rss_mb",
                "rss_before_steps_mb",
                "params_m",
            ],
        )
    )
    write_results(a, "training", start, rows=rows)


if __name__ == "__main__":
    main()
