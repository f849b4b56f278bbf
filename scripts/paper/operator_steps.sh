#!/usr/bin/env bash
# Table 3: how long to train the operator. BERT-Small -> BERT-Base with 100, 500, 1000 and
# 10000 LiGO steps. Paper: FLOPs saved 44.7%, 44.5%, 44.2%, 38.9%.
# Shares bert-small, the scratch run and the 100-step LiGO run with bert_small_to_base.sh.
FAMILY=bert
source "$(dirname "$0")/common.sh"
pretrain bert-small 6L-512H
pretrain bert-base-scratch 12L-768H
ligo bert-base-ligo bert-small 12L-768H "$OPERATOR_STEPS" --tune_width --tune_depth
runs=(--run "LiGO-$OPERATOR_STEPS=$RUNS/bert-base-ligo+$RUNS/bert-base-ligo-operator")
for op_steps in ${OPERATOR_STEPS_LIST:-500 1000 10000}; do
  ligo "bert-base-ligo-$op_steps" bert-small 12L-768H "$op_steps" --tune_width --tune_depth
  runs+=(--run "LiGO-$op_steps=$RUNS/bert-base-ligo-$op_steps+$RUNS/bert-base-ligo-$op_steps-operator")
done
report table3-operator-steps bert-base-scratch bert-small "${runs[@]}"
