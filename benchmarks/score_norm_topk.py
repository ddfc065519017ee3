"""Cohort policies for score normalisation (``mirnet eval --cohort``: AS-norm's ``--top-k``, or
``--score-norm mean``), chosen on training voices, never on test voices. Two designs:

- ``--data`` alone: the seen voices are cut in two halves by the seed; trials are drawn from the
  held-out utterances of one half and the cohort from mixtures of the other, so no trial speaker
  is in the cohort, as on the unseen trials.
- with ``--cohort-data`` (repeatable): trials from every held-out utterance of ``--data``, and one
  cohort per ``--cohort-data``, drawn from its training utterances as ``mirnet cohort
  --training-only`` draws it. For example, a family of voices left out of the cohort only
  (docs/lab/experiments.md, "A family left out of the cohort only"); the trials and cohorts are then
  those of ``mirnet eval --trials N --seed S`` and ``mirnet cohort --n M --seed S``, so each row
  is what those commands print.

Each policy is scored on the same embeddings: EER [95% CI] and minDCF (p_target 0.01), raw
cosine first.

    python benchmarks/score_norm_topk.py runs/sepfront_start --data data/corpus/seen
    python benchmarks/score_norm_topk.py models/reference --data data/cross/germanic/seen/family.jsonl \\
        --cohort-data data/cross/germanic/seen/train.jsonl --cohort-data data/cross/germanic/voices/train.jsonl
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from mirnet.distances import pairwise_distance
from mirnet.eval.evaluate import evaluation_manifest, load_system, make_cohort
from mirnet.eval.protocol import side_scores, summarize, trial_embeddings
from mirnet.eval.score_norm import ScoreNorm
from mirnet.eval.setting import MixtureSetting, TrialSetting
from mirnet.eval.trials import make_trials


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("exp", help="experiment dir or model file (it must record its held-out utterances)")
    p.add_argument("--data", default="data/corpus/seen", help="the voices the trials are drawn from")
    p.add_argument(
        "--cohort-data",
        action="append",
        default=[],
        help="draw a cohort from these voices' training utterances (repeatable); without it, "
        "--data is cut in two halves",
    )
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--mixtures", type=int, default=600, help="cohort mixtures, as mirnet cohort --n")
    p.add_argument("--top-k", default="10,20,50,100,200,400,all")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    a = p.parse_args()
    torch.set_num_threads(1)
    embed, bundle = load_system(a.exp, a.precision)
    heldout = evaluation_manifest(a.data, bundle, heldout=True)

    def cohort_of(data, manifest):
        return make_cohort(embed, manifest, MixtureSetting(data, n=a.mixtures, seed=a.seed))

    if a.cohort_data:
        trial_voices = heldout.speakers
        cohorts = {str(d): cohort_of(d, evaluation_manifest(d, bundle, training=True)) for d in a.cohort_data}
        described = f"{len(trial_voices)} voices of {a.data}"
    else:
        speakers = heldout.speakers
        order = np.random.default_rng(a.seed).permutation(len(speakers))
        cohort_voices = {speakers[i] for i in order[: len(speakers) // 2]}
        trial_voices = [s for s in speakers if s not in cohort_voices]
        half = evaluation_manifest(a.data, bundle).filter(speakers=cohort_voices)
        cohorts = {f"the other {len(cohort_voices)} voices": cohort_of(a.data, half)}
        described = f"{len(trial_voices)} held-out voices"
    trials = make_trials(
        heldout.filter(speakers=trial_voices), a.trials, TrialSetting(a.data).mixing(), a.seed
    )
    sides = trial_embeddings(embed, trials, heldout)
    print(f"{a.exp}: {len(trials)} trials of {described}")
    print(f"{'cohort':<48} {'scoring':>9} {'EER %':>6} {'95% CI':>13} {'minDCF':>7}")

    def row(cohort: str, name: str, pairwise) -> None:
        r = summarize(*side_scores(*sides, pairwise), seed=a.seed)
        ci = "[{:.1f}, {:.1f}]".format(*r["eer_ci"])
        print(f"{cohort:<48} {name:>9} {r['eer']:6.1f} {ci:>13} {r['min_dcf']:7.3f}")

    row("", "raw", lambda x, y: pairwise_distance(x, y, "cosine"))
    for label, cohort in cohorts.items():
        for k in a.top_k.split(","):
            top = len(cohort) if k == "all" else int(k)
            row(label, f"top {k}", ScoreNorm("asnorm", cohort, top).pairwise)
        row(label, "mean", ScoreNorm("mean", cohort).pairwise)


if __name__ == "__main__":
    main()
