"""Where an embedder's time goes: CPU ms per 3-s mixture in each part of the model (STFT
features, encoder, attention, speaker network) and in the heaviest operators, on one thread at
batch 1, through the path ``mirnet.load(EXP).embed`` runs, for each precision this CPU offers.

    python benchmarks/profile_embedder.py models/mirnet --data data/corpus/unseen [--mixtures 16] [--rounds 5]

Every thread pool is pinned to one thread before torch loads (OpenBLAS, OpenMP, MKL), so idle
pool threads cannot spin between calls and count as CPU time. A part's time is the CPU time of
the calling thread between its module's forward pre- and post-hook (``time.thread_time``), summed
over the mixtures and divided by their number; "rest" is the whole call less its parts (reshapes
between them, autocast casts). Beside each part: the GFLOP it computes (torch's FlopCounterMode)
and the rate it ran at. The operator table is torch.profiler's self CPU time over the same calls.
"""

from __future__ import annotations

import os

for _pool in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_pool] = "1"

import argparse  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402

import torch  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import mirnet  # noqa: E402
from _timing import add_common_args, conditions, real_mixtures, table, write_results  # noqa: E402


def part_times(model: mirnet.Embedder, mixtures: torch.Tensor, rounds: int) -> dict[str, float]:
    """CPU ms per mixture of each top-level part of the inference copy, and of the whole call,
    over ``rounds`` passes over ``mixtures`` one at a time (the first pass is a warm-up)."""
    spent: dict[str, float] = defaultdict(float)
    started: dict[str, float] = {}
    hooks = []
    for name, part in model._fast.named_children():
        hooks.append(
            part.register_forward_pre_hook(lambda m, a, n=name: started.__setitem__(n, time.thread_time()))
        )
        hooks.append(
            part.register_forward_hook(
                lambda m, a, o, n=name: spent.__setitem__(n, spent[n] + time.thread_time() - started[n])
            )
        )
    try:
        for r in range(rounds + 1):
            if r == 1:
                spent.clear()
            for wav in mixtures:
                start = time.thread_time()
                model.embed_batch(wav[None])
                spent["whole call"] += time.thread_time() - start
    finally:
        for h in hooks:
            h.remove()
    per = {name: 1000 * t / (rounds * len(mixtures)) for name, t in spent.items()}
    per["rest"] = per["whole call"] - sum(v for k, v in per.items() if k != "whole call")
    return per


def part_flops(model: mirnet.Embedder, wav: torch.Tensor) -> dict[str, float]:
    """GFLOP (2 x multiply-adds) of one fp32 call on ``wav`` (1, samples), per top-level part and
    in all, counted by torch's FlopCounterMode (which cannot count under autocast): what each
    part's time is spent computing."""
    with FlopCounterMode(display=False) as counter:
        model.embed_batch(wav)
    counts = {name: sum(ops.values()) / 1e9 for name, ops in counter.get_flop_counts().items()}
    root = type(model._fast).__name__
    out = {name: counts.get(f"{root}.{name}", 0.0) for name, _ in model._fast.named_children()}
    out["whole call"] = counts.get("Global", 0.0)
    out["rest"] = out["whole call"] - sum(v for k, v in out.items() if k != "whole call")
    return out


def operator_times(model: mirnet.Embedder, mixtures: torch.Tensor, top: int) -> list[dict]:
    """The ``top`` operators by self CPU time, per mixture, from torch.profiler."""
    model.embed_batch(mixtures[:1])  # warm-up outside the profile
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        for wav in mixtures:
            model.embed_batch(wav[None])
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    return [
        {
            "operator": e.key,
            "calls_per_mixture": e.count / len(mixtures),
            "self_cpu_ms_per_mixture": e.self_cpu_time_total / 1000 / len(mixtures),
            "share_%": 100 * e.self_cpu_time_total / total,
        }
        for e in events[:top]
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exp", help="an embedder (experiment dir or model file)")
    p.add_argument("--data", required=True, help="corpus the mixtures are drawn from")
    p.add_argument("--mixtures", type=int, default=16)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--top", type=int, default=12, help="operators listed")
    p.add_argument(
        "--precisions",
        nargs="+",
        choices=("fp32", "bf16"),
        default=["fp32", "bf16"],
        help="bf16 pays where the CPU has AMX or AVX512-BF16 and is emulated (slow) elsewhere",
    )
    add_common_args(p, "profile_embedder")
    a = p.parse_args()
    torch.set_num_threads(1)
    start = conditions()
    mixtures = real_mixtures(a.data, a.mixtures)
    parts, ops = [], {}
    flops = part_flops(mirnet.load(a.exp, "fp32"), mixtures[:1])  # the same work at either precision
    for precision in a.precisions:
        model = mirnet.load(a.exp, precision)
        per = part_times(model, mixtures, a.rounds)
        whole = per["whole call"]
        parts += [
            {
                "precision": precision,
                "part": name,
                "cpu_ms_per_mixture": ms,
                "share_%": 100 * ms / whole,
                "gflop": flops[name],
                "gflop_per_s": flops[name] / ms * 1000 if ms > 0 else 0.0,
            }
            for name, ms in per.items()
        ]
        ops[precision] = operator_times(model, mixtures, a.top)
    print(table(parts, ["precision", "part", "cpu_ms_per_mixture", "share_%", "gflop", "gflop_per_s"]))
    for precision, rows in ops.items():
        print(f"\nheaviest operators, {precision}:")
        print(table(rows, ["operator", "calls_per_mixture", "self_cpu_ms_per_mixture", "share_%"]))
    write_results(a, "profile_embedder", start, threads=1, parts=parts, operators=ops)


if __name__ == "__main__":
    main()
