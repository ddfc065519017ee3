#!/usr/bin/env bash
# make reference: retrain models/reference/ from scratch on the default corpus, reproducibly
# (seed 0 everywhere). Stage 1 trains the single-speaker TDNN on clean crops; stage 2 trains
# the compact MIRNet starting from it (speaker network + classifier) and distilling toward its
# clean-source embeddings. Both stages checkpoint every epoch and resume when re-run.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RUN=${RUN:-runs/reference}
OUT=${OUT:-models/reference}

$BIN/mirnet corpus synth data/corpus
$BIN/mirnet train configs/single_compact.yaml "$RUN/teacher" --resume
$BIN/mirnet train configs/mirnet_compact.yaml "$RUN/mirnet" --resume \
  train.init_from="$RUN/teacher" train.teacher="$RUN/teacher"

mkdir -p "$OUT/teacher"
for f in model.pt config.yaml epochs.csv steps.csv; do
  cp "$RUN/mirnet/$f" "$OUT/$f"
  cp "$RUN/teacher/$f" "$OUT/teacher/$f"
done
echo "reference model written to $OUT"
