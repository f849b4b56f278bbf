#!/usr/bin/env bash
# Table 3: how long to train the operator. BERT-Small -> BERT-Base with 100 (OPERATOR_STEPS),
# 500, 1000 and 10000 (OPERATOR_STEPS_LIST) LiGO steps. Paper: FLOPs saved 44.7%, 44.5%, 44.2%,
# 38.9%. Shares bert-small, the scratch run and the 100-step LiGO run with bert_small_to_base.sh.
# Settings: small_to_base.sh.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper bert"
$paper settings
runs=$($paper get RUNS)
operator_steps=$($paper get OPERATOR_STEPS)
$paper pretrain bert-small 6L-512H
$paper pretrain bert-base-scratch 12L-768H
$paper ligo bert-base-ligo bert-small 12L-768H "$operator_steps" --tune_width --tune_depth
rows=(--run "LiGO-$operator_steps=$runs/bert-base-ligo+$runs/bert-base-ligo-operator")
for steps in $($paper get OPERATOR_STEPS_LIST); do
  $paper ligo "bert-base-ligo-$steps" bert-small 12L-768H "$steps" --tune_width --tune_depth
  rows+=(--run "LiGO-$steps=$runs/bert-base-ligo-$steps+$runs/bert-base-ligo-$steps-operator")
done
$paper report table3-operator-steps bert-base-scratch bert-small "${rows[@]}"
