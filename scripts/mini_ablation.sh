#!/usr/bin/env bash
# An ablation of the miniature Table 1: what decides LiGO against StackBERT at this scale.
# After `make mini` (data, small model, seed 17's runs) and, for the other seeds, their runs
# from scripts/mini_seeds.sh (trained here if missing). Every cell is one grown large-model
# run with the same large-run settings as the table, against the same seed's scratch run;
# only what the cell names changes (ligo/recipes/mini_ablation.py has them all):
#   LiGO operator steps   ops-0 (its initialisation alone: checkpoint 0 of the table's
#                         operator), ops-1pct (10 steps), the table's 2.5% (25), ops-25pct (250)
#   operator recipe       op-authors: the authors' README (bert_wiki.txt: lr 2e-4 and
#                         warmup_steps 10000 inherited by a 25-step run: lr peaks at 4.8e-7);
#                         op-lr-low: lr 1e-4 (the table's 1e-3 / 10)
#   operator init         width-sel_noisy (new units select one old unit, plus noise) instead
#                         of rand; residual (--tune_residual: a learned additive residual)
#   after growth          ligo-warmup, stackbert-warmup: scratch's warm-up (2.5%) instead of none
#   StackBERT's width     stackbert-ligo-width: StackBERT's depth (no noise) with LiGO's width
#                         initialisation (rand), untrained, against the table's StackBERT whose
#                         new units are random
# Settings: ABLATION_SEEDS ("17 18"), ABLATION_CELLS (all, in the order above), ABLATION_RUNS
# (runs/ablation), ABLATION_RESULTS (results/ablation), ABLATION_RANK_STEP (100: the grown
# matrices' ranks at growth and after this many steps), and scripts/mini_table1.sh's.
# Writes per seed a savings report of every cell (ligo.report.savings), then seeds.md (mean ± sd
# over the seeds, ligo.report.seeds), operator movement and grown-matrix ranks
# (ligo.growth.diagnostics). Finished runs are reused, interrupted ones resumed.
set -euo pipefail
ablation="${PYTHON:-python} -m ligo.recipes.mini_ablation"
$ablation begin
for seed in $($ablation list); do
  $ablation table "$seed"  # the table's own runs for this seed (scripts/mini_table1.sh), reused when finished
  $ablation cells "$seed"  # every cell, then this seed's savings report
done
$ablation report  # mean ± sd over the seeds, operator movement, grown-matrix ranks, RUN.md
