"""Separation speed: CPU ms per 3-s mixture for the compact separators on one thread, beside
the compact embedder (two embeddings per mixture) in the same interleaved rounds, then a
10-minute recording separated in chunks with its wall time and the process's peak memory.

    python benchmarks/separation_speed.py [--upit models/separators/upit] [--rounds 8] [--long-minutes 10]

Every thread pool is pinned to one thread before torch loads (OpenBLAS's idle threads spin
between calls and would count as process CPU time). Without --upit / --voicefilter the configs'
models are timed randomly initialised, which costs what a trained one costs. The VoiceFilter row
includes its conditioner: the compact MIRNet's identities of the mixture, then one pass each.
Target: compact separator <= 100 ms of CPU per 3-s mixture on one core.
"""

from __future__ import annotations

import os

for _pool in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_pool] = "1"

import argparse
import resource
import time

import torch

import mirnet
from _timing import (
    REPO,
    add_common_args,
    conditions,
    config_model,
    interleaved,
    real_mixtures,
    table,
    write_json,
)
from mirnet.api import Separator
from mirnet.checkpoint import conditioner_spec, model_bundle

SECONDS, TARGET_MS = 3.0, 100.0


def _separator(path: str | None, config: str, conditioner: str | None) -> Separator:
    if path:
        return mirnet.load_separator(path)
    _, model = config_model(REPO / "configs" / config)
    bundle = model_bundle(model, [], conditioner=conditioner_spec(conditioner) if conditioner else None)
    return Separator(model, bundle, config)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upit", help="a trained uPIT separator (default: configs/separator_upit_compact.yaml)")
    p.add_argument(
        "--tcn", help="a trained convolutional uPIT separator (default: configs/separator_tcn_compact.yaml)"
    )
    p.add_argument("--voicefilter", help="a trained VoiceFilter (default: configs/voicefilter_compact.yaml)")
    p.add_argument("--embedder", default=str(REPO / "models" / "mirnet"))
    p.add_argument(
        "--composed",
        help="a separating embedder (mirnet compose SEP EMB) timed beside the rest (default: none)",
    )
    p.add_argument("--data", default=str(REPO / "data" / "corpus" / "unseen"))
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--long-minutes", type=float, default=10.0, help="0: skip the long recording")
    add_common_args(p, "separation_speed")
    a = p.parse_args()
    torch.set_num_threads(1)
    mixtures = real_mixtures(a.data, a.rounds, SECONDS)
    upit = _separator(a.upit, "separator_upit_compact.yaml", None)
    tcn = _separator(a.tcn, "separator_tcn_compact.yaml", None)
    vf = _separator(a.voicefilter, "voicefilter_compact.yaml", a.embedder)
    embedder = mirnet.load(a.embedder)
    state = {"i": 0}

    def one(fn):
        def run():
            state["i"] = (state["i"] + 1) % len(mixtures)
            return fn(mixtures[state["i"]][None])

        return run

    def bf16(fn):
        def run(x):
            with torch.autocast("cpu", torch.bfloat16):
                return fn(x)

        return run

    fns = {
        "embedder (2 embeddings)": one(embedder.embed_batch),
        "uPIT separator": one(upit.separate_batch),
        "uPIT separator, bf16": one(bf16(upit.separate_batch)),
        "uPIT separator, convolutional (TCN)": one(tcn.separate_batch),
        "VoiceFilter + MIRNet identities": one(vf.separate_batch),
    }
    if a.composed:
        fns["separate, then embed each stream (2 embeddings)"] = one(mirnet.load(a.composed).embed_batch)
    timed = interleaved(fns, a.rounds)
    rows = [
        {
            "system": name,
            "cpu_ms_per_mixture": t["cpu_ms"],
            "wall_ms": t["median_ms"],
            "x_real_time": SECONDS * 1000 / t["median_ms"],
            "ratio_to_embedder": t["ratio"],
        }
        for name, t in timed.items()
    ]
    print(table(rows, ["system", "cpu_ms_per_mixture", "wall_ms", "x_real_time", "ratio_to_embedder"]))
    best = min(r["cpu_ms_per_mixture"] for r in rows if r["system"].startswith("uPIT"))
    print(
        f"target uPIT <= {TARGET_MS:.0f} ms CPU per 3-s mixture on one core: {best:.1f} ms "
        f"({'met' if best <= TARGET_MS else 'not met'})"
    )
    out = {
        "conditions": conditions(),
        "threads": 1,
        "seconds": SECONDS,
        "rows": rows,
        "upit_best_cpu_ms": best,
        "target_met": best <= TARGET_MS,
    }
    if a.long_minutes:
        samples = round(a.long_minutes * 60 * 16000)
        long = mixtures.flatten().repeat(samples // mixtures.numel() + 1)[:samples]
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        start = time.perf_counter()
        est = upit.separate(long)
        wall = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["long"] = {
            "minutes": a.long_minutes,
            "wall_s": wall,
            "x_real_time": a.long_minutes * 60 / wall,
            "peak_rss_mb_before": before,
            "peak_rss_mb": peak,
            "output_mb": est.numel() * 4 / 2**20,
        }
        print(
            f"{a.long_minutes:g}-minute recording, uPIT in {upit.chunk / 16000:g}-s chunks: {wall:.1f} s "
            f"({out['long']['x_real_time']:.0f}x real time), peak RSS {peak:.0f} MB ({before:.0f} MB before; "
            f"the (2, samples) output alone is {out['long']['output_mb']:.0f} MB)"
        )
    write_json(a.json, out)


if __name__ == "__main__":
    main()
