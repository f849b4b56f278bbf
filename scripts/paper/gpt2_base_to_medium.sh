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
# Settings: small_to_base.sh (here GLOBAL_BATCH 384, PER_GPU 16 and STEPS 100000 by default).
# GLUE and SQuAD are for encoders: not run here.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper gpt2"
$paper settings
runs=$($paper get RUNS)
$paper pretrain gpt2-base 12L-768H
$paper pretrain gpt2-medium-scratch 24L-1024H
$paper ligo gpt2-medium-ligo gpt2-base 24L-1024H "$($paper get OPERATOR_STEPS)" --tune_width --tune_depth
$paper grow gpt2-medium-stackbert gpt2-base 24L-1024H stackbert_direct_copy
$paper grow gpt2-medium-bert2bert gpt2-base 24L-1024H bert2bert_aki
$paper mslt gpt2-medium-mslt gpt2-base 24L-1024H
$paper ki gpt2-medium-ki gpt2-base 24L-1024H
$paper report gpt2-base-to-medium gpt2-medium-scratch gpt2-base --focus LiGO \
  --run "StackBERT=$runs/gpt2-medium-stackbert" --run "MSLT=$runs/gpt2-medium-mslt" \
  --run "KI=$runs/gpt2-medium-ki" --run "bert2BERT=$runs/gpt2-medium-bert2bert" \
  --run "LiGO=$runs/gpt2-medium-ligo+$runs/gpt2-medium-ligo-operator"
