"""How far a model's log-domain masks are from separating: the mask MSE of `MixtureLoss`
(PIT over the streams) on one batch of training mixtures, beside what zero masks, the same
average mask on every stream, and the true masks (0) score. A model whose MSE stays near the
average-mask line has not broken the streams' symmetry: it is not separating.

    python benchmarks/separation_targets.py runs/exp/sep3/epochs/epoch006.pt [more models] --data data/corpus/seen
"""

from __future__ import annotations

import argparse

import torch

from mirnet.checkpoint import load_model
from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig, MixtureDataset
from mirnet.features import LogMagnitudeSpectrum
from mirnet.losses.mixture import pairwise_mse
from mirnet.losses.pit import pit_reduce


def pit_mse(estimates: torch.Tensor, targets: torch.Tensor) -> float:
    return pit_reduce(pairwise_mse(estimates, targets))[0].mean().item()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "models", nargs="*", help="MIRNet experiments or model files with attention output: residual"
    )
    p.add_argument("--data", required=True, help="corpus of the training speakers")
    p.add_argument("--mixtures", type=int, default=32)
    p.add_argument("--floor-db", type=float, default=30.0, help="loss.mask_floor_db")
    p.add_argument("--speed-perturb", type=float, nargs="*", default=[0.9, 1.0, 1.1])
    p.add_argument("--seed", type=int, default=5)
    a = p.parse_args()
    torch.set_num_threads(1)
    manifest = open_corpus(a.data)
    cfg = MixingConfig(speed_perturb=tuple(a.speed_perturb) or (1.0,))
    data = MixtureDataset(manifest, cfg, a.mixtures, seed=a.seed)
    batch = [data[i] for i in range(a.mixtures)]
    mixtures = torch.stack([b["mixture"] for b in batch]).float()
    sources = torch.stack([b["sources"] for b in batch]).float()
    targets = LogMagnitudeSpectrum().log_ratio_masks(sources, a.floor_db)
    rows = [
        ("zero masks", pit_mse(torch.zeros_like(targets), targets)),
        (
            "one average mask on every stream",
            pit_mse(targets.mean(1, keepdim=True).expand_as(targets), targets),
        ),
        ("true masks", 0.0),
    ]
    for path in a.models:
        model = load_model(path)[0].eval()
        with torch.no_grad():
            out = model(mixtures)
        if out.masks is None:
            raise SystemExit(f"{path}: this model has no log-domain masks (attention output is not residual)")
        rows.append((path, pit_mse(out.masks, targets)))
    print(f"mask MSE on {a.mixtures} training mixtures of {a.data} (clipped at -{a.floor_db:g} dB)")
    for name, value in rows:
        print(f"  {value:7.3f}  {name}")


if __name__ == "__main__":
    main()
