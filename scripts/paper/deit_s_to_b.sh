#!/usr/bin/env bash
# Table 2: DeiT-S (12L-384H, 6 heads) -> DeiT-B (12L-768H, 12 heads) on ImageNet-1k, width only.
# Paper: 300 epochs of batch 1024; to 81% top-1 LiGO saves 55.4% of FLOPs and 52.0% of wall time
# (StackBERT 23.8/15.1%, MSLT 36.7/28.9%, KI -11.2/-36.8%, bert2BERT 40.8/37.0%).
# Rows here: scratch, StackBERT, KI, bert2BERT (AKI), Net2Net (FPI) and LiGO (100 operator steps),
# and the savings report to TARGET_TOP1 (81) in $RESULTS/deit-s-to-b with the accuracy curves.
# The pair has the same depth, so stacking adds no layer: "StackBERT" is its direct copy of the
# small model into the wide one (the new units random), our documented choice (SPEC: not stated
# in the paper). MSLT grows depth in stages: it has no row here (docs/vision.md).
# Data: ImageNet in ImageFolder layout, DATA_PATH/{train,val}/<wnid>/*.JPEG (data/imagenet).
# Settings: common.sh (here GLOBAL_BATCH 1024, PER_GPU 128, STEPS 375300 = 300 epochs of 1,251
# steps, WARMUP_STEPS 6255 = 5 epochs, for every run, grown ones included), DATA_PATH.
FAMILY=vit
GLOBAL_BATCH=${GLOBAL_BATCH:-1024}
PER_GPU=${PER_GPU:-128}
STEPS=${STEPS:-375300}
WARMUP_STEPS=${WARMUP_STEPS:-6255}
PAPER_CONFIG=${PAPER_CONFIG:-configs/vit_imagenet.txt}
PAPER_FLAGS="--data_path ${DATA_PATH:-data/imagenet}${PAPER_FLAGS:+ $PAPER_FLAGS}"
source "$(dirname "$0")/common.sh"
scratch deit-s 12L-384H --warmup_steps "$WARMUP_STEPS"
scratch deit-b-scratch 12L-768H --warmup_steps "$WARMUP_STEPS" --seed 17
ligo deit-b-ligo deit-s 12L-768H "$OPERATOR_STEPS" --tune_width --tune_depth
grow deit-b-stackbert deit-s 12L-768H stackbert_direct_copy
grow deit-b-bert2bert deit-s 12L-768H bert2bert_aki
grow deit-b-net2net deit-s 12L-768H bert2bert_fpi
ki deit-b-ki deit-s 12L-768H --warmup_steps "$WARMUP_STEPS"
report deit-s-to-b deit-b-scratch deit-s --focus LiGO --metric eval_top1 --target "${TARGET_TOP1:-81}" \
  --run "StackBERT=$RUNS/deit-b-stackbert" --run "KI=$RUNS/deit-b-ki" --run "bert2BERT=$RUNS/deit-b-bert2bert" \
  --run "Net2Net=$RUNS/deit-b-net2net" --run "LiGO=$RUNS/deit-b-ligo+$RUNS/deit-b-ligo-operator"
