#!/usr/bin/env bash
# The miniature Table 1 with several seeds of every large-model run (scratch, the LiGO operator
# and its grown model, each baseline), the tokenizer and the small model fixed: the spread
# that one seed cannot show. After `make mini` (the data, the small model, and seed 17's runs,
# which are reused: they are the main job's). About 15 minutes a new seed on 2 cores.
#   MINI_SEEDS          seeds of the large runs                 ("17 18 19")
#   MINI_SEEDS_RUNS     where the other seeds' runs go           (runs/mini-seeds)
#   MINI_SEEDS_RESULTS  the aggregated table                     (results/mini-seeds)
#   and every setting of scripts/mini_common.sh (MINI_RUNS: the main job's runs, runs/mini).
# Each seed's report goes to $MINI_SEEDS_RESULTS/seed-N/; python -m ligo.report.seeds aggregates them.
# The operator's seed is the large runs' seed + 12 (17 -> 29, the main job's).
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
PYTHON=${PYTHON:-python}
SEEDS=${MINI_SEEDS:-17 18 19}
MAIN_RUNS=${MINI_RUNS:-runs/mini}
ROOT=${MINI_SEEDS_RUNS:-runs/mini-seeds}
RESULTS=${MINI_SEEDS_RESULTS:-results/mini-seeds}
MAIN_SEED=17  # the main job's (scripts/mini_common.sh)
started=$(date +%s)
reports=()
for seed in $SEEDS; do
  runs=$ROOT/seed-$seed
  [ "$seed" = "$MAIN_SEED" ] && runs=$MAIN_RUNS
  echo "=== mini seeds: seed $seed ($runs)"
  MINI_SEED=$seed MINI_OPERATOR_SEED=$(( seed + 12 )) MINI_RUNS=$runs MINI_SMALL_RUN=$MAIN_RUNS/small \
    MINI_RESULTS=$RESULTS/seed-$seed MINI_COMMAND="bash scripts/mini_seeds.sh" bash "$here/mini_table1.sh"
  reports+=(--report "seed-$seed=$RESULTS/seed-$seed")
done
"$PYTHON" -m ligo.report.seeds "${reports[@]}" --output_dir "$RESULTS" --focus LiGO
source "$here/mini_common.sh"  # for describe_machine
{
  echo "# How this table was made"
  echo
  echo "- command: \`bash scripts/mini_seeds.sh\` (after \`make mini\`), seeds: $SEEDS"
  describe_machine
  echo "- finished: $(date -u +'%Y-%m-%d %H:%M UTC'); wall time $(( $(date +%s) - started )) s (runs already finished are reused)"
  echo "- every seed runs scripts/mini_table1.sh with MINI_SEED=seed, MINI_OPERATOR_SEED=seed + 12 and the small model of \`$MAIN_RUNS/small\`; seed $MAIN_SEED's runs are the main job's (\`$MAIN_RUNS\`), the others' are in \`$ROOT/seed-N\`. Each seed's report, with its RUN.md (settings, per-run wall times), is in \`seed-N/\` here."
} > "$RESULTS/RUN.md"
