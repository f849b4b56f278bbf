#!/usr/bin/env bash
# Small (6L-512H) -> Base (12L-768H) on English Wikipedia, for FAMILY=bert (Table 1 /
# Figure 2) or FAMILY=roberta: scratch, StackBERT, MSLT, KI, bert2BERT and LiGO (100 operator
# steps), the savings report in $RESULTS/table1-$FAMILY, then GLUE (with GLUE_DIR) and SQuAD
# (with SQUAD_DIR) for each model, both in one results table (glue_table.md: a row a model, as
# Table 1).
# Run through bert_small_to_base.sh or roberta_small_to_base.sh. Every recipe here skips finished
# runs and resumes interrupted ones; each command prints what it runs. Settings (RUNS, RESULTS,
# STEPS, GLOBAL_BATCH, PER_GPU, GPUS, GLUE_DIR, SQUAD_DIR, OPERATOR_STEPS, PAPER_FLAGS, ...):
# `python -m ligo.recipes.paper --help`, ligo/recipes/paper.py.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper ${FAMILY:-}"
$paper settings
runs=$($paper get RUNS)
operator_steps=$($paper get OPERATOR_STEPS)
$paper pretrain "$FAMILY-small" 6L-512H
$paper pretrain "$FAMILY-base-scratch" 12L-768H
$paper ligo "$FAMILY-base-ligo" "$FAMILY-small" 12L-768H "$operator_steps" --tune_width --tune_depth
$paper grow "$FAMILY-base-stackbert" "$FAMILY-small" 12L-768H stackbert_direct_copy
$paper grow "$FAMILY-base-bert2bert" "$FAMILY-small" 12L-768H bert2bert_aki
$paper mslt "$FAMILY-base-mslt" "$FAMILY-small" 12L-768H
$paper ki "$FAMILY-base-ki" "$FAMILY-small" 12L-768H
$paper report "table1-$FAMILY" "$FAMILY-base-scratch" "$FAMILY-small" --focus LiGO \
  --run "StackBERT=$runs/$FAMILY-base-stackbert" --run "MSLT=$runs/$FAMILY-base-mslt" \
  --run "KI=$runs/$FAMILY-base-ki" --run "bert2BERT=$runs/$FAMILY-base-bert2bert" \
  --run "LiGO=$runs/$FAMILY-base-ligo+$runs/$FAMILY-base-ligo-operator"
$paper finetune "table1-$FAMILY" Scratch "$FAMILY-base-scratch"
$paper finetune "table1-$FAMILY" StackBERT "$FAMILY-base-stackbert"
$paper finetune "table1-$FAMILY" MSLT "$FAMILY-base-mslt"
$paper finetune "table1-$FAMILY" KI "$FAMILY-base-ki"
$paper finetune "table1-$FAMILY" bert2BERT "$FAMILY-base-bert2bert"
$paper finetune "table1-$FAMILY" LiGO "$FAMILY-base-ligo"
