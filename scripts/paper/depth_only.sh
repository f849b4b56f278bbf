#!/usr/bin/env bash
# Depth-only growth: BERT 6L-768H -> 12L-768H (BERT-Base). LiGO learns the depth expansion only.
# Paper: LiGO saves 51.7% of the FLOPs of BERT-Base from scratch.
# Shares the scratch BERT-Base run with bert_small_to_base.sh (same RUNS). Settings:
# small_to_base.sh.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper bert"
$paper settings
runs=$($paper get RUNS)
$paper pretrain bert-6L-768H 6L-768H
$paper pretrain bert-base-scratch 12L-768H
$paper ligo bert-base-ligo-depth bert-6L-768H 12L-768H "$($paper get OPERATOR_STEPS)" --tune_depth
$paper grow bert-base-stackbert-depth bert-6L-768H 12L-768H stackbert
$paper grow bert-base-interpolation-depth bert-6L-768H 12L-768H interpolation
$paper report depth-only bert-base-scratch bert-6L-768H --focus LiGO \
  --run "StackBERT=$runs/bert-base-stackbert-depth" --run "Interpolation=$runs/bert-base-interpolation-depth" \
  --run "LiGO=$runs/bert-base-ligo-depth+$runs/bert-base-ligo-depth-operator"
