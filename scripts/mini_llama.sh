#!/usr/bin/env bash
# The Llama miniature (`make mini-llama`): the GPT-2 miniature (scripts/mini_gpt2.sh) for a Llama
# with grouped-query attention on the embedded Wikipedia sample, 2L-64H (4 query / 2 key-value
# heads of 16) -> 4L-128H (8 / 4): depth and width double, heads are added whole.
# Stages, each skipped when its output is already there:
#   1. the sample dump and its untokenised text (as `make mini-gpt2`'s)
#   2. a Llama byte-level BPE tokenizer (VOCAB_SIZE: 2k tokens) trained on it, and the splits tokenised
#   3. the small Llama, the large one from scratch (the target: its final eval loss), the LiGO
#      operator (2.5% of the large run's steps) and the grown model, then G_stack's stacking
#      (StackBERT, direct copy for the new width), bert2BERT (AKI), Net2Net with HyperCloning's
#      symmetric noise (bert2BERT's FPI: Net2Net width, stacked depth, --grow_noise) and MSLT,
#      every large run with the same settings and steps
#   4. the savings report (python -m ligo.report) into $MINI_RESULTS (results/mini-llama), and its RUN.md
# Settings: the environment variables of scripts/mini_table1.sh (here MINI_RUNS runs/mini-llama, the
# configs configs/llama_mini.txt, llama-mini-2L-64H.json, llama-mini-4L-128H.json), plus
# MINI_LLAMA_DATA and MINI_LLAMA_TOKENIZER (data/wiki-sample-cased-untokenized, data/tokenizers/llama-sample)
# The noise's std is 0.1 of each weight's std. The runs and RUN.md: ligo/recipes/mini.py.
set -euo pipefail
export PYTHON=${PYTHON:-python}
export VALID_LINES=${VALID_LINES:-300} TEST_LINES=${TEST_LINES:-300}
mini="$PYTHON -m ligo.recipes.mini llama"
prepare="$PYTHON -m ligo.recipes.data"
$mini begin
data=$($mini get MINI_LLAMA_DATA)  # MINI_CONFIG's data files must be in it
tok=$($mini get MINI_LLAMA_TOKENIZER)  # MINI_CONFIG's tokenizer_name
runs=$($mini get MINI_RUNS)

echo "== mini Llama: 1/4 sample dump and text"
dump=$(bash data/sample/fetch_sample_dump.sh)
WIKI_OUT_DIR=$data bash data/wiki/get_data_cased_untokenized.bash en "$dump"

echo "== mini Llama: 2/4 tokenizer and tokenisation"
$prepare tokenizer llama "$data" "$tok"
$prepare tokenise "$data" "$tok"

echo "== mini Llama: 3/4 runs: small, scratch, LiGO (operator, then the grown model), StackBERT, bert2BERT, Net2Net+noise, MSLT"
$mini small
$mini scratch "$runs/scratch"
$mini operator "$runs/ligo-operator" --fuse_init_scheme stackbert_noisy rand
$mini grown "$runs/ligo" ligo --pretrained_ligo_path "$runs/ligo-operator"
$mini grown "$runs/stackbert_direct_copy" stackbert_direct_copy
$mini grown "$runs/bert2bert_aki" bert2bert_aki
$mini grown "$runs/net2net_noise" bert2bert_fpi --grow_noise 0.1
$mini mslt "$runs/mslt"

echo "== mini Llama: 4/4 savings report and RUN.md"
$mini report --run "StackBERT=$runs/stackbert_direct_copy" --run "MSLT=$runs/mslt" \
  --run "bert2BERT=$runs/bert2bert_aki" --run "Net2Net+noise=$runs/net2net_noise" \
  --run "LiGO=$runs/ligo+$runs/ligo-operator" --focus LiGO
$mini run-md
