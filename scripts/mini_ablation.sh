#!/usr/bin/env bash
# An ablation of the miniature Table 1: what decides LiGO against StackBERT at this scale.
# After `make mini` (data, small model, seed 17's runs) and, for the other seeds, their runs
# from scripts/mini_seeds.sh (trained here if missing). Every cell is one grown large-model
# run with the same large-run settings as the table, against the same seed's scratch run;
# only what the cell names changes:
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
# matrices' ranks at growth and after this many steps), and scripts/mini_common.sh's.
# Writes per seed a savings report of every cell (ligo.report.savings), then seeds.md (mean ± sd
# over the seeds, ligo.report.seeds), operator movement and grown-matrix ranks
# (ligo.growth.diagnostics). Finished runs are reused, interrupted ones resumed.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
PYTHON=${PYTHON:-python}
SEEDS=${ABLATION_SEEDS:-17 18}
ALL_CELLS="ops-0 ops-1pct ops-25pct op-authors op-lr-low width-sel_noisy residual ligo-warmup stackbert-warmup
stackbert-ligo-width"
CELLS=${ABLATION_CELLS:-$ALL_CELLS}
ROOT=${ABLATION_RUNS:-runs/ablation}
RESULTS=${ABLATION_RESULTS:-results/ablation}
MAIN_RUNS=${MINI_RUNS:-runs/mini}
SEEDS_RUNS=${MINI_SEEDS_RUNS:-runs/mini-seeds}
MAIN_SEED=17
started=$(date +%s)
for cell in $CELLS; do
  [[ " $(echo $ALL_CELLS) " == *" $cell "* ]] || { echo "ABLATION_CELLS: '$cell' is not one of: $(echo $ALL_CELLS)" >&2; exit 2; }
done

base_runs() { if [ "$1" = "$MAIN_SEED" ]; then echo "$MAIN_RUNS"; else echo "$SEEDS_RUNS/seed-$1"; fi; }

reports=()
for seed in $SEEDS; do
  base=$(base_runs "$seed")
  echo "=== ablation: seed $seed (the table's runs: $base)"
  # The table's own runs for this seed (scratch, LiGO, StackBERT...): reused when finished.
  MINI_SEED=$seed MINI_OPERATOR_SEED=$(( seed + 12 )) MINI_RUNS=$base MINI_SMALL_RUN=$MAIN_RUNS/small \
    MINI_RESULTS=$base/report MINI_COMMAND="bash scripts/mini_ablation.sh" bash "$here/mini_table1.sh"
  (
    export MINI_SEED=$seed MINI_OPERATOR_SEED=$(( seed + 12 )) MINI_RUNS=$base MINI_SMALL_RUN=$MAIN_RUNS/small
    source "$here/mini_common.sh"
    out=$ROOT/seed-$seed
    runs=(--run "LiGO (table: 2.5% operator)=$base/ligo+$base/ligo-operator" --run "StackBERT (table)=$base/stackbert_direct_copy")
    ligo_cell() {  # ligo_cell CELL LABEL OPERATOR_STEPS [OPERATOR FLAGS...]: an operator, then its grown run
      local cell=$1 label=$2 steps=$3; shift 3
      train_operator "$out/$cell-operator" "$steps" "$@"
      train_grown "$out/$cell" ligo --pretrained_ligo_path "$out/$cell-operator"
      runs+=(--run "$label=$out/$cell+$out/$cell-operator")
    }
    for cell in $CELLS; do
      echo "== ablation seed $seed: $cell"
      case $cell in
        ops-0)
          train_grown "$out/$cell" ligo --pretrained_ligo_path "$base/ligo-operator/checkpoints/checkpoint-00000000"
          runs+=(--run "LiGO, 0 operator steps (init alone)=$out/$cell") ;;
        ops-1pct) ligo_cell "$cell" "LiGO, operator 1% (10 steps)" 10 --fuse_init_scheme stackbert_noisy rand ;;
        ops-25pct) ligo_cell "$cell" "LiGO, operator 25% (250 steps)" 250 --fuse_init_scheme stackbert_noisy rand ;;
        op-authors) ligo_cell "$cell" "LiGO, authors' operator recipe (lr 2e-4, warm-up 10000)" "$OPERATOR_STEPS" \
          --fuse_init_scheme stackbert_noisy rand --learning_rate 2e-4 --warmup_steps 10000 ;;
        op-lr-low) ligo_cell "$cell" "LiGO, operator lr 1e-4" "$OPERATOR_STEPS" --fuse_init_scheme stackbert_noisy rand \
          --learning_rate 1e-4 ;;
        width-sel_noisy) ligo_cell "$cell" "LiGO, width init sel_noisy" "$OPERATOR_STEPS" \
          --fuse_init_scheme stackbert_noisy sel_noisy ;;
        residual) ligo_cell "$cell" "LiGO, --tune_residual" "$OPERATOR_STEPS" --fuse_init_scheme stackbert_noisy rand \
          --tune_residual ;;
        ligo-warmup)
          train_grown "$out/$cell" ligo --pretrained_ligo_path "$base/ligo-operator" --warmup_steps "$SCRATCH_WARMUP"
          runs+=(--run "LiGO, scratch's warm-up after growth=$out/$cell+$base/ligo-operator") ;;
        stackbert-warmup)
          train_grown "$out/$cell" stackbert_direct_copy --warmup_steps "$SCRATCH_WARMUP"
          runs+=(--run "StackBERT, scratch's warm-up after growth=$out/$cell") ;;
        stackbert-ligo-width)
          # An untrained operator: its checkpoint 0 is StackBERT's depth with LiGO's width init.
          train_operator "$out/$cell-operator" 1 --fuse_init_scheme stackbert rand
          train_grown "$out/$cell" ligo --pretrained_ligo_path "$out/$cell-operator/checkpoints/checkpoint-00000000"
          runs+=(--run "StackBERT with LiGO's width init (rand)=$out/$cell") ;;
      esac
    done
    "$PYTHON" -m ligo.report --scratch "$base/scratch" --small "$MAIN_RUNS/small" --output_dir "$RESULTS/seed-$seed" \
      "${runs[@]}" --focus "LiGO (table: 2.5% operator)"
  )
  reports+=(--report "seed-$seed=$RESULTS/seed-$seed")
done

echo "=== ablation: mean ± sd over seeds $SEEDS, operator movement, grown-matrix ranks"
"$PYTHON" -m ligo.report.seeds "${reports[@]}" --output_dir "$RESULTS" --focus "LiGO (table: 2.5% operator)"
first=$(echo $SEEDS | cut -d' ' -f1)
base=$(base_runs "$first")
operators=("$base/ligo-operator")
for cell in $CELLS; do
  [ -d "$ROOT/seed-$first/$cell-operator" ] && operators+=("$ROOT/seed-$first/$cell-operator")
done
"$PYTHON" -m ligo.growth.diagnostics movement --operator "${operators[@]}" --output "$RESULTS/operator_movement.md"
# Query (attention) and FFN-in of the first and last large layers. (Until MSLT and KI joined the
# main job, its bert2BERT-FPI run was measured here; results/ablation holds that measurement.)
"$PYTHON" -m ligo.growth.diagnostics rank --run "$base/ligo" "$base/stackbert_direct_copy" "$base/bert2bert_aki" \
  --steps 0 "${ABLATION_RANK_STEP:-100}" --output "$RESULTS/grown_ranks.md" --tensors \
  bert.encoder.layer.0.attention.self.query.weight bert.encoder.layer.3.attention.self.query.weight \
  bert.encoder.layer.0.intermediate.dense.weight bert.encoder.layer.3.intermediate.dense.weight
source "$here/mini_common.sh"  # for describe_machine
{
  echo "# How this ablation was made"
  echo
  echo "- command: \`bash scripts/mini_ablation.sh\` (after \`make mini\`), seeds: $SEEDS; cells: $(echo $CELLS)"
  describe_machine
  echo "- finished: $(date -u +'%Y-%m-%d %H:%M UTC'); wall time $(( $(date +%s) - started )) s (finished runs are reused)"
  echo "- every cell: one grown run of the table's large-run settings (scripts/mini_common.sh) against its seed's scratch run; per-seed reports in \`seed-N/\`, mean ± sd in \`seeds.md\`, operator movement (seed $first) in \`operator_movement.md\`, grown-matrix ranks (seed $first) in \`grown_ranks.md\`"
} > "$RESULTS/RUN.md"
