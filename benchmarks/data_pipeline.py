"""Data pipeline: mixtures per second per worker for 3-s two-speaker crops, end to end (as a
DataLoader worker makes them) with and without speed perturbation, and each stage on its own
(draw, FLAC read, speed perturbation, mix, STFT features) so the bottleneck is visible.

    python benchmarks/data_pipeline.py --data data/corpus/seen [--cache DIR] [--mixtures 200] [--rounds 5]

With ``--cache`` (``mirnet corpus cache``), the end-to-end and read stages are timed again
reading from the decoded-audio cache, in the same rounds, and the cached mixtures are checked
bit-identical to the files' first.

One thread, as a worker runs. "per core" figures divide by process CPU time, which counts only
the time this process ran: on a machine shared with other jobs they stay near what an idle core
gives, while the wall-clock rate shows what this worker got.
"""

from __future__ import annotations

import argparse
from unittest import mock

import numpy as np
import torch
from scipy.signal import resample_poly

from _timing import REPO, add_common_args, conditions, interleaved, table, write_results
from mirnet.corpus import open_corpus
from mirnet.corpus.audio_cache import AudioCache
from mirnet.data import mixing
from mirnet.data.mixing import (
    MixingConfig,
    MixtureDataset,
    mix,
    read_crop,
    read_file,
    read_sources,
    speed_perturb,
)
from mirnet.features import LogMagnitudeSpectrum

SPEEDS = (0.9, 1.0, 1.1)  # configs/mirnet_compact.yaml


def _designing_resample(wav: np.ndarray, up: int, down: int) -> np.ndarray:
    """The resampling before the filter cache: scipy designs the filter on every call."""
    return resample_poly(wav, up, down).astype(np.float32)


def dataset(manifest, speeds: tuple[float, ...], size: int, read=read_file) -> MixtureDataset:
    cfg = MixingConfig(2, 3.0, speed_perturb=speeds)
    return MixtureDataset(manifest, cfg, size, seed=0, read=read)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(REPO / "data" / "corpus" / "seen"), help="corpus to mix")
    p.add_argument("--mixtures", type=int, default=200, help="mixtures per timed call")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument(
        "--stft-batch", type=int, default=32, help="the STFT runs in the model, on training batches"
    )
    p.add_argument(
        "--cache", help="a decoded-audio cache of --data (mirnet corpus cache): timed beside the files"
    )
    add_common_args(p, "data_pipeline")
    a = p.parse_args()
    torch.set_num_threads(1)
    start = conditions()
    manifest = open_corpus(a.data)
    index, n = manifest.index, a.mixtures
    plain, perturbed = dataset(manifest, (1.0,), n), dataset(manifest, SPEEDS, n)
    specs = [perturbed.spec(i) for i in range(n)]
    active = [s.samples - s.starts[-1] for s in specs]
    # every source read at the length its speed needs, for the resampling stage on its own
    decoded = [
        [read_crop(index[u], o, round(act * sp) + 1) for u, o, sp in zip(s.utterances, s.offsets, s.speeds)]
        for s, act in zip(specs, active)
    ]
    sources = [read_sources(s, index) for s in specs]
    mixtures = torch.from_numpy(np.stack([mix(s)[0] for s in sources]))
    features = LogMagnitudeSpectrum()

    def resample_all():
        return [speed_perturb(w, sp) for s, ws in zip(specs, decoded) for w, sp in zip(ws, s.speeds)]

    def resample_all_designing():
        with mock.patch.object(mixing, "resample", _designing_resample):
            return resample_all()

    def perturbed_designing():
        with mock.patch.object(mixing, "resample", _designing_resample):
            return [perturbed[i] for i in range(n)]

    stages = {
        "end to end, no speed perturbation": lambda: [plain[i] for i in range(n)],
        "end to end, speed perturbation 0.9/1.0/1.1": lambda: [perturbed[i] for i in range(n)],
        "end to end, speed perturbation, filter designed per call (before)": perturbed_designing,
        "draw (which speakers, crops, levels)": lambda: [perturbed.spec(i) for i in range(n)],
        "read: FLAC decode + checks of both 3-s crops": lambda: [
            read_crop(index[u], o, act)
            for s, act in zip(specs, active)
            for u, o in zip(s.utterances, s.offsets)
        ],
        "speed perturbation (resample, cached filter)": resample_all,
        "speed perturbation, filter designed per call (before)": resample_all_designing,
        "mix (sum + peak scale)": lambda: [mix(s) for s in sources],
        f"STFT features (batches of {a.stft_batch})": lambda: [
            features(mixtures[i : i + a.stft_batch]) for i in range(0, n, a.stft_batch)
        ],
    }
    if a.cache:
        read = AudioCache.open(a.cache, manifest).read
        cached_plain, cached_perturbed = (
            dataset(manifest, (1.0,), n, read),
            dataset(manifest, SPEEDS, n, read),
        )
        for i in range(n):
            x, y = perturbed[i], cached_perturbed[i]
            if not all(torch.equal(x[k], y[k]) for k in x):
                raise SystemExit(f"mixture {i} from the cache differs from the files'")
        stages |= {
            "cache: end to end, no speed perturbation": lambda: [cached_plain[i] for i in range(n)],
            "cache: end to end, speed perturbation 0.9/1.0/1.1": lambda: [
                cached_perturbed[i] for i in range(n)
            ],
            "cache: read both 3-s crops (memory-mapped int16)": lambda: [
                read_crop(index[u], o, act, read=read)
                for s, act in zip(specs, active)
                for u, o in zip(s.utterances, s.offsets)
            ],
        }
    with torch.inference_mode():
        timed = interleaved(stages, a.rounds)
    rows = [
        {
            "stage": name,
            "ms_per_mixture": t["median_ms"] / n,
            "cpu_ms_per_mixture": t["cpu_ms"] / n,
            "mixtures_per_s_wall": 1000 * n / t["median_ms"],
            "mixtures_per_s_per_core": 1000 * n / t["cpu_ms"],
        }
        for name, t in timed.items()
    ]
    print(table(rows, list(rows[0])))
    by_name = {r["stage"]: r["mixtures_per_s_per_core"] for r in rows}
    for prefix in ("", "cache: ") if a.cache else ("",):
        e2e = by_name[f"{prefix}end to end, speed perturbation 0.9/1.0/1.1"]
        plain_rate = by_name[f"{prefix}end to end, no speed perturbation"]
        print(
            f"{prefix or 'files: '}target >= 500 mixtures/s per core (3-s crops, speed perturbation): "
            f"{e2e:.0f} ({'met' if e2e >= 500 else 'not met'}); without speed perturbation {plain_rate:.0f}"
        )
    write_results(
        a,
        "data_pipeline",
        start,
        stages=rows,
        speed_perturbed_sources=sum(sp != 1.0 for s in specs for sp in s.speeds),
    )


if __name__ == "__main__":
    main()
