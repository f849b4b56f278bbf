#!/usr/bin/env bash
# Prepares, on a machine with network (this project's CPU machines), everything that
# scripts/gpu_check.sh and scripts/gpu_table1.sh need on a GPU machine that has none:
#   1. the Wikipedia sample dump (data/sample/enwiki-sample.xml.bz2) and its text
#      (data/wiki-sample-cased/en.{train,valid,test}.raw), as `make mini` stages 1-2 make them,
#      with the 2k sample tokenizer and tokenisation that gpu_check.sh trains on
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
dump=$(bash data/sample/fetch_sample_dump.sh | tail -n 1)
if [ -s data/wiki-sample-cased/en.test.raw ]; then
  echo "[gpu-prepare] data/wiki-sample-cased is there"
else
  WIKI_OUT_DIR=data/wiki-sample-cased VALID_LINES=300 TEST_LINES=300 bash data/wiki/get_data_cased.bash en "$dump"
fi
tok=data/tokenizers/bert-sample-uncased
if [ ! -f "$tok/tokenizer.json" ]; then
  "$PYTHON" -m tokenization.train_tokenizer --kind bert-uncased --input data/wiki-sample-cased/en.train.raw \
    --vocab_size 2000 --output_dir "$tok" --overwrite
  echo 2000 > "$tok/requested_vocab_size"
fi
for split in valid train; do
  if [ ! "data/wiki-sample-cased/en.$split.raw.bert-sample-uncased.hdf5" -nt "$tok/tokenizer.json" ]; then
    "$PYTHON" -m tokenization.tokenize_dataset data/wiki-sample-cased "en.$split.raw" "$tok"
  fi
done

echo "== gpu-prepare: 2/3 State of the Union speeches"
bash data/sotu/fetch_sotu.sh >/dev/null

echo "== gpu-prepare: 3/3 wheels for the GPU machine -> data/gpu-wheels"
specs=$("$PYTHON" - <<'PY'
from importlib.metadata import PackageNotFoundError, version
pins = {"ConfigArgParse": "1.9.0", "tensorboardX": "2.6.5", "sacremoses": "0.2.0", "wikiextractor": "3.1.0"}
specs = []
for name, fallback in pins.items():
    try:
        specs.append(f"{name}=={version(name)}")
    except PackageNotFoundError:
        specs.append(f"{name}=={fallback}")
print(" ".join(specs))
PY
)
# Pure-Python wheels (py3-none-any): they install on the GPU image's Python 3.12 as on any other.
# shellcheck disable=SC2086
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d data/gpu-wheels $specs
ls data/gpu-wheels/*.whl
echo "[gpu-prepare] done. Name these in the device tool's carry (all ignored by git, ~28 MB):"
echo '["data/gpu-wheels", "data/sample/enwiki-sample.xml.bz2", "data/wiki-sample-cased", "data/tokenizers/bert-sample-uncased", "data/sotu/speeches"]'
