#!/usr/bin/env bash
# The miniature Table 1 on the embedded Wikipedia sample (stage 6 of `make mini`; run
# scripts/run_mini.sh first for the data). BERT 2L-64H -> 4L-128H, depth and width double,
# like the paper's BERT-Small -> BERT-Base, in the paper's proportions (scripts/mini_common.sh):
#   1. pretrain the small model
#   2. train the large model from scratch (the target: its final eval loss)
#   3. train the LiGO operator (2.5% of the large run's steps), grow the large model with it
#      and train it
#   4. the paper's other rows: StackBERT (depth only, so its new width units start random),
#      MSLT (stages 2 -> 3 -> 4 layers on the widened small model), KI (scratch taught by the
#      small model), bert2BERT (AKI, the paper's bert2BERT)
#   5. the savings report (python -m ligo.report) into $MINI_RESULTS, and its RUN.md
# Interpolation and bert2BERT-FPI, rows of earlier versions, are in results/mini-seeds and
# results/ablation; MINI_MORE_BASELINES=1 adds them here too (about 5 more minutes).
# Every large-model run has the same settings and steps; finished runs are skipped,
# interrupted ones resumed (--should_continue). Settings: see scripts/mini_common.sh.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/mini_common.sh"
RESULTS=${MINI_RESULTS:-results/mini}
started=$(date +%s)
job_started=${MINI_STARTED:-$started}  # set by `make mini` before set-up

echo "== mini Table 1: 1/5 small model ($SMALL, $SMALL_STEPS steps)"
train_small

echo "== mini Table 1: 2/5 large model from scratch ($LARGE, $LARGE_STEPS steps)"
train_scratch "$RUNS/scratch"

echo "== mini Table 1: 3/5 LiGO: operator ($OPERATOR_STEPS steps), then the grown model"
train_operator "$RUNS/ligo-operator" "$OPERATOR_STEPS" --fuse_init_scheme stackbert_noisy rand
train_grown "$RUNS/ligo" ligo --pretrained_ligo_path "$RUNS/ligo-operator"

schemes=(stackbert_direct_copy bert2bert_aki)
[ -n "${MINI_MORE_BASELINES:-}" ] && schemes+=(interpolation_direct_copy bert2bert_fpi)
total=$(( ${#schemes[@]} + 2 ))
echo "== mini Table 1: 4/5 baseline 1/$total: MSLT"
train_mslt "$RUNS/mslt"
echo "== mini Table 1: 4/5 baseline 2/$total: KI"
train_ki "$RUNS/ki"
step=2
for scheme in "${schemes[@]}"; do
  step=$((step + 1))
  echo "== mini Table 1: 4/5 baseline $step/$total: $scheme"
  train_grown "$RUNS/$scheme" "$scheme"
done

echo "== mini Table 1: 5/5 savings report -> $RESULTS"
more=()
if [ -n "${MINI_MORE_BASELINES:-}" ]; then
  more=(--run "Interpolation=$RUNS/interpolation_direct_copy" --run "bert2BERT-FPI=$RUNS/bert2bert_fpi")
fi
"$PYTHON" -m ligo.report --scratch "$RUNS/scratch" --small "$SMALL_RUN" --output_dir "$RESULTS" \
  --run "StackBERT=$RUNS/stackbert_direct_copy" \
  --run "MSLT=$RUNS/mslt" \
  --run "KI=$RUNS/ki" \
  --run "bert2BERT=$RUNS/bert2bert_aki" \
  ${more[@]+"${more[@]}"} \
  --run "LiGO=$RUNS/ligo+$RUNS/ligo-operator" \
  --focus LiGO
finished_at=$(date +%s)
{
  run_md_head "\`${MINI_COMMAND:-make mini}\`$([ -z "${MINI_COMMAND:-}" ] && echo " (set-up, scripts/run_mini.sh, then scripts/mini_table1.sh)")"
  echo "- settings: \`$CONFIG\`${MINI_FLAGS:+ plus \`$MINI_FLAGS\`}; small \`$SMALL\` $SMALL_STEPS steps (warm-up $SMALL_WARMUP, seed 95); large \`$LARGE\` $LARGE_STEPS steps, seed $SEED; scratch warm-up $SCRATCH_WARMUP steps, grown runs $GROWN_WARMUP; LiGO operator $OPERATOR_STEPS steps (seed $OPERATOR_SEED, warm-up $(( OPERATOR_STEPS / 10 )))"
  "$PYTHON" -m ligo.report.unigram --config "$CONFIG" --scratch "$RUNS/scratch"
  run_md_timings
} > "$RESULTS/RUN.md"
echo "[mini] training and report: $(( finished_at - started )) s; whole job: $(( finished_at - job_started )) s"
