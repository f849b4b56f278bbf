#!/usr/bin/env bash
# Table 1 / Figure 2: BERT-Small (6L-512H) -> BERT-Base (12L-768H) on English Wikipedia.
# Scratch, StackBERT, bert2BERT and LiGO (100 operator steps), then GLUE for each.
# Paper: FLOPs saved StackBERT 34.1%, bert2BERT 29.0%, LiGO 44.7% (wall time 33.3/25.1/40.7%);
# GLUE average scratch 82.25, StackBERT 82.36, bert2BERT 82.42, LiGO 82.57.
# Needs data/wiki-cased tokenised for bert-base-uncased (see the README). Settings: common.sh.
FAMILY=bert
source "$(dirname "$0")/common.sh"
pretrain bert-small 6L-512H
pretrain bert-base-scratch 12L-768H
ligo bert-base-ligo bert-small 12L-768H 100 --tune_width --tune_depth
grow bert-base-stackbert bert-small 12L-768H stackbert_direct_copy
grow bert-base-bert2bert bert-small 12L-768H bert2bert_aki
report table1-bert bert-base-scratch bert-small --focus LiGO \
  --run "StackBERT=$RUNS/bert-base-stackbert" --run "bert2BERT=$RUNS/bert-base-bert2bert" \
  --run "LiGO=$RUNS/bert-base-ligo+$RUNS/bert-base-ligo-operator"
for run in scratch:Scratch stackbert:StackBERT bert2bert:bert2BERT ligo:LiGO; do
  glue "$RESULTS/table1-bert/glue_table.md" "${run#*:}" "$RUNS/bert-base-${run%%:*}"
done
