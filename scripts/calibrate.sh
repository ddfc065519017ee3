#!/usr/bin/env bash
# scripts/calibrate.sh MODEL_DIR: what a shipped embedder needs to decide out of the box, written
# beside its model file (src/mirnet/apps/calibration.py, docs/index.md#models-by-name), from
# training-split voices only, never a test split's:
#   cohort.npz                 AS-norm cohort, mixtures of its synthesized training voices (kept if present)
#   calibration.json           verify's EER threshold: 1000 mixture trials of the recorded training split
#   calibration_enrolled.json  identify's and `verify --condition enrolled`'s: the same, enrolled condition
#   calibration_clean.json     `verify --condition clean`'s: the same, two clean voices
#   diarization.json           diarize's settings, tuned on 6 conversations of the synthesized training voices
# fp32 throughout, so that a figure here is the one a fresh machine reproduces.
set -euo pipefail
cd "$(dirname "$0")/.."
M=.venv/bin/mirnet
DIR=${1:?usage: scripts/calibrate.sh MODEL_DIR}
SEEN=${SEEN:-data/corpus/seen}            # the synthesized training voices
RECORDED=${RECORDED:-data/recorded/seen}  # the recorded training split
TRIALS=${TRIALS:-1000}
CONV=${CONV:-runs/calib/conv_seen}
$M -q corpus synth data/corpus
$M -q corpus recorded data/recorded
[ -f "$DIR/cohort.npz" ] || $M -q cohort "$DIR" --data "$SEEN" --training-only --precision fp32 --out "$DIR/cohort.npz"
for condition in mixture enrolled clean; do
  out=$DIR/calibration.json
  [ "$condition" = mixture ] || out=$DIR/calibration_$condition.json
  $M -q eval "$DIR" --data "$RECORDED" --trials "$TRIALS" --condition "$condition" \
    --cohort "$DIR/cohort.npz" --precision fp32 --json "$out" >/dev/null
done
[ -d "$CONV" ] || $M -q corpus conversation "$CONV" --data "$SEEN" --conversations 6 --minutes 2 --speakers 2..4 --seed 0
$M -q eval-diarization "$DIR" --data "$CONV" --tune --cohort "$DIR/cohort.npz" --json "$DIR/diarization.json" >/dev/null
python3 - "$DIR" <<'PY'
import json, sys
from pathlib import Path
d = Path(sys.argv[1])
for name in ("calibration.json", "calibration_enrolled.json", "calibration_clean.json"):
    r = json.loads((d / name).read_text())
    print(f"{d / name}: {r['condition']} EER {r['eer']}% {r['eer_ci']} over {r['trials']} trials of {r['data']}, threshold {r['eer_threshold']:.3f}")
r = json.loads((d / "diarization.json").read_text())["estimated_count"]
print(f"{d / 'diarization.json'}: DER {r['der']}%, count right {r['count_accuracy']}%")
PY
