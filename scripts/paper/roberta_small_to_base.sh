#!/usr/bin/env bash
# RoBERTa-Small (6L-512H) -> RoBERTa-Base (12L-768H) on English Wikipedia (untokenised).
# Paper: LiGO saves 47.2% of the FLOPs of training RoBERTa-Base from scratch.
# Needs data/wiki-cased-untokenized tokenised for roberta-base (see the README). Settings: common.sh.
FAMILY=roberta
source "$(dirname "$0")/common.sh"
pretrain roberta-small 6L-512H
pretrain roberta-base-scratch 12L-768H
ligo roberta-base-ligo roberta-small 12L-768H 100 --tune_width --tune_depth
grow roberta-base-stackbert roberta-small 12L-768H stackbert_direct_copy
grow roberta-base-bert2bert roberta-small 12L-768H bert2bert_aki
report roberta roberta-base-scratch roberta-small --focus LiGO \
  --run "StackBERT=$RUNS/roberta-base-stackbert" --run "bert2BERT=$RUNS/roberta-base-bert2bert" \
  --run "LiGO=$RUNS/roberta-base-ligo+$RUNS/roberta-base-ligo-operator"
for run in scratch:Scratch stackbert:StackBERT bert2bert:bert2BERT ligo:LiGO; do
  glue "$RESULTS/roberta/glue_table.md" "${run#*:}" "$RUNS/roberta-base-${run%%:*}"
done
