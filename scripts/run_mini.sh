#!/usr/bin/env bash
# The main job on the embedded default data (`make mini` runs set-up, then this).
# Stages, each skipped when its output is already there:
#   1. fetch the real Wikipedia sample dump (gensim 4.4.0's test data, CC BY-SA)
#   2. extract + clean it through the same pipeline as the full dump (BERT: Moses-tokenised;
#      RoBERTa: untokenised), holding out VALID_LINES / TEST_LINES lines
#   3. train a BERT WordPiece (uncased) and a RoBERTa byte-level BPE tokenizer on train
#   4. tokenise train/valid/test into .hdf5 / .line for each
#   5. print what a training run would see
#   6. the miniature Table 1 (scripts/mini_table1.sh): small BERT, large BERT from scratch,
#      LiGO and four baselines, the savings report in results/mini/
set -euo pipefail
export PYTHON=${PYTHON:-python}
export VALID_LINES=${VALID_LINES:-300} TEST_LINES=${TEST_LINES:-300}
# 2k, not 8k: on 540k tokens of text an 8k vocabulary keeps tiny models at the unigram
# plateau (eval loss = unigram entropy) for thousands of steps; with 2k they learn context
# within the budget of the miniature Table 1. The configs/*-mini-*.json match it.
vocab=${VOCAB_SIZE:-2000}
bert_data=data/wiki-sample-cased
roberta_data=data/wiki-sample-cased-untokenized
bert_tok=data/tokenizers/bert-sample-uncased
roberta_tok=data/tokenizers/roberta-sample

echo "== 1/6 sample dump"
dump=$(bash data/sample/fetch_sample_dump.sh)

echo "== 2/6 Wikipedia text"
WIKI_OUT_DIR=$bert_data bash data/wiki/get_data_cased.bash en "$dump"
WIKI_OUT_DIR=$roberta_data bash data/wiki/get_data_cased_untokenized.bash en "$dump"

echo "== 3/6 tokenizers"
for spec in "bert-uncased $bert_data $bert_tok" "roberta $roberta_data $roberta_tok"; do
  read -r kind data tok <<<"$spec"
  if [ -f "$tok/tokenizer.json" ] && [ "$tok/tokenizer.json" -nt "$data/en.train.raw" ] \
     && [ "$(cat "$tok/requested_vocab_size" 2>/dev/null)" = "$vocab" ]; then
    echo "[mini] $tok is up to date"
  else
    "$PYTHON" -m tokenization.train_tokenizer --kind "$kind" --input "$data/en.train.raw" \
      --vocab_size "$vocab" --output_dir "$tok" --overwrite
    echo "$vocab" > "$tok/requested_vocab_size"
  fi
done

echo "== 4/6 tokenisation"
for spec in "$bert_data $bert_tok" "$roberta_data $roberta_tok"; do
  read -r data tok <<<"$spec"
  tag=$(basename "$tok")
  if [ "$data/en.train.raw.$tag.hdf5" -nt "$tok/tokenizer.json" ] && [ "$data/en.test.raw.$tag.hdf5" -nt "$tok/tokenizer.json" ]; then
    echo "[mini] $data is already tokenised with $tag"
  else
    bash tokenization/tokenize_splits.bash "$data" "$tok"
  fi
done

echo "== 5/6 summary"
"$PYTHON" - "$bert_data" "$bert_tok" "$roberta_data" "$roberta_tok" <<'PY'
import sys
from ligo.data.dataset import BlockDataset
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
args = sys.argv[1:]
for data, tok in zip(args[::2], args[1::2]):
    tokenizer = load_tokenizer(tok)
    for split in ("train", "valid", "test"):
        ds = BlockDataset(f"{data}/en.{split}.raw", tokenizer_tag(tok), tokenizer, block_size=62)
        print(f"{data}/en.{split}.raw: {ds.n_tokens:>8} tokens, {len(ds):>5} blocks of 62+2 ({tokenizer_tag(tok)})")
PY

echo "== 6/6 miniature Table 1"
bash scripts/mini_table1.sh
