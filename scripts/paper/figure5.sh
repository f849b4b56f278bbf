#!/usr/bin/env bash
# Figure 5: LiGO combined with progressive layer dropping and with token dropping, BERT-Small
# (6L-512H) -> BERT-Base (12L-768H). Paper: LiGO's saving grows by 4.7 points with layer
# dropping and by 7.4 with token dropping. Each method runs from scratch too, so the report shows
# what it saves alone and on top of LiGO, every row against plain scratch:
#   layer dropping: PLD's theta_bar 0.5 (--layer_drop_rate 0.5), keep probability falling with
#                   depth (--layer_drop_lin_decay), gamma LAYER_DROP_GAMMA (DeepSpeed's 0.001)
#   token dropping: half the tokens (--token_drop_rate 0.5) from the middle layer (Hou et al.:
#                   layer L/2 = 6) to the last, which every token joins again
# Shares bert-small, the scratch run and the LiGO operator with bert_small_to_base.sh (same
# RUNS). Settings: common.sh.
FAMILY=bert
source "$(dirname "$0")/common.sh"
layer_drop=(--layer_drop --layer_drop_rate 0.5 --layer_drop_lin_decay --layer_drop_gamma "${LAYER_DROP_GAMMA:-0.001}")
token_drop=(--token_drop --token_drop_rate 0.5 --token_drop_start "${TOKEN_DROP_START:-6}" --token_drop_end -1)
pretrain bert-small 6L-512H
pretrain bert-base-scratch 12L-768H
ligo bert-base-ligo bert-small 12L-768H "$OPERATOR_STEPS" --tune_width --tune_depth
scratch bert-base-scratch-layerdrop 12L-768H "${layer_drop[@]}"
scratch bert-base-scratch-tokendrop 12L-768H "${token_drop[@]}"
ligo_grown bert-base-ligo-layerdrop bert-small 12L-768H "$RUNS/bert-base-ligo-operator" "${layer_drop[@]}"
ligo_grown bert-base-ligo-tokendrop bert-small 12L-768H "$RUNS/bert-base-ligo-operator" "${token_drop[@]}"
report figure5 bert-base-scratch bert-small --focus "LiGO + token drop" \
  --run "Layer drop=$RUNS/bert-base-scratch-layerdrop" --run "Token drop=$RUNS/bert-base-scratch-tokendrop" \
  --run "LiGO=$RUNS/bert-base-ligo+$RUNS/bert-base-ligo-operator" \
  --run "LiGO + layer drop=$RUNS/bert-base-ligo-layerdrop+$RUNS/bert-base-ligo-operator" \
  --run "LiGO + token drop=$RUNS/bert-base-ligo-tokendrop+$RUNS/bert-base-ligo-operator"
