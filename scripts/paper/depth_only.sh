#!/usr/bin/env bash
# Depth-only growth: BERT 6L-768H -> 12L-768H (BERT-Base). LiGO learns the depth expansion only.
# Paper: LiGO saves 51.7% of the FLOPs of BERT-Base from scratch.
# Shares the scratch BERT-Base run with bert_small_to_base.sh (same RUNS). Settings: common.sh.
FAMILY=bert
source "$(dirname "$0")/common.sh"
pretrain bert-6L-768H 6L-768H
pretrain bert-base-scratch 12L-768H
ligo bert-base-ligo-depth bert-6L-768H 12L-768H "$OPERATOR_STEPS" --tune_depth
grow bert-base-stackbert-depth bert-6L-768H 12L-768H stackbert
grow bert-base-interpolation-depth bert-6L-768H 12L-768H interpolation
report depth-only bert-base-scratch bert-6L-768H --focus LiGO \
  --run "StackBERT=$RUNS/bert-base-stackbert-depth" --run "Interpolation=$RUNS/bert-base-interpolation-depth" \
  --run "LiGO=$RUNS/bert-base-ligo-depth+$RUNS/bert-base-ligo-depth-operator"
