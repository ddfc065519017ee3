"""How many cohort scores AS-norm should normalise by (``mirnet eval --top-k``), chosen on the
training voices, never on the test voices: the seen voices are cut in two halves by the seed,
trials are drawn from the held-out utterances of one half and the cohort from mixtures of the
other, so no trial speaker is in the cohort, as on the unseen trials. Each ``--top-k`` is scored
on the same embeddings: EER and minDCF (p_target 0.01), raw cosine first.

    python benchmarks/score_norm_topk.py runs/sepfront_start --data data/corpus/seen
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mirnet.distances import closest_pair_distance, pairwise_distance
from mirnet.eval.evaluate import evaluation_manifest, load_system, make_cohort
from mirnet.eval.metrics import eer, min_dcf
from mirnet.eval.protocol import condition_specs, embed_specs
from mirnet.eval.score_norm import pairwise_asnorm_distance
from mirnet.eval.setting import MixtureSetting, TrialSetting
from mirnet.eval.trials import make_trials


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exp", help="experiment dir or model file (it must record its held-out utterances)")
    p.add_argument("--data", default="data/corpus/seen", help="the model's training voices")
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--mixtures", type=int, default=600, help="cohort mixtures, as mirnet cohort --n")
    p.add_argument("--top-k", default="10,20,50,100,200,400,all")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(1)
    embed, bundle = load_system(a.exp)
    heldout = evaluation_manifest(a.data, bundle, heldout=True)
    speakers = heldout.speakers
    order = np.random.default_rng(a.seed).permutation(len(speakers))
    cohort_voices = {speakers[i] for i in order[: len(speakers) // 2]}
    trial_voices = [s for s in speakers if s not in cohort_voices]
    everything = evaluation_manifest(a.data, bundle)
    cohort = make_cohort(
        embed, everything.filter(speakers=cohort_voices), MixtureSetting(a.data, n=a.mixtures, seed=a.seed)
    )
    trials = make_trials(
        heldout.filter(speakers=trial_voices), a.trials, TrialSetting(a.data).mixing(), a.seed
    )
    emb = embed_specs(embed, condition_specs(trials, "mixture"), heldout).float()
    emb = emb.reshape(3 * len(trials), -1, emb.shape[-1])
    anchor, positive, negative = emb[0::3], emb[1::3], emb[2::3]
    labels = np.r_[np.ones(len(trials)), np.zeros(len(trials))].astype(int)
    print(
        f"{a.exp}: {len(trials)} trials of {len(trial_voices)} held-out voices, "
        f"cohort of {len(cohort)} embeddings of {len(cohort_voices)} others"
    )
    print(f"{'top-k':>8} {'EER %':>7} {'minDCF':>7}")

    def row(name: str, pairwise) -> None:
        scores = -torch.cat(
            [closest_pair_distance(pairwise(anchor, x)) for x in (positive, negative)]
        ).numpy()
        print(f"{name:>8} {eer(scores, labels):7.1f} {min_dcf(scores, labels, p_target=0.01):7.3f}")

    row("raw", lambda x, y: pairwise_distance(x, y, "cosine"))
    for k in a.top_k.split(","):
        top = len(cohort) if k == "all" else int(k)
        row(k, lambda x, y, top=top: pairwise_asnorm_distance(x, y, cohort, top))


if __name__ == "__main__":
    main()
