#!/usr/bin/env bash
# G_stack's setting (Du et al., NeurIPS 2024, "Stacking Your Transformers"; not in the LiGO paper):
# a Llama of 6 layers, hidden 2048 (439M parameters), grown 4x in depth to 24 layers (1.36B), its
# width kept. The models are their released 6L2048H and 24L2048H (github.com/tongxuluo/prts,
# lit_gpt/config.py): 32 query and 32 key/value heads of 64, SwiGLU FFN 5632, untied embeddings,
# Llama 2's 32000-token vocabulary, 2048 positions (TinyLlama's grouped-query attention instead:
# num_key_value_heads 4 in both configs, 395M -> 1.19B). Rows: scratch, G_stack (StackBERT's
# stacking, large layer j copying small layer j mod 6, as their stacking_6L_24L.json),
# interpolation, MSLT (6 -> 12 -> 24 layers), KI and LiGO (depth only: 100 operator steps of
# --tune_depth), and the savings report (eval loss and perplexity) in
# $RESULTS/llama-gstack-6L-to-24L.
# Settings: G_stack's 1024 sequences of 2048 tokens a step (GLOBAL_BATCH 1024, PER_GPU 4) and
# 3000 warm-up steps for every run, grown ones too (GROWN_WARMUP); STEPS 100000 is our choice
# (their scripts: 300000). G_stack grows after 10B tokens (5000 steps) of the small model; here,
# as in every recipe of this folder and the LiGO paper, the small model trains STEPS steps first.
# The recipe (configs/llama_paper.txt) reads data/slimpajama/en.{train,valid}.raw tokenised with
# Llama 2's tokenizer (TinyLlama/TinyLlama_v1.1); any corpus works: tokenise it
# (python -m tokenization.tokenize_dataset DIR FILE TOK) and point PAPER_FLAGS at it, e.g.
#   PAPER_FLAGS="--bf16 --train_data_file data/web/train.txt --eval_data_file data/web/valid.txt"
#     bash scripts/paper/llama_gstack_depth.sh
# Other settings: small_to_base.sh. Llama has no GLUE or SQuAD fine-tuning here.
set -euo pipefail
paper="${PYTHON:-python} -m ligo.recipes.paper llama"
$paper settings
runs=$($paper get RUNS)
$paper pretrain llama-6L-2048H 6L-2048H
$paper pretrain llama-24L-2048H-scratch 24L-2048H
$paper ligo llama-24L-2048H-ligo llama-6L-2048H 24L-2048H "$($paper get OPERATOR_STEPS)" --tune_depth
$paper grow llama-24L-2048H-gstack llama-6L-2048H 24L-2048H stackbert
$paper grow llama-24L-2048H-interpolation llama-6L-2048H 24L-2048H interpolation
$paper mslt llama-24L-2048H-mslt llama-6L-2048H 24L-2048H --mslt_stages 12 24
$paper ki llama-24L-2048H-ki llama-6L-2048H 24L-2048H
$paper report llama-gstack-6L-to-24L llama-24L-2048H-scratch llama-6L-2048H --focus LiGO \
  --run "G_stack=$runs/llama-24L-2048H-gstack" --run "Interpolation=$runs/llama-24L-2048H-interpolation" \
  --run "MSLT=$runs/llama-24L-2048H-mslt" --run "KI=$runs/llama-24L-2048H-ki" \
  --run "LiGO=$runs/llama-24L-2048H-ligo+$runs/llama-24L-2048H-ligo-operator"
