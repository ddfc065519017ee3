"""The ceiling of mask-based separation on a corpus: SI-SDRi of oracle masks, computed from the
true sources, applied to the mixture's STFT and inverted, for several analysis windows. A
learned mask of the same kind cannot beat its oracle, so this says which STFT and mask type a
separator target needs before any training.

    python benchmarks/oracle_masks.py --data data/corpus/unseen --mixtures 64 --sir 0
"""

from __future__ import annotations

import argparse

import torch

from mirnet.corpus import open_corpus
from mirnet.data.mixing import MixingConfig, MixtureDataset
from mirnet.features import Spectrogram
from mirnet.losses.signal import SeparationLoss

WINDOWS = [(512, 32.0, 10.0), (512, 32.0, 8.0), (1024, 64.0, 16.0), (2048, 128.0, 32.0)]


def oracle_masks(spec: torch.Tensor, sources: torch.Tensor) -> dict[str, torch.Tensor]:
    """Mixture STFT (B, F, T) and source STFTs (B, N, F, T) -> {name: (B, N, F, T) mask}."""
    mix = spec.unsqueeze(1)
    power = sources.abs().square()
    return {
        "IRM": sources.abs() / sources.abs().sum(1, keepdim=True).clamp_min(1e-8),
        "Wiener": power / power.sum(1, keepdim=True).clamp_min(1e-12),
        "PSM[0,1]": ((sources * mix.conj()).real / mix.abs().square().clamp_min(1e-12)).clamp(0, 1),
        "cIRM": sources / torch.where(mix.abs() > 1e-8, mix, torch.ones_like(mix)),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="LibriSpeech-layout tree or manifest")
    p.add_argument("--mixtures", type=int, default=64)
    p.add_argument("--sir", type=float, default=0.0, help="SIR of every mixture, dB")
    p.add_argument("--crop", type=float, default=3.0, help="seconds per mixture")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    manifest = open_corpus(a.data)
    cfg = MixingConfig(2, a.crop, (a.sir, a.sir), (1.0, 1.0))
    data = MixtureDataset(manifest, cfg, a.mixtures, seed=a.seed)
    items = [data[i] for i in range(a.mixtures)]
    mixture, sources = torch.stack([x["mixture"] for x in items]), torch.stack([x["sources"] for x in items])
    rows = []
    for n_fft, win_ms, hop_ms in WINDOWS:
        stft = Spectrogram(n_fft, win_ms, hop_ms)
        spec = stft(mixture)
        src = stft(sources.flatten(0, 1)).view(*sources.shape[:2], *spec.shape[1:])
        scores = {}
        for name, mask in oracle_masks(spec, src).items():
            _, logs = SeparationLoss()(
                stft.inverse(mask * spec.unsqueeze(1), mixture.shape[-1]), sources, mixture
            )
            scores[name] = float(logs["si_sdri"])
        rows.append((f"{n_fft:>6} {win_ms:>5.0f}ms {hop_ms:>4.0f}ms", scores))
    print(f"oracle-mask SI-SDRi (dB), {a.mixtures} mixtures of {a.data} at {a.sir:g} dB, {a.crop:g} s")
    print(f"{'n_fft':>6} {'window':>7} {'hop':>6}  " + "  ".join(f"{name:>8}" for name in rows[0][1]))
    for label, scores in rows:
        print(f"{label}  " + "  ".join(f"{s:>8.2f}" for s in scores.values()))


if __name__ == "__main__":
    main()
