"""Evaluation: the paper's mixture-verification protocol, its metrics, figures and reports."""

# The trial conditions (defined in ``protocol``), named here so that the CLI can offer them
# without importing torch.
CONDITION_NAMES = ("mixture", "clean", "enrolled", "separated", "cascade")
# The cohort scores each side of a trial is normalised by (``score_norm``, AS-norm); WeSpeaker's
# recipes take 300 of ~6,000 training speakers.
TOP_K = 200
# How output pairs are compared against a cohort (``score_norm.ScoreNorm``)
SCORE_NORMS = ("asnorm", "mean")
# Mixtures of the training voices a cohort is drawn from (``mirnet cohort``, ``mirnet report
# --score-norm``): two outputs each, 1,200 cohort embeddings at N = 2.
COHORT_MIXTURES = 600
