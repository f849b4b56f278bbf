#!/usr/bin/env bash
# Small (6L-512H) -> Base (12L-768H) on English Wikipedia, for FAMILY=bert (Table 1 /
# Figure 2) or FAMILY=roberta: scratch, StackBERT, MSLT, KI, bert2BERT and LiGO (100 operator
# steps), the savings report in $RESULTS/table1-$FAMILY, then GLUE (with GLUE_DIR) and SQuAD
# (with SQUAD_DIR) for each model, both in one results table (glue_table.md: a row a model, as
# Table 1).
# Run through bert_small_to_base.sh or roberta_small_to_base.sh. Settings: common.sh.
source "$(dirname "$0")/common.sh"
pretrain "$FAMILY-small" 6L-512H
pretrain "$FAMILY-base-scratch" 12L-768H
ligo "$FAMILY-base-ligo" "$FAMILY-small" 12L-768H "$OPERATOR_STEPS" --tune_width --tune_depth
grow "$FAMILY-base-stackbert" "$FAMILY-small" 12L-768H stackbert_direct_copy
grow "$FAMILY-base-bert2bert" "$FAMILY-small" 12L-768H bert2bert_aki
mslt "$FAMILY-base-mslt" "$FAMILY-small" 12L-768H
ki "$FAMILY-base-ki" "$FAMILY-small" 12L-768H
report "table1-$FAMILY" "$FAMILY-base-scratch" "$FAMILY-small" --focus LiGO \
  --run "StackBERT=$RUNS/$FAMILY-base-stackbert" --run "MSLT=$RUNS/$FAMILY-base-mslt" \
  --run "KI=$RUNS/$FAMILY-base-ki" --run "bert2BERT=$RUNS/$FAMILY-base-bert2bert" \
  --run "LiGO=$RUNS/$FAMILY-base-ligo+$RUNS/$FAMILY-base-ligo-operator"
for run in scratch:Scratch stackbert:StackBERT mslt:MSLT ki:KI bert2bert:bert2BERT ligo:LiGO; do
  glue "$RESULTS/table1-$FAMILY/glue_table.md" "${run#*:}" "$RUNS/$FAMILY-base-${run%%:*}"
  squad "$RESULTS/table1-$FAMILY/glue_table.md" "${run#*:}" "$RUNS/$FAMILY-base-${run%%:*}"
done
