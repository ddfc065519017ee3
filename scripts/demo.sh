#!/usr/bin/env bash
# make demo: corpus -> reference model evaluation (seen/unseen, mixture/clean) -> an example
# mixture embedded -> a short from-scratch training run -> figures -> runs/demo/REPORT.md.
set -euo pipefail
cd "$(dirname "$0")/.."
M=.venv/bin/mirnet
OUT=${OUT:-runs/demo}
REF=${REF:-models/reference}
TRIALS=${TRIALS:-1000}
mkdir -p "$OUT"
stage() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

stage "1/6 default corpus: every working MBROLA voice + flite, 40 utterances each"
$M corpus synth data/corpus

stage "2/6 reference model, mixture EER at 0 dB ($TRIALS trials each)"
$M -q eval "$REF" --data data/corpus/unseen --trials "$TRIALS" --trial-list "$OUT/trials_unseen.json" --json "$OUT/eval_unseen.json" >/dev/null
$M -q eval "$REF" --data data/corpus/seen --heldout --trials "$TRIALS" --trial-list "$OUT/trials_seen.json" --json "$OUT/eval_seen.json" >/dev/null
$M -q eval "$REF" --data data/corpus/unseen --trial-list "$OUT/trials_unseen.json" --condition clean --json "$OUT/eval_unseen_clean.json" >/dev/null
$M -q eval "$REF" --data data/corpus/seen --heldout --trial-list "$OUT/trials_seen.json" --condition clean --json "$OUT/eval_seen_clean.json" >/dev/null
for f in eval_unseen eval_seen eval_unseen_clean eval_seen_clean; do
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{sys.argv[2]:18s} EER {r['eer']:5.2f}% [{r['eer_ci'][0]:.2f}, {r['eer_ci'][1]:.2f}] over {r['trials']} trials, {r['speakers']} speakers\")" "$OUT/$f.json" "$f"
done

stage "3/6 embed an example mixture of two unseen speakers"
$M corpus mix data/corpus/unseen "$OUT/example_mix.wav" --sir 0 --seed 1
$M embed "$REF" "$OUT/example_mix.wav" --out "$OUT/example_embeddings.npy"

stage "4/6 short from-scratch training of the compact MIRNet (the training path)"
rm -rf "$OUT/train"
$M train configs/mirnet_compact.yaml "$OUT/train" train.epochs=3 data.epoch_size=960 data.val_size=160 \
  loss.teacher_weight=0 train.keep_epoch_models=false >/dev/null

stage "5/6 figures"
$M plot tsne "$REF" --data data/corpus/unseen --out "$OUT/tsne_unseen"
$M plot attention "$REF" --data data/corpus/unseen --out "$OUT/attention.png"
$M plot curves "$OUT/train" --out "$OUT/train_curve.png"
$M plot curves "$REF" --out "$OUT/reference_curve.png"

stage "6/6 report"
$M report --out "$OUT" --exp "$REF" --train-run "$OUT/train" \
  --evals "$OUT"/eval_unseen.json "$OUT"/eval_unseen_clean.json "$OUT"/eval_seen.json "$OUT"/eval_seen_clean.json \
  --figures "$OUT"/tsne_unseen_speakers.png "$OUT"/tsne_unseen_outputs.png "$OUT"/attention.png \
            "$OUT"/reference_curve.png "$OUT"/train_curve.png
