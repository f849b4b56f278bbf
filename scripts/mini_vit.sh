#!/usr/bin/env bash
# The ViT miniature (`make mini-vit`): the paper's Table 2 (DeiT-S -> DeiT-B on ImageNet) in
# miniature on real images that ship inside a package here, scikit-learn's handwritten digits,
# ViT 2L-32H -> 4L-64H (depth and width double) with DeiT's recipe scaled to 8x8 digits
# (configs/vit_mini.txt) and the language miniatures' proportions (scripts/mini_common.sh).
# Stages, each skipped when its output is already there:
#   1. the digits as an ImageFolder tree, data/digits/{train,val}/<digit>/<index>.png
#   2. the small ViT, the large one from scratch (the target: its final top-1 accuracy on val),
#      the LiGO operator (2.5% of the large run's steps) and the grown model, then StackBERT
#      (direct copy for the new width), bert2BERT (AKI), MSLT and KI (the small model teaching the
#      large one from scratch), every large run with the same settings and steps
#   3. the savings report (python -m ligo.report, accuracy target) into $MINI_RESULTS
#      (results/mini-vit), and its RUN.md
# Settings: the environment variables of scripts/mini_common.sh (e.g. LARGE_STEPS), plus
# MINI_VIT_DATA (the image folder to make and train on).
set -euo pipefail
export PYTHON=${PYTHON:-python}
here=$(dirname "${BASH_SOURCE[0]}")
data=${MINI_VIT_DATA:-data/digits}
export MINI_CONFIG=${MINI_CONFIG:-configs/vit_mini.txt}
export MINI_SMALL_CONFIG=${MINI_SMALL_CONFIG:-configs/vit-mini-2L-32H.json}
export MINI_LARGE_CONFIG=${MINI_LARGE_CONFIG:-configs/vit-mini-4L-64H.json}
export MINI_RUNS=${MINI_RUNS:-runs/mini-vit}
export MINI_ENTRY=run_image_distributed.py
export SMALL_STEPS=${SMALL_STEPS:-600} LARGE_STEPS=${LARGE_STEPS:-600}
export OPERATOR_STEPS=${OPERATOR_STEPS:-$(( LARGE_STEPS / 40 > 0 ? LARGE_STEPS / 40 : 1 ))}
export MINI_FLAGS="--data_path $data${MINI_FLAGS:+ $MINI_FLAGS}"
RESULTS=${MINI_RESULTS:-results/mini-vit}
job_started=${MINI_STARTED:-$(date +%s)}

echo "== mini ViT: 1/3 the digits as an ImageFolder tree in $data"
"$PYTHON" -m ligo.data.digits --output_dir "$data"

source "$here/mini_common.sh"
started=$(date +%s)
train_table_rows "mini ViT: 2/3"
echo "== mini ViT: 2/3 baseline KI"
train_ki "$RUNS/ki"

echo "== mini ViT: 3/3 savings report -> $RESULTS"
"$PYTHON" -m ligo.report --scratch "$RUNS/scratch" --small "$SMALL_RUN" --output_dir "$RESULTS" \
  --run "StackBERT=$RUNS/stackbert_direct_copy" \
  --run "MSLT=$RUNS/mslt" \
  --run "KI=$RUNS/ki" \
  --run "bert2BERT=$RUNS/bert2bert_aki" \
  --run "LiGO=$RUNS/ligo+$RUNS/ligo-operator" \
  --focus LiGO
finished_at=$(date +%s)
{
  run_md_head "\`${MINI_COMMAND:-make mini-vit}\`"
  echo "- data: scikit-learn's \`load_digits\` written by \`python -m ligo.data.digits --output_dir $data\` (1,437 training, 360 validation images, 10 classes, split seed 0)"
  echo "- settings: \`$CONFIG\` plus \`$MINI_FLAGS\`; small \`$SMALL\` $SMALL_STEPS steps (warm-up $SMALL_WARMUP, the config's seed); large \`$LARGE\` $LARGE_STEPS steps, seed $SEED; scratch warm-up $SCRATCH_WARMUP steps, grown runs $GROWN_WARMUP; LiGO operator $OPERATOR_STEPS steps (seed $OPERATOR_SEED, warm-up $(( OPERATOR_STEPS / 10 )))"
  run_md_timings
} > "$RESULTS/RUN.md"
echo "[mini] training and report: $(( finished_at - started )) s; whole job: $(( finished_at - job_started )) s"
