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
# Settings: small_to_base.sh (here GLOBAL_BATCH 1024, PER_GPU 128, STEPS 375300 = 300 epochs of
# 1,251 steps, WARMUP_STEPS 6255 = 5 epochs, for every run, grown ones included), DATA_PATH.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper vit"
$paper settings
runs=$($paper get RUNS)
warmup=$($paper get WARMUP_STEPS)
$paper scratch deit-s 12L-384H --warmup_steps "$warmup"
$paper scratch deit-b-scratch 12L-768H --warmup_steps "$warmup" --seed 17
$paper ligo deit-b-ligo deit-s 12L-768H "$($paper get OPERATOR_STEPS)" --tune_width --tune_depth
$paper grow deit-b-stackbert deit-s 12L-768H stackbert_direct_copy
$paper grow deit-b-bert2bert deit-s 12L-768H bert2bert_aki
$paper grow deit-b-net2net deit-s 12L-768H bert2bert_fpi
$paper ki deit-b-ki deit-s 12L-768H --warmup_steps "$warmup"
$paper report deit-s-to-b deit-b-scratch deit-s --focus LiGO --metric eval_top1 \
  --target "$($paper get TARGET_TOP1)" \
  --run "StackBERT=$runs/deit-b-stackbert" --run "KI=$runs/deit-b-ki" --run "bert2BERT=$runs/deit-b-bert2bert" \
  --run "Net2Net=$runs/deit-b-net2net" --run "LiGO=$runs/deit-b-ligo+$runs/deit-b-ligo-operator"
