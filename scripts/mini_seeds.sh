#!/usr/bin/env bash
# The miniature Table 1 with several seeds of every large-model run (scratch, the LiGO operator
# and its grown model, each baseline), the tokenizer and the small model fixed: the spread
# that one seed cannot show. After `make mini` (the data, the small model, and seed 17's runs,
# which are reused: they are the main job's). About 15 minutes a new seed on 2 cores.
#   MINI_SEEDS          seeds of the large runs                 ("17 18 19")
#   MINI_SEEDS_RUNS     where the other seeds' runs go           (runs/mini-seeds)
#   MINI_SEEDS_RESULTS  the aggregated table                     (results/mini-seeds)
#   and every setting of scripts/mini_table1.sh (MINI_RUNS: the main job's runs, runs/mini).
# Each seed's report goes to $MINI_SEEDS_RESULTS/seed-N/; python -m ligo.report.seeds aggregates them.
# The operator's seed is the large runs' seed + 12 (17 -> 29, the main job's). The logic:
# ligo/recipes/mini_seeds.py.
set -euo pipefail
seeds="${PYTHON:-python} -m ligo.recipes.mini_seeds"
$seeds begin
for seed in $($seeds list); do
  $seeds table "$seed"  # scripts/mini_table1.sh with this seed's runs (printed)
done
$seeds report
