#!/usr/bin/env bash
# The miniature Figure 5, after `make mini` (its data, small model, scratch run and LiGO operator
# are reused): progressive layer dropping and token dropping, each alone (from scratch) and on
# the LiGO-grown model, every run with the main job's settings and steps (scripts/mini_common.sh).
# Paper: LiGO's saving grows by 4.7 points with layer dropping and by 7.4 with token dropping.
#   layer dropping: PLD's theta_bar 0.5 (--layer_drop_rate 0.5), falling with depth
#                   (--layer_drop_lin_decay); gamma in the paper-scale recipe's proportion:
#                   0.001 over 400K steps -> 0.001 * 400000 / LARGE_STEPS (0.4 for 1000 steps)
#   token dropping: half the tokens (--token_drop_rate 0.5) from the middle layer (Hou et al.:
#                   L/2 = 2 of 4) to the last, which every token joins again
#   MINI_FIGURE5_RESULTS  where the report goes                (results/mini-figure5)
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
source "$here/mini_common.sh"
RESULTS=${MINI_FIGURE5_RESULTS:-results/mini-figure5}
started=$(date +%s)
gamma=$("$PYTHON" -c "print(0.001 * 400000 / $LARGE_STEPS)")
layer_drop=(--layer_drop --layer_drop_rate 0.5 --layer_drop_lin_decay --layer_drop_gamma "$gamma")
token_drop=(--token_drop --token_drop_rate 0.5 --token_drop_start 2 --token_drop_end -1)

echo "== mini Figure 5: 1/3 the main job's runs"
train_small
train_scratch "$RUNS/scratch"
train_operator "$RUNS/ligo-operator" "$OPERATOR_STEPS" --fuse_init_scheme stackbert_noisy rand
train_grown "$RUNS/ligo" ligo --pretrained_ligo_path "$RUNS/ligo-operator"

echo "== mini Figure 5: 2/3 layer and token dropping, from scratch and on LiGO"
train_scratch "$RUNS/scratch-layerdrop" "${layer_drop[@]}"
train_scratch "$RUNS/scratch-tokendrop" "${token_drop[@]}"
train_grown "$RUNS/ligo-layerdrop" ligo --pretrained_ligo_path "$RUNS/ligo-operator" "${layer_drop[@]}"
train_grown "$RUNS/ligo-tokendrop" ligo --pretrained_ligo_path "$RUNS/ligo-operator" "${token_drop[@]}"

echo "== mini Figure 5: 3/3 savings report -> $RESULTS"
"$PYTHON" -m ligo.report --scratch "$RUNS/scratch" --small "$SMALL_RUN" --output_dir "$RESULTS" \
  --run "Layer drop=$RUNS/scratch-layerdrop" --run "Token drop=$RUNS/scratch-tokendrop" \
  --run "LiGO=$RUNS/ligo+$RUNS/ligo-operator" \
  --run "LiGO + layer drop=$RUNS/ligo-layerdrop+$RUNS/ligo-operator" \
  --run "LiGO + token drop=$RUNS/ligo-tokendrop+$RUNS/ligo-operator" \
  --focus "LiGO + token drop"
{
  echo "# How this report was made"
  echo
  echo "- command: \`bash scripts/mini_figure5.sh\` (after \`make mini\`, whose runs it reuses)"
  describe_machine
  echo "- finished: $(date -u +'%Y-%m-%d %H:%M UTC'); wall time $(( $(date +%s) - started )) s (runs already finished are reused)"
  echo "- settings: \`$CONFIG\`${MINI_FLAGS:+ plus \`$MINI_FLAGS\`}; large \`$LARGE\` $LARGE_STEPS steps, seed $SEED; scratch warm-up $SCRATCH_WARMUP, grown runs $GROWN_WARMUP; layer dropping \`${layer_drop[*]}\`; token dropping \`${token_drop[*]}\`"
  echo
  echo "| run | steps | wall time |"
  echo "|---|---|---|"
  printf '%s\n' "${timings[@]}"
} > "$RESULTS/RUN.md"
