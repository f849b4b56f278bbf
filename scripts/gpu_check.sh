#!/usr/bin/env bash
# GPU check: at most 4 minutes on one GPU (an H200 lent for a few minutes). In this order:
#   1. the machine: nvidia-smi, torch and CUDA versions, the commit
#   2. data: the Wikipedia sample text (data/wiki-sample-cased, made by `make mini` stages 1-2, or
#      from the carried dump data/sample/enwiki-sample.xml.bz2) and its 2k tokenizer, tokenised
#      if needed
#   3. a short bf16 pretraining run of the small model (run_lm_distributed.py --bf16)
#   4. a short bf16 LiGO operator training from it (run_grow_distributed.py --bf16)
#   5. growth with that operator and a short bf16 run of the large model
#      (run_lm_distributed.py --grow_scheme ligo --pretrained_ligo_path ...)
#   6. tokens/s, achieved FLOP/s and MFU of 3-5 from their metrics.jsonl (ligo/recipes/gpu_metrics.py),
#      with a forecast of scripts/gpu_table1.sh's training time at these speeds
#   7. the CUDA-relevant tests of the suite (GPU_CHECK_PYTEST), in the time left
# The stages, their timing and check.md are ligo/recipes/gpu_check.py's.
# The models are gpu_table1.sh's (configs/bert-gpu-6L-512H.json -> configs/bert-gpu-12L-768H.json,
# 128 sequences of 128 tokens a step), so the speeds measured here are the ones it will run at
# (their 8k vocabulary is larger than the sample tokenizer's 2k: the unused rows cost the same).
# Writes $GPU_CHECK_OUT/check.md (machine, commit, stage timings, the throughput table, the
# test summary) and check.log (everything printed). Exits 1 if any stage failed, 2 on a bad
# setting (one line: error: ...).
#
# With no GPU (or GPU_CHECK_TINY=1) it runs end to end at tiny settings on the CPU (2L-32H ->
# 4L-64H, a few steps of 8 sequences, float32) and says so; its figures are then not GPU figures and go to
# runs/gpu-check/report unless GPU_CHECK_OUT says otherwise.
# Settings (environment):
#   GPU_CHECK_OUT        where check.md and check.log go     (results/gpu; tiny: runs/gpu-check/report)
#   GPU_CHECK_RUNS       where the runs go (emptied first)   (runs/gpu-check)
#   GPU_CHECK_TINY       1: tiny CPU-sized settings          (1 when no GPU is visible)
#   GPU_CHECK_DATA       folder with en.train.raw, en.valid.raw   (data/wiki-sample-cased)
#   GPU_CHECK_TOKENIZER  its tokenizer, trained if missing   (data/tokenizers/bert-sample-uncased)
#   GPU_CHECK_SMALL_STEPS, GPU_CHECK_OPERATOR_STEPS, GPU_CHECK_LARGE_STEPS   (200, 20, 200; tiny 6, 2, 6)
#   GPU_CHECK_BATCH      sequences a step                    (128; tiny 8)
#   GPU_CHECK_FLAGS      extra flags for every run           (none)
#   GPU_CHECK_PYTEST     pytest arguments, or "none"         (CUDA_TESTS in ligo/recipes/gpu_check.py)
#   GPU_CHECK_BUDGET     seconds for the whole check; the tests get what is left   (230)
#   GPU_PEAK_TFLOPS      the device's bf16 dense peak, when the table in ligo/recipes/gpu_metrics.py lacks it
#   PYTHON               interpreter (see scripts/gpu_env.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/gpu_env.sh
"$PYTHON" -m ligo.recipes.gpu_check
