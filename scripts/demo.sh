#!/usr/bin/env bash
# make demo: corpus -> an example mixture embedded -> a short from-scratch training run ->
# `mirnet report`: the reference (the separate-then-embed pair), the paper's MIRNet, the
# single-embedding baseline and resemblyzer scored side by side on the same trials, each score
# AS-normalised against the system's own cohort of training voices (conditions, sweeps, DET, paper
# figures), and the shipped separators on the same mixtures -> runs/demo/REPORT.md.
set -euo pipefail
cd "$(dirname "$0")/.."
M=.venv/bin/mirnet
OUT=${OUT:-runs/demo}
REF=${REF:-models/reference}
MIRNET=${MIRNET:-models/mirnet}
TRIALS=${TRIALS:-1000}                # headline: the reference, unseen and seen speakers
CLEAN_TRIALS=${CLEAN_TRIALS:-200}     # its clean bound (near 1%): the comparison's trials, scored once
COMPARE_TRIALS=${COMPARE_TRIALS:-200} # every system x every condition, one trial list
SWEEP_TRIALS=${SWEEP_TRIALS:-100}     # every system per SIR / overlap / crop / speakers point
SEP=${SEP:-models/separators}
SEPARATION_MIXTURES=${SEPARATION_MIXTURES:-50}  # per separation table (unseen; seen held-out)
RECORDED_TRIALS=${RECORDED_TRIALS:-100}  # every system on recorded unseen voices and as many synthesized trials (about 3 min)
# bf16 where the CPU computes it natively (1.5x on the pair; EER within 0.1 point on the headline's
# 1000 trials, docs/lab/benchmarks.md), else fp32; PRECISION=fp32 gives the published fp32 figures exactly
PRECISION=${PRECISION:-$(.venv/bin/python -c 'from mirnet.api import native_bf16; print("bf16" if native_bf16() else "fp32")')}
mkdir -p "$OUT"
stage() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

stage "1/4 corpora: every working MBROLA voice + flite, 40 utterances each; recorded voices (Debian packages)"
$M corpus synth data/corpus
$M corpus recorded data/recorded

stage "2/4 embed and separate an example mixture of two unseen speakers"
$M corpus mix data/corpus/unseen "$OUT/example_mix.wav" --sir 0 --seed 1
$M embed "$REF" "$OUT/example_mix.wav" --out "$OUT/example_embeddings.npy"
$M separate "$SEP/voicefilter_mirnet" "$OUT/example_mix.wav" --out "$OUT/example_separated"

stage "3/4 short from-scratch training of the compact MIRNet (the training path)"
rm -rf "$OUT/train"
$M train configs/mirnet_compact.yaml "$OUT/train" train.epochs=3 data.epoch_size=960 data.val_size=160 \
  loss.teacher_weight=0 train.keep_epoch_models=true train.precision="$PRECISION" >/dev/null

stage "4/4 report ($PRECISION): reference, MIRNet, single-embedding baseline, resemblyzer; the separators"
$M report "reference=$REF" "mirnet=$MIRNET" "single=$MIRNET/teacher" resemblyzer \
  --data data/corpus/unseen --seen data/corpus/seen --score-norm asnorm \
  --trials "$TRIALS" --compare-trials "$COMPARE_TRIALS" --sweep-trials "$SWEEP_TRIALS" \
  --clean-trials "$CLEAN_TRIALS" --precision "$PRECISION" \
  --separation-mixtures "$SEPARATION_MIXTURES" \
  --recorded data/recorded/unseen --recorded-trials "$RECORDED_TRIALS" \
  --separator-systems "upit=$SEP/upit" "voicefilter_mirnet=$SEP/voicefilter_mirnet" \
  "voicefilter_enrolled=$SEP/voicefilter_enrolled" \
  --train-run "$OUT/train" --curve "short_run=$OUT/train" --out "$OUT"
for f in eval_unseen eval_unseen_clean eval_seen eval_seen_clean eval_recorded eval_recorded_clean; do
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"{sys.argv[2]:18s} EER {r['eer']:5.2f}% [{r['eer_ci'][0]:.2f}, {r['eer_ci'][1]:.2f}] over {r['trials']} trials, {r['speakers']} speakers\")" "$OUT/$f.json" "$f"
done
# every system and separator on the recorded voices beside the synthesized unseen ones (recorded.json)
python3 - "$OUT/recorded.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
norm = r["score_norm"] or "raw"
for label, s in r["systems"].items():
    eer = {(w, c): f"{s[w][c]['raw']['eer']:5.2f} / {s[w][c][norm]['eer']:5.2f}" for w in s for c in s[w]}
    print(f"{label:18s} EER % raw / {norm}, mixture: recorded {eer['recorded', 'mixture']}, synthesized "
          f"{eer['synthesized', 'mixture']}; clean: recorded {eer['recorded', 'clean']}, synthesized {eer['synthesized', 'clean']}")
for label, s in r["separation"].items():
    si = {w: s[w]["metrics"]["si_sdri"]["mean"] for w in s}
    print(f"{label:18s} SI-SDRi {si['recorded']:5.2f} dB on recorded mixtures, {si['synthesized']:5.2f} on synthesized")
EOF
