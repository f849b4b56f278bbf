#!/usr/bin/env bash
# The causal-LM miniatures: `bash scripts/mini_causal_lm.sh gpt2` (`make mini-gpt2`, the paper's
# Figure 3c, GPT2-Base -> GPT2-Medium, in miniature) and `... llama` (`make mini-llama`: a Llama
# with grouped-query attention, 4 query / 2 key-value heads of 16 -> 8 / 4) on the embedded
# Wikipedia sample, 2L-64H -> 4L-128H (depth and width double), with the BERT miniature's
# proportions and settings (scripts/mini_table1.sh; configs/FAMILY_mini.txt) at half its steps
# (500 a run; the operator 12 steps, 2.5% rounded down).
# Stages, each skipped when its output is already there:
#   1. the sample dump and its untokenised text (as `make mini`'s RoBERTa data)
#   2. the family's byte-level BPE tokenizer (VOCAB_SIZE: 2k tokens) trained on it, the splits tokenised
#   3. the small model, the large one from scratch (the target: its final eval loss, i.e. log
#      perplexity), the LiGO operator and the grown model, then StackBERT (direct copy for the new
#      width), bert2BERT (AKI), MSLT, every large run with the same settings and steps; for Llama
#      also Net2Net with HyperCloning's symmetric noise (bert2BERT's FPI with --grow_noise
#      MINI_GROW_NOISE, 0.1; set it for GPT-2 to add the row there); MINI_KI=1 adds KI (a minute more)
#   4. the savings report (python -m ligo.report) into $MINI_RESULTS (results/mini-FAMILY), and its RUN.md
# Settings: the environment variables of scripts/mini_table1.sh (e.g. LARGE_STEPS; here MINI_RUNS
# runs/mini-FAMILY, the configs configs/FAMILY_mini.txt, FAMILY-mini-2L-64H.json, FAMILY-mini-4L-128H.json),
# plus MINI_GPT2_DATA / MINI_LLAMA_DATA and MINI_GPT2_TOKENIZER / MINI_LLAMA_TOKENIZER (the text
# folder, data/wiki-sample-cased-untokenized, and the tokenizer folder, data/tokenizers/FAMILY-sample,
# to make, for another MINI_CONFIG). The runs and RUN.md: ligo/recipes/mini.py.
set -euo pipefail
family=${1:?usage: bash scripts/mini_causal_lm.sh gpt2|llama}
export PYTHON=${PYTHON:-python}
export VALID_LINES=${VALID_LINES:-300} TEST_LINES=${TEST_LINES:-300}
mini="$PYTHON -m ligo.recipes.mini $family"
prepare="$PYTHON -m ligo.recipes.data"
$mini begin
data=$($mini get "MINI_${family^^}_DATA")  # MINI_CONFIG's data files must be in it
tok=$($mini get "MINI_${family^^}_TOKENIZER")  # MINI_CONFIG's tokenizer_name
runs=$($mini get MINI_RUNS)

echo "== mini $family: 1/4 sample dump and text"
dump=$(bash data/sample/fetch_sample_dump.sh)
WIKI_OUT_DIR=$data bash data/wiki/get_data_cased_untokenized.bash en "$dump"

echo "== mini $family: 2/4 tokenizer and tokenisation"
$prepare tokenizer "$family" "$data" "$tok"
$prepare tokenise "$data" "$tok"

echo "== mini $family: 3/4 runs: small, scratch, LiGO (operator, then the grown model), StackBERT, bert2BERT, MSLT"
source "$(dirname "${BASH_SOURCE[0]}")/mini_rows.sh"  # small, scratch, LiGO, StackBERT, bert2BERT
noise=$($mini get MINI_GROW_NOISE)
net2net=()
if [ -n "$noise" ]; then
  $mini grown "$runs/net2net_noise" bert2bert_fpi --grow_noise "$noise"
  net2net=(--run "Net2Net+noise=$runs/net2net_noise")
fi
$mini mslt "$runs/mslt"
ki=()
if [ -n "${MINI_KI:-}" ]; then
  echo "== mini $family: 3/4 baseline KI"
  $mini ki "$runs/ki"
  ki=(--run "KI=$runs/ki")
fi

echo "== mini $family: 4/4 savings report and RUN.md"
$mini report --run "StackBERT=$runs/stackbert_direct_copy" --run "MSLT=$runs/mslt" ${ki[@]+"${ki[@]}"} \
  --run "bert2BERT=$runs/bert2bert_aki" ${net2net[@]+"${net2net[@]}"} \
  --run "LiGO=$runs/ligo+$runs/ligo-operator" --focus LiGO
$mini run-md
