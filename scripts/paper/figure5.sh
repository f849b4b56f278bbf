#!/usr/bin/env bash
# Figure 5: LiGO combined with progressive layer dropping and with token dropping, BERT-Small
# (6L-512H) -> BERT-Base (12L-768H). Paper: LiGO's saving grows by 4.7 points with layer
# dropping and by 7.4 with token dropping. Each method runs from scratch too, so the report shows
# what it saves alone and on top of LiGO, every row against plain scratch:
#   layer dropping: PLD's theta_bar 0.5 (--layer_drop_rate 0.5), keep probability falling with
#                   depth (--layer_drop_lin_decay), gamma LAYER_DROP_GAMMA (DeepSpeed's 0.001)
#   token dropping: half the tokens (--token_drop_rate 0.5) from the middle layer (Hou et al.:
#                   layer L/2 = 6, TOKEN_DROP_START) to the last, which every token joins again
# Shares bert-small, the scratch run and the LiGO operator with bert_small_to_base.sh (same
# RUNS). Settings: small_to_base.sh.
# shellcheck disable=SC2086  # $layer_drop and $token_drop hold several flags each
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper bert"
$paper settings
runs=$($paper get RUNS)
layer_drop=$($paper flags layer-drop)
token_drop=$($paper flags token-drop)
$paper pretrain bert-small 6L-512H
$paper pretrain bert-base-scratch 12L-768H
$paper ligo bert-base-ligo bert-small 12L-768H "$($paper get OPERATOR_STEPS)" --tune_width --tune_depth
$paper scratch bert-base-scratch-layerdrop 12L-768H $layer_drop
$paper scratch bert-base-scratch-tokendrop 12L-768H $token_drop
$paper ligo-grown bert-base-ligo-layerdrop bert-small 12L-768H bert-base-ligo-operator $layer_drop
$paper ligo-grown bert-base-ligo-tokendrop bert-small 12L-768H bert-base-ligo-operator $token_drop
$paper report figure5 bert-base-scratch bert-small --focus "LiGO + token drop" \
  --run "Layer drop=$runs/bert-base-scratch-layerdrop" --run "Token drop=$runs/bert-base-scratch-tokendrop" \
  --run "LiGO=$runs/bert-base-ligo+$runs/bert-base-ligo-operator" \
  --run "LiGO + layer drop=$runs/bert-base-ligo-layerdrop+$runs/bert-base-ligo-operator" \
  --run "LiGO + token drop=$runs/bert-base-ligo-tokendrop+$runs/bert-base-ligo-operator"
