#!/usr/bin/env bash
# The ViT miniature (`make mini-vit`): the paper's Table 2 (DeiT-S -> DeiT-B on ImageNet) in
# miniature on real images that ship inside a package here, scikit-learn's handwritten digits,
# ViT 2L-32H -> 4L-64H (depth and width double) with DeiT's recipe scaled to 8x8 digits
# (configs/vit_mini.txt) and the language miniatures' proportions (scripts/mini_table1.sh).
# Stages, each skipped when its output is already there:
#   1. the digits as an ImageFolder tree, data/digits/{train,val}/<digit>/<index>.png
#   2. the small ViT, the large one from scratch (the target: its final top-1 accuracy on val),
#      the LiGO operator (2.5% of the large run's steps) and the grown model, then StackBERT
#      (direct copy for the new width), bert2BERT (AKI), MSLT and KI (the small model teaching the
#      large one from scratch), every large run with the same settings and steps
#   3. the savings report (python -m ligo.report, accuracy target) into $MINI_RESULTS
#      (results/mini-vit), and its RUN.md
# Settings: the environment variables of scripts/mini_table1.sh (e.g. LARGE_STEPS; here 600 steps
# a run, MINI_RUNS runs/mini-vit, configs/vit_mini.txt, vit-mini-2L-32H.json, vit-mini-4L-64H.json,
# and always run_image_distributed.py), plus MINI_VIT_DATA (the image folder to make and train on,
# data/digits; every run gets --data_path MINI_VIT_DATA). The runs and RUN.md: ligo/recipes/mini.py.
set -euo pipefail
export PYTHON=${PYTHON:-python}
mini="$PYTHON -m ligo.recipes.mini vit"
$mini begin
data=$($mini get MINI_VIT_DATA)
runs=$($mini get MINI_RUNS)

echo "== mini ViT: 1/3 the digits as an ImageFolder tree in $data"
"$PYTHON" -m ligo.data.digits --output_dir "$data"

echo "== mini ViT: 2/3 runs: small, scratch, LiGO (operator, then the grown model), StackBERT, bert2BERT, MSLT, KI"
source "$(dirname "${BASH_SOURCE[0]}")/mini_rows.sh"  # small, scratch, LiGO, StackBERT, bert2BERT
$mini mslt "$runs/mslt"
$mini ki "$runs/ki"

echo "== mini ViT: 3/3 savings report and RUN.md"
$mini report --run "StackBERT=$runs/stackbert_direct_copy" --run "MSLT=$runs/mslt" --run "KI=$runs/ki" \
  --run "bert2BERT=$runs/bert2bert_aki" --run "LiGO=$runs/ligo+$runs/ligo-operator" --focus LiGO
$mini run-md
