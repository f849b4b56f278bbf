#!/usr/bin/env bash
# The main job on the embedded default data (`make mini` runs set-up, then this).
# Stages, each skipped when its output is already there:
#   1. fetch the real Wikipedia sample dump (gensim 4.4.0's test data, CC BY-SA)
#   2. extract + clean it through the same pipeline as the full dump (BERT: Moses-tokenised;
#      RoBERTa: untokenised), holding out VALID_LINES / TEST_LINES lines
#   3. train a BERT WordPiece (uncased) and a RoBERTa byte-level BPE tokenizer on train, of
#      VOCAB_SIZE (2000) tokens: see ligo/recipes/data.py
#   4. tokenise train/valid/test into .hdf5 / .line for each
#   5. print what a training run would see
#   6. the miniature Table 1 (scripts/mini_table1.sh): small BERT, large BERT from scratch,
#      LiGO and four baselines, the savings report in results/mini/
set -euo pipefail
export PYTHON=${PYTHON:-python}
export VALID_LINES=${VALID_LINES:-300} TEST_LINES=${TEST_LINES:-300}
prepare="$PYTHON -m ligo.recipes.data"

echo "== 1/6 sample dump"
dump=$(bash data/sample/fetch_sample_dump.sh)

echo "== 2/6 Wikipedia text"
WIKI_OUT_DIR=data/wiki-sample-cased bash data/wiki/get_data_cased.bash en "$dump"
WIKI_OUT_DIR=data/wiki-sample-cased-untokenized bash data/wiki/get_data_cased_untokenized.bash en "$dump"

echo "== 3/6 tokenizers"
$prepare tokenizer bert-uncased data/wiki-sample-cased data/tokenizers/bert-sample-uncased
$prepare tokenizer roberta data/wiki-sample-cased-untokenized data/tokenizers/roberta-sample

echo "== 4/6 tokenisation"
$prepare tokenise data/wiki-sample-cased data/tokenizers/bert-sample-uncased
$prepare tokenise data/wiki-sample-cased-untokenized data/tokenizers/roberta-sample

echo "== 5/6 summary"
$prepare summary data/wiki-sample-cased data/tokenizers/bert-sample-uncased \
  data/wiki-sample-cased-untokenized data/tokenizers/roberta-sample

echo "== 6/6 miniature Table 1"
bash scripts/mini_table1.sh
