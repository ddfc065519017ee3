"""The paper model's cost under each ResNet-18 stem the paper leaves open (``speaker_net.stem``):
GFLOP and time per 3-s mixture, batch 1, through ``mirnet.api.Embedder`` (folded BatchNorm,
channels-last), in fp32 and bf16, on 1 and 2 threads; the stems interleaved in the same rounds.

    python benchmarks/paper_stem.py [--rounds 3] [--threads 1 2] [--precisions fp32 bf16]

The models are randomly initialised: the cost is the architecture's, whatever its weights. What
a stem does to the EER needs the paper's recipe trained on a GPU, which this does not measure.
"""

from __future__ import annotations

import argparse

import torch
from torch.utils.flop_counter import FlopCounterMode

from _timing import (
    REPO,
    add_common_args,
    conditions,
    config_model,
    interleaved,
    real_mixtures,
    table,
    write_results,
)
from mirnet.api import Embedder
from mirnet.models.speaker_nets import STEMS

SECONDS = 3.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO / "data" / "corpus" / "unseen"))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--precisions", nargs="+", choices=("fp32", "bf16"), default=["fp32", "bf16"])
    add_common_args(p, "paper_stem")
    a = p.parse_args()
    start, clip = conditions(), real_mixtures(a.data, 1)
    config = REPO / "configs" / "mirnet_paper.yaml"
    models = {
        stem: config_model(config, 0, [f"model.args.speaker_net.stem={stem}"])[1].eval() for stem in STEMS
    }
    gflop = {}
    for stem, model in models.items():
        with FlopCounterMode(display=False) as counter, torch.inference_mode():
            model(clip)
        gflop[stem] = counter.get_total_flops() / 1e9
    rows = []
    for precision in a.precisions:
        embed = {stem: Embedder(m, {}, precision=precision).embed_batch for stem, m in models.items()}
        for threads in a.threads:
            torch.set_num_threads(threads)
            timed = interleaved({stem: (lambda f=f: f(clip)) for stem, f in embed.items()}, a.rounds)
            rows += [
                {
                    "stem": stem,
                    "precision": precision,
                    "threads": threads,
                    "gflop": gflop[stem],
                    "wall_ms": t["median_ms"],
                    "cpu_ms": t["cpu_ms"],
                    "x_real_time": SECONDS * 1000 / t["median_ms"],
                    "time_vs_3x3": t["ratio"],
                }
                for stem, t in timed.items()
            ]
            print(f"{precision}, {threads} threads measured", flush=True)
    print(
        table(
            rows, ["stem", "precision", "threads", "gflop", "wall_ms", "cpu_ms", "x_real_time", "time_vs_3x3"]
        )
    )
    write_results(a, "paper_stem", start, rows=rows)


if __name__ == "__main__":
    main()
