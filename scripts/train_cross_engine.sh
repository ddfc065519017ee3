#!/usr/bin/env bash
# The identity issue's cross-engine split, a stand-in for voices from engines this project does
# not have: hold one family of voices out of training (FAMILY; MBROLA's Germanic voices by
# default, 16 seen and 2 unseen), train the reference recipe and the separate-then-embed pair
# without them (scripts/train_reference.sh's stages on the split), then score each system and
# resemblyzer on the family and on the remaining unseen voices, 1000 trials each. The issue's
# target: the family's EER at most 1.5x the same system's unseen EER. Resumes when re-run.
# STAGES as scripts/train_reference.sh's, plus eval (all by default); TRAIN_ARGS pass through.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
FAMILY=${FAMILY:-language=de,nl,sv,is,af,en-us,en-uk}
SPLIT=${SPLIT:-data/cross/germanic}
RUN=${RUN:-runs/cross/germanic}
STAGES=${STAGES:-"embedders separators cascade eval"}

$BIN/mirnet corpus synth data/corpus
$BIN/mirnet corpus transform data/corpus/seen data/transformed --copies 2
split() {  # split OUT TRAIN...: the family out of the training voices
  local out=$1
  shift
  $BIN/mirnet corpus split --train "$@" --unseen data/corpus/unseen --hold-out "$FAMILY" --out "$out"
}
split "$SPLIT/seen" data/corpus/seen
split "$SPLIT/voices" data/corpus/seen data/transformed/manifest.jsonl
RUN=$RUN OUT=$RUN/models/reference SEP=$RUN/models/separators SEEN=$SPLIT/seen/train.jsonl \
  VOICES=$SPLIT/voices/train.jsonl STAGES="$STAGES" scripts/train_reference.sh
if [[ $STAGES == *eval* ]]; then
  $BIN/mirnet compose "$RUN/models/separators/upit" "$RUN/models/separators/cascade" --out "$RUN/models/sepfront"
  mkdir -p "$RUN/eval"
  for system in "$RUN/models/reference" "$RUN/models/sepfront" resemblyzer; do
    for part in family unseen; do
      $BIN/mirnet eval "$system" --data "$SPLIT/seen/$part.jsonl" --trials 1000 \
        --trial-list "$RUN/trials_$part.json" --json "$RUN/eval/$(basename "$system").$part.json"
    done
  done
fi
