"""Data for the paper's figures, computed from a trained model and a corpus, then drawn by
``plots``: t-SNE of mixture embeddings (Fig. 3a/b) and attention vs power (Fig. 2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..api import load
from ..corpus import open_corpus
from ..data.mixing import MixingConfig, draw_mixture, mix, read_sources
from ..distances import pairwise_cosine_distance
from ..errors import InputError
from ..losses.mixture import pairwise_attention_bce, power_share
from ..losses.pit import best_permutation
from .plots import plot_attention, plot_training_curves, plot_tsne


def tsne_figures(
    exp, data, out_prefix, n_speakers: int = 20, n_mixtures: int = 150, seed: int = 0
) -> list[Path]:
    """Mixtures drawn among ``n_speakers`` speakers; each output is labelled with the speaker
    whose clean-source embedding (same model) it matches under the best permutation."""
    model = load(exp)
    manifest = open_corpus(data)
    rng = np.random.default_rng(seed)
    names = manifest.speakers
    chosen = [
        names[i] for i in sorted(rng.choice(len(names), size=min(n_speakers, len(names)), replace=False))
    ]
    sub = manifest.filter(speakers=chosen)
    index = sub.index
    cfg = MixingConfig(max(model.n_speakers, 2), 3.0, (0.0, 0.0))
    specs = [draw_mixture(sub, rng, cfg) for _ in range(n_mixtures)]
    sources = np.stack([mix(read_sources(s, index))[1] for s in specs])  # (M, S, samples)
    mixtures = torch.from_numpy(sources.sum(1))
    emb = torch.cat(
        [model.embed_batch(mixtures[i : i + 32]) for i in range(0, len(mixtures), 32)]
    )  # (M, N, E)
    m, s = sources.shape[:2]
    clean = torch.from_numpy(sources.reshape(m * s, -1))
    refs = torch.cat([model.embed_batch(clean[i : i + 32]) for i in range(0, len(clean), 32)])
    refs = refs.mean(dim=1).view(m, s, -1)  # a clean input's outputs averaged: the source's identity
    if model.n_speakers == s:
        perm = best_permutation(pairwise_cosine_distance(emb, refs))
    else:  # a single-output model: label its one output with the closer source
        perm = pairwise_cosine_distance(emb, refs).argmin(-1)
    labels = [specs[i].speakers[perm[i, k]] for i in range(m) for k in range(emb.shape[1])]
    outputs = [f"output {k + 1}" for _ in range(m) for k in range(emb.shape[1])]
    flat = emb.flatten(0, 1).numpy()
    out = Path(out_prefix)
    return [
        plot_tsne(
            flat,
            labels,
            out.with_name(out.name + "_speakers.png"),
            f"{Path(exp).name}: mixture embeddings of {len(chosen)} speakers",
            seed=seed,
        ),
        plot_tsne(
            flat,
            labels,
            out.with_name(out.name + "_outputs.png"),
            f"{Path(exp).name}: per-output embeddings (marker = output)",
            seed=seed,
            markers=outputs,
        ),
    ]


def attention_figure(exp, data, out, seed: int = 0, overlap: float = 0.6) -> Path:
    model = load(exp)
    if model.n_speakers < 2:
        raise InputError(f"{exp}: a single-output model has no attention streams to plot")
    manifest = open_corpus(data)
    spec = draw_mixture(
        manifest,
        np.random.default_rng(seed),
        MixingConfig(model.n_speakers, 3.0, (0.0, 0.0), (overlap, overlap)),
    )
    mixture, sources = mix(read_sources(spec, manifest.index))
    feats = model.model.features
    with torch.inference_mode():
        wav = torch.from_numpy(np.concatenate([mixture[None], sources]))
        logspec = torch.log(feats.magnitude(wav) + feats.eps).numpy()
        attention = model.model(wav[:1]).attention  # (1, N, T)
        power = feats.frame_power(wav[1:])[None]  # (1, S, T)
    perm = best_permutation(pairwise_attention_bce(attention, power_share(power)))[0]
    order = torch.argsort(perm)  # stream matched to each source
    return plot_attention(logspec[0], list(logspec[1:]), attention[0, order].numpy(), power[0].numpy(), out)


def training_curve_figure(exp, out) -> Path:
    return plot_training_curves(
        Path(exp) / "steps.csv",
        out,
        x="step",
        ys=("loss", "ce", "teacher", "attention", "mask"),
        x2="elapsed_s",
    )
