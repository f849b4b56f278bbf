#!/usr/bin/env bash
# Width-only growth: BERT 12L-512H -> 12L-768H (BERT-Base). LiGO learns the width expansion only.
# Paper: LiGO saves 41.6% of the FLOPs of BERT-Base from scratch.
# Shares the scratch BERT-Base run with bert_small_to_base.sh (same RUNS). Settings: common.sh.
FAMILY=bert
source "$(dirname "$0")/common.sh"
pretrain bert-12L-512H 12L-512H
pretrain bert-base-scratch 12L-768H
ligo bert-base-ligo-width bert-12L-512H 12L-768H "$OPERATOR_STEPS" --tune_width
grow bert-base-net2net-width bert-12L-512H 12L-768H net2net
report width-only bert-base-scratch bert-12L-512H --focus LiGO \
  --run "Net2Net=$RUNS/bert-base-net2net-width" \
  --run "LiGO=$RUNS/bert-base-ligo-width+$RUNS/bert-base-ligo-width-operator"
