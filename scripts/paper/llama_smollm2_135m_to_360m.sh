#!/usr/bin/env bash
# SmolLM2-135M -> SmolLM2-360M shapes (Allal et al., 2025; not in the LiGO paper), width and depth:
# 30 layers, hidden 576, 9 query and 3 key/value heads of 64, FFN 1536 (135M parameters) -> 32
# layers, hidden 960, 15 and 5 heads, FFN 2560 (362M); tied embeddings, SmolLM2's 49152-token
# vocabulary, rope_theta 100000 (their config.json files). Heads grow whole, three query heads a
# key/value head in both. Every model is trained here from random weights, none is SmolLM2's.
# Rows: scratch, StackBERT (with direct copy for the new width), bert2BERT (AKI), bert2BERT's FPI
# (Net2Net's function-preserving width, StackBERT's depth), MSLT and LiGO (100 operator steps,
# width and depth), and the savings report (eval loss and perplexity) in
# $RESULTS/llama-smollm2-135m-to-360m.
# Settings: the llama family's, as llama_gstack_depth.sh (GLOBAL_BATCH 1024 of 2048 tokens,
# PER_GPU 4, STEPS 100000, GROWN_WARMUP 3000). The recipe, configs/llama_smollm2_paper.txt unless
# PAPER_CONFIG says otherwise, is configs/llama_paper.txt's with SmolLM2's tokenizer
# (HuggingFaceTB/SmolLM2-135M): it reads data/slimpajama/en.{train,valid}.raw tokenised with it;
# any corpus works: tokenise it (python -m tokenization.tokenize_dataset DIR FILE TOK) and point
# PAPER_FLAGS at it, e.g.
#   PAPER_FLAGS="--bf16 --train_data_file data/web/train.txt --eval_data_file data/web/valid.txt"
#     bash scripts/paper/llama_smollm2_135m_to_360m.sh
# Other settings: small_to_base.sh. Llama has no GLUE or SQuAD fine-tuning here.
set -euo pipefail
export PAPER_CONFIG="${PAPER_CONFIG:-configs/llama_smollm2_paper.txt}"
paper="${PYTHON:-python} -m ligo.recipes.paper llama"
$paper settings
runs=$($paper get RUNS)
$paper pretrain smollm2-135m 30L-576H
$paper pretrain smollm2-360m-scratch 32L-960H
$paper ligo smollm2-360m-ligo smollm2-135m 32L-960H "$($paper get OPERATOR_STEPS)" --tune_width --tune_depth
$paper grow smollm2-360m-stackbert smollm2-135m 32L-960H stackbert_direct_copy
$paper grow smollm2-360m-bert2bert smollm2-135m 32L-960H bert2bert_aki
$paper grow smollm2-360m-bert2bert-fpi smollm2-135m 32L-960H bert2bert_fpi
$paper mslt smollm2-360m-mslt smollm2-135m 32L-960H
$paper report llama-smollm2-135m-to-360m smollm2-360m-scratch smollm2-135m --focus LiGO \
  --run "StackBERT=$runs/smollm2-360m-stackbert" --run "bert2BERT=$runs/smollm2-360m-bert2bert" \
  --run "bert2BERT FPI=$runs/smollm2-360m-bert2bert-fpi" --run "MSLT=$runs/smollm2-360m-mslt" \
  --run "LiGO=$runs/smollm2-360m-ligo+$runs/smollm2-360m-ligo-operator"
