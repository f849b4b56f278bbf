#!/usr/bin/env bash
# Small (6L-512H) -> Base (12L-768H) on English Wikipedia, for FAMILY=bert (Table 1 /
# Figure 2) or FAMILY=roberta: scratch, StackBERT, bert2BERT and LiGO (100 operator steps),
# the savings report in $RESULTS/table1-$FAMILY, then GLUE for each model (with GLUE_DIR).
# Run through bert_small_to_base.sh or roberta_small_to_base.sh. Settings: common.sh.
source "$(dirname "$0")/common.sh"
pretrain "$FAMILY-small" 6L-512H
pretrain "$FAMILY-base-scratch" 12L-768H
ligo "$FAMILY-base-ligo" "$FAMILY-small" 12L-768H 100 --tune_width --tune_depth
grow "$FAMILY-base-stackbert" "$FAMILY-small" 12L-768H stackbert_direct_copy
grow "$FAMILY-base-bert2bert" "$FAMILY-small" 12L-768H bert2bert_aki
report "table1-$FAMILY" "$FAMILY-base-scratch" "$FAMILY-small" --focus LiGO \
  --run "StackBERT=$RUNS/$FAMILY-base-stackbert" --run "bert2BERT=$RUNS/$FAMILY-base-bert2bert" \
  --run "LiGO=$RUNS/$FAMILY-base-ligo+$RUNS/$FAMILY-base-ligo-operator"
for run in scratch:Scratch stackbert:StackBERT bert2bert:bert2BERT ligo:LiGO; do
  glue "$RESULTS/table1-$FAMILY/glue_table.md" "${run#*:}" "$RUNS/$FAMILY-base-${run%%:*}"
done
