#!/usr/bin/env bash
# The miniature Figure 5, after `make mini` (its data, small model, scratch run and LiGO operator
# are reused): progressive layer dropping and token dropping, each alone (from scratch) and on
# the LiGO-grown model, every run with the main job's settings and steps (scripts/mini_table1.sh).
# Paper: LiGO's saving grows by 4.7 points with layer dropping and by 7.4 with token dropping.
#   layer dropping: PLD's theta_bar 0.5 (--layer_drop_rate 0.5), falling with depth
#                   (--layer_drop_lin_decay); gamma in the paper-scale recipe's proportion:
#                   0.001 over 400K steps -> 0.001 * 400000 / LARGE_STEPS (0.4 for 1000 steps)
#   token dropping: half the tokens (--token_drop_rate 0.5) from the middle layer (Hou et al.:
#                   L/2 = 2 of 4) to the last, which every token joins again
#   MINI_FIGURE5_RESULTS  where the report goes                (results/mini-figure5)
# shellcheck disable=SC2086  # $layer_drop and $token_drop hold several flags each
set -euo pipefail
mini="${PYTHON:-python} -m ligo.recipes.mini figure5"
$mini begin
runs=$($mini get MINI_RUNS)
layer_drop=$($mini flags layer-drop)
token_drop=$($mini flags token-drop)

echo "== mini Figure 5: 1/3 the main job's runs"
$mini small
$mini scratch "$runs/scratch"
$mini operator "$runs/ligo-operator" --fuse_init_scheme stackbert_noisy rand
$mini grown "$runs/ligo" ligo --pretrained_ligo_path "$runs/ligo-operator"

echo "== mini Figure 5: 2/3 layer and token dropping, from scratch and on LiGO"
$mini scratch "$runs/scratch-layerdrop" $layer_drop
$mini scratch "$runs/scratch-tokendrop" $token_drop
$mini grown "$runs/ligo-layerdrop" ligo --pretrained_ligo_path "$runs/ligo-operator" $layer_drop
$mini grown "$runs/ligo-tokendrop" ligo --pretrained_ligo_path "$runs/ligo-operator" $token_drop

echo "== mini Figure 5: 3/3 savings report and RUN.md"
$mini report --run "Layer drop=$runs/scratch-layerdrop" --run "Token drop=$runs/scratch-tokendrop" \
  --run "LiGO=$runs/ligo+$runs/ligo-operator" \
  --run "LiGO + layer drop=$runs/ligo-layerdrop+$runs/ligo-operator" \
  --run "LiGO + token drop=$runs/ligo-tokendrop+$runs/ligo-operator" \
  --focus "LiGO + token drop"
$mini run-md
