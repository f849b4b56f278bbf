#!/usr/bin/env bash
# Figure 3c: GPT2-Base (12L-768H, 117M) -> GPT2-Medium (24L-1024H, 345M), causal LM.
# Paper: C4, batch 384 of 1024 tokens; LiGO saves 22.5% of FLOPs. Rows here: scratch, StackBERT
# (with direct copy for the new width), bert2BERT (AKI), MSLT, KI and LiGO (100 operator steps),
# and the savings report (eval loss and perplexity) in $RESULTS/gpt2-base-to-medium.
# The recipe (configs/gpt2_paper.txt) reads data/c4/en.{train,valid}.raw tokenised with a GPT-2
# tokenizer; any corpus works: tokenise it (python -m tokenization.tokenize_dataset DIR FILE TOK)
# and point PAPER_FLAGS at it, e.g.
#   PAPER_FLAGS="--train_data_file data/web/train.txt --eval_data_file data/web/valid.txt
#                --tokenizer_name gpt2" bash scripts/paper/gpt2_base_to_medium.sh
# Settings: common.sh (here GLOBAL_BATCH 384, PER_GPU 16 and STEPS 100000 by default). GLUE and
# SQuAD are for encoders: not run here.
FAMILY=gpt2
GLOBAL_BATCH=${GLOBAL_BATCH:-384}
PER_GPU=${PER_GPU:-16}
STEPS=${STEPS:-100000}
source "$(dirname "$0")/common.sh"
pretrain gpt2-base 12L-768H
pretrain gpt2-medium-scratch 24L-1024H
ligo gpt2-medium-ligo gpt2-base 24L-1024H "$OPERATOR_STEPS" --tune_width --tune_depth
grow gpt2-medium-stackbert gpt2-base 24L-1024H stackbert_direct_copy
grow gpt2-medium-bert2bert gpt2-base 24L-1024H bert2bert_aki
mslt gpt2-medium-mslt gpt2-base 24L-1024H
ki gpt2-medium-ki gpt2-base 24L-1024H
report gpt2-base-to-medium gpt2-medium-scratch gpt2-base --focus LiGO \
  --run "StackBERT=$RUNS/gpt2-medium-stackbert" --run "MSLT=$RUNS/gpt2-medium-mslt" \
  --run "KI=$RUNS/gpt2-medium-ki" --run "bert2BERT=$RUNS/gpt2-medium-bert2bert" \
  --run "LiGO=$RUNS/gpt2-medium-ligo+$RUNS/gpt2-medium-ligo-operator"
