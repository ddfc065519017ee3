#!/usr/bin/env bash
# make reference: retrain models/ from scratch on the default corpus, reproducibly (seed 0
# everywhere). Every stage checkpoints every epoch and resumes when re-run, so an interrupted
# `make reference` continues where it stopped (times: docs/results/reference.md,
# docs/lab/separation.md).
#   1. the single-speaker TDNN on clean crops (models/mirnet/teacher);
#   2. the compact MIRNet, started from it and distilled toward its clean-source embeddings
#      (models/mirnet: the paper's system);
#   3. the uPIT separator (configs/separator_upit_compact.yaml), then 10 epochs more on the seen
#      voices plus two pitch- and formant-shifted copies of each (`mirnet corpus transform`:
#      +0.5 dB SI-SDRi on unseen voices, docs/lab/separation.md);
#   4. VoiceFilter started from the uPIT separator's body, conditioned on stage 2's identities of
#      the mixture (the paper's system), on stage 1's embeddings of enrolled references, and on
#      resemblyzer's, on the same voices;
#   5. the cascade's embedder: resemblyzer's GE2E network (weights from its installed wheel)
#      fine-tuned on stage 3's outputs toward its own embeddings of the clean sources;
#   6. models/reference: stages 3 and 5 composed into one mixture embedder (`mirnet compose
#      --link`: it names their model files) and its AS-norm cohort, drawn from the training
#      voices (`mirnet cohort --training-only`).
# STAGES picks stages (embedders, separators = 3, voicefilters = 4, cascade = 5, pair = 6); SEEN
# and VOICES replace the training voices (scripts/train_cross_engine.sh trains the same recipe
# without a held-out family of voices); TRAIN_ARGS are overrides for every stage (on a shared
# machine, or one without AMX: TRAIN_ARGS="train.threads=1 train.precision=fp32").
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
RUN=${RUN:-runs/reference}
OUT=${OUT:-models/mirnet}
SEP=${SEP:-models/separators}
PAIR=${PAIR:-models/reference}
STAGES=${STAGES:-"embedders separators voicefilters cascade pair"}
TRAIN=${SEEN:-data/corpus/seen}  # the training voices
SEEN="data.train=$TRAIN"
VOICES="data.train=${VOICES:-[data/corpus/seen,data/transformed/manifest.jsonl]}"  # + their copies
read -r -a EXTRA <<<"${TRAIN_ARGS:-}"

ship() {  # ship RUN_DIR OUT_DIR: the files a user needs, the conditioner's model file included
  mkdir -p "$2"
  for f in model.pt config.yaml epochs.csv steps.csv conditioner/model.pt; do
    if [ -f "$1/$f" ]; then mkdir -p "$(dirname "$2/$f")"; cp "$1/$f" "$2/$f"; fi
  done
}

$BIN/mirnet corpus synth data/corpus
if [[ $STAGES == *embedders* ]]; then
  $BIN/mirnet train configs/single_compact.yaml "$RUN/teacher" --resume "$SEEN" "${EXTRA[@]}"
  $BIN/mirnet train configs/mirnet_compact.yaml "$RUN/mirnet" --resume "$SEEN" "${EXTRA[@]}" \
    train.init_from="$RUN/teacher" train.teacher="$RUN/teacher"
  ship "$RUN/mirnet" "$OUT"
  ship "$RUN/teacher" "$OUT/teacher"
  echo "MIRNet written to $OUT"
fi
if [[ $STAGES == *separators* ]]; then
  $BIN/mirnet train configs/separator_upit_compact.yaml "$RUN/upit_seen" --resume "$SEEN" "${EXTRA[@]}"
  $BIN/mirnet corpus transform data/corpus/seen data/transformed --copies 2
  $BIN/mirnet train configs/separator_upit_compact.yaml "$RUN/upit" --resume "$VOICES" "${EXTRA[@]}" \
    train.init_from="$RUN/upit_seen" optim.lr=5e-4 optim.warmup_steps=100 train.epochs=10
  ship "$RUN/upit" "$SEP/upit"
fi
if [[ $STAGES == *voicefilters* ]]; then
  $BIN/mirnet train configs/voicefilter_compact.yaml "$RUN/voicefilter_mirnet" --resume "$VOICES" "${EXTRA[@]}" \
    train.init_from="$SEP/upit" train.conditioner="$OUT"
  $BIN/mirnet train configs/voicefilter_compact.yaml "$RUN/voicefilter_enrolled" --resume "$VOICES" "${EXTRA[@]}" \
    train.init_from="$SEP/upit" train.conditioner="$OUT/teacher" data.enroll_seconds=3.0
  $BIN/mirnet train configs/voicefilter_compact.yaml "$RUN/voicefilter_resemblyzer" --resume "$VOICES" "${EXTRA[@]}" \
    train.init_from="$SEP/upit" train.conditioner=resemblyzer data.enroll_seconds=3.0 model.args.embed_dim=256
  for name in voicefilter_mirnet voicefilter_enrolled voicefilter_resemblyzer; do
    ship "$RUN/$name" "$SEP/$name"
  done
fi
if [[ $STAGES == *cascade* ]]; then
  $BIN/mirnet train configs/cascade_ge2e.yaml "$RUN/cascade" --resume "$VOICES" "${EXTRA[@]}" train.separator="$SEP/upit"
  ship "$RUN/cascade" "$SEP/cascade"
  echo "separators written to $SEP"
fi
if [[ $STAGES == *pair* ]]; then
  $BIN/mirnet compose "$SEP/upit" "$SEP/cascade" --out "$PAIR" --link
  $BIN/mirnet cohort "$PAIR" --data "$TRAIN" --training-only --out "$PAIR/cohort.npz"
  echo "reference model (the separate-then-embed pair) written to $PAIR"
fi
