#!/usr/bin/env bash
# The cross-engine split, a stand-in for voices from engines this project does
# not have: hold one family of voices out of training (FAMILY; MBROLA's Germanic voices by
# default, 16 seen and 2 unseen), train MIRNet and the reference (the separate-then-embed pair)
# without them (scripts/train_reference.sh's stages on the split), then score each and
# resemblyzer on the family and on the remaining unseen voices, 1000 trials each, raw and with
# AS-norm against a cohort of the split's training voices. The target: the family's EER
# at most 1.5x the same system's unseen EER. Resumes when re-run.
# STAGES as scripts/train_reference.sh's, plus eval (all by default); TRAIN_ARGS pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
FAMILY=${FAMILY:-language=de,nl,sv,is,af,en-us,en-uk}
SPLIT=${SPLIT:-data/cross/germanic}
RUN=${RUN:-runs/cross/germanic}
STAGES=${STAGES:-"embedders separators cascade pair eval"}

$BIN/mirnet corpus synth data/corpus
$BIN/mirnet corpus transform data/corpus/seen data/transformed --copies 2
split() {  # split OUT TRAIN...: the family out of the training voices
  local out=$1
  shift
  $BIN/mirnet corpus split --train "$@" --unseen data/corpus/unseen --hold-out "$FAMILY" --out "$out"
}
split "$SPLIT/seen" data/corpus/seen
split "$SPLIT/voices" data/corpus/seen data/transformed/manifest.jsonl
RUN=$RUN OUT=$RUN/models/mirnet SEP=$RUN/models/separators PAIR=$RUN/models/reference \
  SEEN=$SPLIT/seen/train.jsonl VOICES=$SPLIT/voices/train.jsonl STAGES="$STAGES" scripts/train_reference.sh
if [[ $STAGES == *eval* ]]; then
  mkdir -p "$RUN/eval" "$RUN/cohorts"
  $BIN/mirnet cohort "$RUN/models/mirnet" --data "$SPLIT/seen/train.jsonl" --training-only --out "$RUN/cohorts/mirnet.npz"
  for system in "$RUN/models/mirnet" "$RUN/models/reference" resemblyzer; do
    name=$(basename "$system")
    cohort=$([ "$name" = mirnet ] && echo "$RUN/cohorts/mirnet.npz" || echo "$system/cohort.npz")
    for part in family unseen; do
      args=(--data "$SPLIT/seen/$part.jsonl" --trials 1000 --trial-list "$RUN/trials_$part.json")
      $BIN/mirnet eval "$system" "${args[@]}" --json "$RUN/eval/$name.$part.json"
      if [ "$name" != resemblyzer ]; then  # resemblyzer has no training voices here to draw a cohort from
        $BIN/mirnet eval "$system" "${args[@]}" --cohort "$cohort" --json "$RUN/eval/$name.$part.asnorm.json"
      fi
    done
  done
fi
