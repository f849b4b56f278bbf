#!/usr/bin/env bash
# The GPT-2 miniature (`make mini-gpt2`): the paper's Figure 3c (GPT2-Base -> GPT2-Medium) in
# miniature on the embedded Wikipedia sample, GPT-2 2L-64H -> 4L-128H (depth and width double),
# with the BERT miniature's proportions and settings (scripts/mini_table1.sh, configs/gpt2_mini.txt)
# at half its steps (500 a run; the operator 12 steps, 2.5% rounded down).
# Stages, each skipped when its output is already there:
#   1. the sample dump and its untokenised text (as `make mini`'s RoBERTa data)
#   2. a GPT-2 byte-level BPE tokenizer (VOCAB_SIZE: 2k tokens) trained on it, and the splits tokenised
#   3. the small GPT-2, the large one from scratch (the target: its final eval loss, i.e. log
#      perplexity), the LiGO operator (2.5% of the large run's steps) and the grown model, then
#      StackBERT (direct copy for the new width), bert2BERT (AKI) and MSLT, every large run with
#      the same settings and steps
#   4. the savings report (python -m ligo.report) into $MINI_RESULTS (results/mini-gpt2), and its RUN.md
# Settings: the environment variables of scripts/mini_table1.sh (e.g. LARGE_STEPS; here MINI_RUNS
# runs/mini-gpt2, the configs configs/gpt2_mini.txt, gpt2-mini-2L-64H.json, gpt2-mini-4L-128H.json),
# plus MINI_GPT2_KI=1 to add KI (about a minute more), MINI_GPT2_DATA and MINI_GPT2_TOKENIZER (the
# text folder, data/wiki-sample-cased-untokenized, and the tokenizer folder, data/tokenizers/gpt2-sample,
# to make, for another MINI_CONFIG). The runs and RUN.md: ligo/recipes/mini.py.
set -euo pipefail
export PYTHON=${PYTHON:-python}
export VALID_LINES=${VALID_LINES:-300} TEST_LINES=${TEST_LINES:-300}
mini="$PYTHON -m ligo.recipes.mini gpt2"
prepare="$PYTHON -m ligo.recipes.data"
$mini begin
data=$($mini get MINI_GPT2_DATA)  # MINI_CONFIG's data files must be in it
tok=$($mini get MINI_GPT2_TOKENIZER)  # MINI_CONFIG's tokenizer_name
runs=$($mini get MINI_RUNS)

echo "== mini GPT-2: 1/4 sample dump and text"
dump=$(bash data/sample/fetch_sample_dump.sh)
WIKI_OUT_DIR=$data bash data/wiki/get_data_cased_untokenized.bash en "$dump"

echo "== mini GPT-2: 2/4 tokenizer and tokenisation"
$prepare tokenizer gpt2 "$data" "$tok"
$prepare tokenise "$data" "$tok"

echo "== mini GPT-2: 3/4 runs: small, scratch, LiGO (operator, then the grown model), StackBERT, bert2BERT, MSLT"
$mini small
$mini scratch "$runs/scratch"
$mini operator "$runs/ligo-operator" --fuse_init_scheme stackbert_noisy rand
$mini grown "$runs/ligo" ligo --pretrained_ligo_path "$runs/ligo-operator"
$mini grown "$runs/stackbert_direct_copy" stackbert_direct_copy
$mini grown "$runs/bert2bert_aki" bert2bert_aki
$mini mslt "$runs/mslt"
ki=()
if [ -n "${MINI_GPT2_KI:-}" ]; then
  echo "== mini GPT-2: 3/4 baseline KI"
  $mini ki "$runs/ki"
  ki=(--run "KI=$runs/ki")
fi

echo "== mini GPT-2: 4/4 savings report and RUN.md"
$mini report --run "StackBERT=$runs/stackbert_direct_copy" --run "MSLT=$runs/mslt" ${ki[@]+"${ki[@]}"} \
  --run "bert2BERT=$runs/bert2bert_aki" --run "LiGO=$runs/ligo+$runs/ligo-operator" --focus LiGO
$mini run-md
