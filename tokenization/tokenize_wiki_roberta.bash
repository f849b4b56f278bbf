#!/usr/bin/env bash
# Tokenise data/wiki-cased-untokenized/en.{valid,test,train}.raw for RoBERTa (the authors' command).
# DATA_DIR and TOKENIZER (a hub id or a local tokenizer folder) may be overridden.
exec bash "$(dirname "${BASH_SOURCE[0]}")/tokenize_splits.bash" \
  "${DATA_DIR:-data/wiki-cased-untokenized}" "${TOKENIZER:-roberta-base}" "$@"
