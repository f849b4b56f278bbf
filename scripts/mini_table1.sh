#!/usr/bin/env bash
# The miniature Table 1 on the embedded Wikipedia sample (stage 6 of `make mini`; run
# scripts/run_mini.sh first for the data). BERT 2L-128H -> 4L-256H, depth and width, like
# the paper's BERT-Small -> BERT-Base:
#   1. pretrain the small model
#   2. train the large model from scratch (the target: its final eval loss)
#   3. train the LiGO operator (100 steps), grow the large model with it and train it
#   4. grow and train with each baseline (StackBERT, interpolation: depth only, so their new
#      width units start random; bert2BERT FPI and AKI)
#   5. the savings report (python -m ligo.report) into $MINI_RESULTS
# Every large-model run uses configs/bert_mini_table1.txt and the same number of steps.
# Finished runs are skipped, interrupted ones resumed (--should_continue).
set -euo pipefail
PYTHON=${PYTHON:-python}
RUNS=${MINI_RUNS:-runs/mini}
RESULTS=${MINI_RESULTS:-results/mini}
SMALL_STEPS=${SMALL_STEPS:-200}
LARGE_STEPS=${LARGE_STEPS:-400}
OPERATOR_STEPS=${OPERATOR_STEPS:-100}
CONFIG=configs/bert_mini_table1.txt
SMALL=configs/bert-mini-2L-128H.json
LARGE=configs/bert-mini-4L-256H.json
# The small model uses the default seed; the others another one, so that they do not replay
# the exact batches and masks the small model was trained on first (see the README).
SEED=${MINI_SEED:-17}
OPERATOR_SEED=${MINI_OPERATOR_SEED:-29}
started=$(date +%s)
job_started=${MINI_STARTED:-$started}  # set by `make mini` before set-up
timings=()

finished() { [ -d "$1/checkpoints/checkpoint-$(printf %08d "$2")" ]; }

# train OUTPUT_DIR STEPS ENTRY_SCRIPT [FLAGS...]
train() {
  local out=$1 steps=$2 entry=$3
  shift 3
  if finished "$out" "$steps"; then
    echo "[mini] $out is finished ($steps steps)"
    timings+=("| \`$out\` | $steps | reused |")
    return
  fi
  local t0; t0=$(date +%s)
  "$PYTHON" "$entry" --config "$CONFIG" --output_dir "$out" --max_steps "$steps" --should_continue "$@"
  echo "[mini] $out: $(( $(date +%s) - t0 )) s"
  timings+=("| \`$out\` | $steps | $(( $(date +%s) - t0 )) s |")
}

echo "== mini Table 1: 1/5 small model (2L-128H, $SMALL_STEPS steps)"
train "$RUNS/small" "$SMALL_STEPS" run_lm_distributed.py --config_name "$SMALL"

echo "== mini Table 1: 2/5 large model from scratch (4L-256H, $LARGE_STEPS steps)"
train "$RUNS/scratch" "$LARGE_STEPS" run_lm_distributed.py --config_name "$LARGE" --seed "$SEED"

echo "== mini Table 1: 3/5 LiGO: operator ($OPERATOR_STEPS steps), then the grown model"
train "$RUNS/ligo-operator" "$OPERATOR_STEPS" run_grow_distributed.py --config_name "$LARGE" \
  --source_model_path "$RUNS/small" --tune_width --tune_depth --fuse_init_scheme stackbert_noisy rand \
  --seed "$OPERATOR_SEED" --warmup_steps 10
train "$RUNS/ligo" "$LARGE_STEPS" run_lm_distributed.py --config_name "$LARGE" --seed "$SEED" \
  --grow_scheme ligo --source_model_path "$RUNS/small" --pretrained_ligo_path "$RUNS/ligo-operator"

step=0
for scheme in stackbert_direct_copy interpolation_direct_copy bert2bert_fpi bert2bert_aki; do
  step=$((step + 1))
  echo "== mini Table 1: 4/5 baseline $step/4: $scheme"
  train "$RUNS/$scheme" "$LARGE_STEPS" run_lm_distributed.py --config_name "$LARGE" --seed "$SEED" \
    --grow_scheme "$scheme" --source_model_path "$RUNS/small"
done

echo "== mini Table 1: 5/5 savings report -> $RESULTS"
"$PYTHON" -m ligo.report --scratch "$RUNS/scratch" --small "$RUNS/small" --output_dir "$RESULTS" \
  --run "LiGO=$RUNS/ligo+$RUNS/ligo-operator" \
  --run "StackBERT=$RUNS/stackbert_direct_copy" \
  --run "Interpolation=$RUNS/interpolation_direct_copy" \
  --run "bert2BERT-FPI=$RUNS/bert2bert_fpi" \
  --run "bert2BERT-AKI=$RUNS/bert2bert_aki" \
  --focus LiGO
finished_at=$(date +%s)
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':!results' 2>/dev/null || commit="$commit (with uncommitted changes)"
{
  echo "# How this report was made"
  echo
  echo "- command: \`make mini\` (set-up, scripts/run_mini.sh, then scripts/mini_table1.sh)"
  echo "- commit: $commit"
  echo "- finished: $(date -u +'%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $("$PYTHON" -c 'import torch; print("torch", torch.__version__, "GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")')"
  echo "- wall time: $(( finished_at - job_started )) s for the whole job$([ -n "${MINI_STARTED:-}" ] && echo ", set-up included"); $(( finished_at - started )) s for training and report"
  echo
  echo "| run | steps | wall time |"
  echo "|---|---|---|"
  printf '%s\n' "${timings[@]}"
} > "$RESULTS/RUN.md"
echo "[mini] training and report: $(( finished_at - started )) s; whole job: $(( finished_at - job_started )) s"
