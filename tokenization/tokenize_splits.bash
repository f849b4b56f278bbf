#!/usr/bin/env bash
# Tokenise DATA_DIR/en.{valid,test,train}.raw with TOKENIZER (hub id or local folder).
# Usage: bash tokenization/tokenize_splits.bash DATA_DIR TOKENIZER [tokenize_dataset flags]
set -euo pipefail
data_dir=$1
tokenizer=$2
shift 2
for split in valid test train; do
  "${PYTHON:-python}" -m tokenization.tokenize_dataset "$data_dir" "en.$split.raw" "$tokenizer" "$@"
done
