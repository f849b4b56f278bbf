#!/usr/bin/env bash
# Tokenise data/wiki-cased/en.{valid,test,train}.raw for BERT (the authors' command).
# DATA_DIR and TOKENIZER (a hub id or a local tokenizer folder) may be overridden.
exec bash "$(dirname "${BASH_SOURCE[0]}")/tokenize_splits.bash" \
  "${DATA_DIR:-data/wiki-cased}" "${TOKENIZER:-bert-base-uncased}" "$@"
