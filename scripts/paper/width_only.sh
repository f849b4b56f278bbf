#!/usr/bin/env bash
# Width-only growth: BERT 12L-512H -> 12L-768H (BERT-Base). LiGO learns the width expansion only.
# Paper: LiGO saves 41.6% of the FLOPs of BERT-Base from scratch.
# Shares the scratch BERT-Base run with bert_small_to_base.sh (same RUNS). Settings:
# small_to_base.sh.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper bert"
$paper settings
runs=$($paper get RUNS)
$paper pretrain bert-12L-512H 12L-512H
$paper pretrain bert-base-scratch 12L-768H
$paper ligo bert-base-ligo-width bert-12L-512H 12L-768H "$($paper get OPERATOR_STEPS)" --tune_width
$paper grow bert-base-net2net-width bert-12L-512H 12L-768H net2net
$paper report width-only bert-base-scratch bert-12L-512H --focus LiGO \
  --run "Net2Net=$runs/bert-base-net2net-width" \
  --run "LiGO=$runs/bert-base-ligo-width+$runs/bert-base-ligo-width-operator"
