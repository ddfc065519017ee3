"""Kept freed memory (``mirnet.allocator``, which every ``mirnet`` command turns on) against
glibc's defaults, on the work the project spends its CPU on.

    python benchmarks/allocator.py [--rounds 4] [--steps 4] [--workloads pair upit_step ...]

The setting is process-wide, so each (workload, setting) runs in a fresh child process; the two
settings alternate within each round, and the ratio is taken round by round. Every pool is pinned
to one thread. A child warms its workload up, then times ``--steps`` calls: process CPU time,
split into user and kernel time, page faults, and the child's peak RSS. Values are not compared:
the allocator moves bytes, not numbers.
"""

from __future__ import annotations

import os

for _pool in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_pool] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

from _timing import REPO, add_common_args, conditions, keep_freed_memory, table, write_results  # noqa: E402


def _embed(model: str):
    def build(data: str):
        import mirnet
        from _timing import real_mixtures

        embedder, wavs = mirnet.load(REPO / "models" / model, "fp32"), real_mixtures(data, 32)
        return lambda: embedder.embed_batch(wavs)

    return build


def _step(config: str, overrides: list[str]):
    def build(data: str):
        import itertools

        import torch

        from mirnet.train.build import set_train_mode
        from mirnet.train.experiment import load_experiment
        from mirnet.train.trainer import Trainer

        torch.manual_seed(0)
        cfg = load_experiment(
            REPO / "configs" / config,
            [f"data.train={data}", "train.threads=1", "data.workers=0", "train.precision=fp32", *overrides],
        )
        t = Trainer(cfg, tempfile.mkdtemp(), progress=False)
        set_train_mode(t.model, t.frozen)
        batches = itertools.cycle(list(itertools.islice(t.loader(t.train_data, True), 2)))
        return lambda: t.optimizer_step((next(batches),))

    return build


# name -> (what it is, a builder of its call from the corpus, whether it runs under inference_mode)
WORKLOADS = {
    "pair": ("32 mixtures embedded by the pair (models/reference)", _embed("reference"), True),
    "mirnet": ("32 mixtures embedded by compact MIRNet", _embed("mirnet"), True),
    "upit_step": (
        "uPIT training step, 8 mixtures of 3 s",
        _step("separator_upit_compact.yaml", []),
        False,
    ),
    "mirnet_step": (
        "compact MIRNet training step, 32 mixtures, with the teacher",
        _step("mirnet_compact.yaml", [f"train.teacher={REPO / 'models' / 'mirnet' / 'teacher'}"]),
        False,
    ),
}
COLUMNS = ["workload", "malloc", "cpu_s", "user_s", "sys_s", "faults", "peak_rss_mb", "speed_up"]


def child(workload: str, keep: bool, data: str, steps: int) -> None:
    if keep:
        keep_freed_memory()
    import torch

    what, build, inference = WORKLOADS[workload]
    fn = build(data)
    torch.set_num_threads(1)
    with torch.inference_mode(inference):
        for _ in range(2):
            fn()
        before = resource.getrusage(resource.RUSAGE_SELF)
        for _ in range(steps):
            fn()
        after = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "what": what,
                "user_s": (after.ru_utime - before.ru_utime) / steps,
                "sys_s": (after.ru_stime - before.ru_stime) / steps,
                "faults": (after.ru_minflt - before.ru_minflt) / steps,
                "peak_rss_mb": after.ru_maxrss / 1024,
            }
        )
    )


def run(workload: str, keep: bool, a) -> dict:
    argv = [sys.executable, __file__, "--child", workload, "--data", a.data, "--steps", str(a.steps)]
    out = subprocess.run(argv + (["--keep"] if keep else []), capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO / "data" / "corpus" / "unseen"))
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--steps", type=int, default=4, help="timed calls per child")
    p.add_argument("--workloads", nargs="+", choices=list(WORKLOADS), default=list(WORKLOADS))
    p.add_argument("--child", choices=list(WORKLOADS), help=argparse.SUPPRESS)
    p.add_argument("--keep", action="store_true", help=argparse.SUPPRESS)
    add_common_args(p, "allocator")
    a = p.parse_args()
    if a.child:
        return child(a.child, a.keep, a.data, a.steps)
    start, rows = conditions(), []
    for workload in a.workloads:
        runs: dict[bool, list[dict]] = {False: [], True: []}
        for r in range(a.rounds):
            for keep in (r % 2 == 1, r % 2 == 0):  # alternate which setting goes first
                runs[keep].append(run(workload, keep, a))
        ratio = statistics.median(
            (k["user_s"] + k["sys_s"]) / (g["user_s"] + g["sys_s"]) for g, k in zip(runs[False], runs[True])
        )
        for keep in (False, True):
            med = {
                k: statistics.median(x[k] for x in runs[keep])
                for k in ("user_s", "sys_s", "faults", "peak_rss_mb")
            }
            rows.append(
                {
                    "workload": runs[keep][0]["what"],
                    "malloc": "kept (mirnet)" if keep else "glibc default",
                    "cpu_s": med["user_s"] + med["sys_s"],
                    **med,
                    "speed_up": 1 / ratio if keep else 1.0,
                }
            )
        print(table(rows[-2:], COLUMNS))
    print()
    print(table(rows, COLUMNS))
    write_results(a, "allocator", start, rows=rows)


if __name__ == "__main__":
    main()
