"""SI-SDRi against CPU time for separator variants trained side by side: every variant takes a
step on the same batch in turn, on one thread, with bf16 autocast, and each is charged only the
CPU time of its own steps, so the curves compare designs at equal CPU-minutes. Every 100 steps
each variant is scored on fixed 0-dB, 3-s mixtures of seen and of unseen voices. A variant names
its architecture (``arch``, ``mask_separator`` unless given) and its arguments; it may also set
its own learning rate (``lr``) and train on the first ``crop`` seconds of each batch (a shorter
crop costs less per step; it is scored on the whole 3 s). Batches and test mixtures are functions
of the step and the seed alone, so variants raced in separate processes (one per core, same
options) see the very same data.

    python benchmarks/separator_race.py --corpus data/corpus --cpu-minutes 6
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from mirnet.architectures import build_model
from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig, MixtureDataset
from mirnet.losses.signal import SeparationLoss

WIDE = dict(n_fft=1024, win_ms=64.0, hop_ms=16.0)
CPLX64 = dict(mask="complex", features=WIDE)
VARIANTS = {
    "mag32": {},
    "cplx64": CPLX64,
    "mag64": dict(features=WIDE),
    "cplx64_crop1.5": dict(CPLX64, crop=1.5),
    "cplx64_lr2e-3": dict(CPLX64, lr=2e-3),
    "cplx64_3x256": dict(CPLX64, lstm_layers=3),
    # band-split dual-path (separation/band_separator.py): 15 bands of 200/500/1000 Hz
    "band15": dict(
        arch="band_separator", features=WIDE, band_widths_hz=[200.0, 500.0, 1000.0], dim=32, hidden=48
    ),
    "band30": dict(arch="band_separator", features=WIDE, dim=48, hidden=64),
    # dilated convolutions over the frames (separation/tcn_separator.py): Conv-TasNet's sizes, and smaller
    "tcn": dict(CPLX64, arch="tcn_separator"),
    "tcn_small": dict(CPLX64, arch="tcn_separator", hidden=256, blocks=6, repeats=2),
    # dual-path recurrence over chunks of 24 frames (separation/dprnn_separator.py)
    "dprnn": dict(CPLX64, arch="dprnn_separator"),
    # fewer bins: a 32-ms window at the 16-ms hop, 257 bins and the recipe's frame count
    "cplx32h16": dict(mask="complex", features=dict(n_fft=512, win_ms=32.0, hop_ms=16.0)),
}
TRAINING = ("arch", "crop", "lr")  # a variant's keys that are not the model's arguments


def mixtures(path: str, n: int, seed: int, sir_db: tuple[float, float]) -> MixtureDataset:
    manifest = open_corpus(path)
    cfg = MixingConfig(2, 3.0, sir_db, (1.0, 1.0))
    return MixtureDataset(manifest, cfg, n, seed=seed)


def stacked(data: MixtureDataset, indices) -> tuple[torch.Tensor, torch.Tensor]:
    items = [data[i] for i in indices]
    return torch.stack([x["mixture"] for x in items]), torch.stack([x["sources"] for x in items])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", default="data/corpus", help="a corpus with seen/ and unseen/")
    p.add_argument("--cpu-minutes", type=float, default=6.0, help="CPU time each variant trains for")
    p.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}"
    )
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--test-mixtures", type=int, default=32)
    p.add_argument(
        "--precision", choices=("bf16", "fp32"), default="bf16", help="fp32 where the CPU has no AMX"
    )
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    train = mixtures(f"{a.corpus}/seen", 10**7, 1, (-5.0, 5.0))
    tests = {
        name: stacked(mixtures(f"{a.corpus}/{name}", a.test_mixtures, 99, (0.0, 0.0)), range(a.test_mixtures))
        for name in ("seen", "unseen")
    }
    names = a.variants.split(",")
    if unknown := [n for n in names if n not in VARIANTS]:
        p.error(f"--variants: unknown {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    models = {
        name: build_model(
            VARIANTS[name].get("arch", "mask_separator"),
            n_outputs=2,
            **{k: v for k, v in VARIANTS[name].items() if k not in TRAINING},
        )
        for name in names
    }
    optimizers = {
        name: torch.optim.Adam(m.parameters(), VARIANTS[name].get("lr", 1e-3)) for name, m in models.items()
    }
    crops = {name: round(VARIANTS[name].get("crop", 3.0) * 16000) for name in names}
    cpu, loss_fn, step = dict.fromkeys(models, 0.0), SeparationLoss(), 0

    def score(model) -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            out = {
                name: round(float(loss_fn(model(mix), src, mix)[1]["si_sdri"]), 2)
                for name, (mix, src) in tests.items()
            }
        model.train()
        return out

    while min(cpu.values()) < a.cpu_minutes * 60:
        mix, src = stacked(train, range(step * a.batch, (step + 1) * a.batch))
        step += 1
        for name, model in models.items():
            start = time.process_time()
            n = crops[name]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16"):
                estimates = model(mix[:, :n])
            loss, _ = loss_fn(estimates, src[..., :n], mix[:, :n])
            optimizers[name].zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizers[name].step()
            cpu[name] += time.process_time() - start
        if step % 100 == 0:
            print(
                json.dumps(
                    {
                        "step": step,
                        **{
                            name: {"cpu_min": round(cpu[name] / 60, 1), **score(m)}
                            for name, m in models.items()
                        },
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
