#!/usr/bin/env bash
# Prepares, on a machine with network (this project's CPU machines), everything that
# scripts/gpu_check.sh and scripts/gpu_table1.sh need on a GPU machine that has none:
#   1. the Wikipedia sample dump (data/sample/enwiki-sample.xml.bz2) and its text
#      (data/wiki-sample-cased/en.{train,valid,test}.raw), as `make mini` stages 1-2 make them,
#      with the 2k sample tokenizer and tokenisation that gpu_check.sh trains on
#      (ligo/recipes/gpu_data.py)
#   2. the State of the Union speeches (data/sotu/speeches, data/sotu/fetch_sotu.sh)
#   3. wheels of the project's needs that a GPU image lacks (data/gpu-wheels/: configargparse,
#      tensorboardX, sacremoses, wikiextractor, the versions this machine has installed;
#      scripts/gpu_env.sh installs them there when they are missing)
# Every step reuses what is already there. Everything it writes is ignored by git, so it must be
# carried: it ends by printing the paths to name in the device tool's `carry` (docs/gpu.md).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
export PYTHON

echo "== gpu-prepare: 1/3 Wikipedia sample"
"$PYTHON" -m ligo.recipes.gpu_data sample

echo "== gpu-prepare: 2/3 State of the Union speeches"
bash data/sotu/fetch_sotu.sh >/dev/null

echo "== gpu-prepare: 3/3 wheels for the GPU machine -> data/gpu-wheels"
specs=$("$PYTHON" -m ligo.recipes.gpu_data wheels)
# Pure-Python wheels (py3-none-any): they install on the GPU image's Python 3.12 as on any other.
# shellcheck disable=SC2086  # one spec a word
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d data/gpu-wheels $specs
ls data/gpu-wheels/*.whl
echo "[gpu-prepare] done. Name these in the device tool's carry (all ignored by git, ~28 MB):"
echo '["data/gpu-wheels", "data/sample/enwiki-sample.xml.bz2", "data/wiki-sample-cased", "data/tokenizers/bert-sample-uncased", "data/sotu/speeches"]'
