#!/usr/bin/env bash
# The GPT-2 miniature (`make mini-gpt2`): the paper's Figure 3c (GPT2-Base -> GPT2-Medium) in
# miniature on the embedded Wikipedia sample, GPT-2 2L-64H -> 4L-128H (depth and width double),
# with the BERT miniature's proportions and settings (scripts/mini_common.sh, configs/gpt2_mini.txt)
# at half its steps (500 a run).
# Stages, each skipped when its output is already there:
#   1. the sample dump and its untokenised text (as `make mini`'s RoBERTa data)
#   2. a GPT-2 byte-level BPE tokenizer (2k tokens) trained on it, and the splits tokenised
#   3. the small GPT-2, the large one from scratch (the target: its final eval loss, i.e. log
#      perplexity), the LiGO operator (2.5% of the large run's steps) and the grown model, then
#      StackBERT (direct copy for the new width), bert2BERT (AKI) and MSLT, every large run with
#      the same settings and steps
#   4. the savings report (python -m ligo.report) into $MINI_RESULTS (results/mini-gpt2), and its RUN.md
# Settings: the environment variables of scripts/mini_common.sh (e.g. LARGE_STEPS), plus
# MINI_GPT2_KI=1 to add KI (about a minute more), MINI_GPT2_DATA and MINI_GPT2_TOKENIZER (the text
# folder and the tokenizer folder to make, for another MINI_CONFIG).
set -euo pipefail
export PYTHON=${PYTHON:-python}
export VALID_LINES=${VALID_LINES:-300} TEST_LINES=${TEST_LINES:-300}
here=$(dirname "${BASH_SOURCE[0]}")
vocab=${VOCAB_SIZE:-2000}
data=${MINI_GPT2_DATA:-data/wiki-sample-cased-untokenized}  # MINI_CONFIG's data files must be in it
tok=${MINI_GPT2_TOKENIZER:-data/tokenizers/gpt2-sample}  # MINI_CONFIG's tokenizer_name
export MINI_CONFIG=${MINI_CONFIG:-configs/gpt2_mini.txt}
export MINI_SMALL_CONFIG=${MINI_SMALL_CONFIG:-configs/gpt2-mini-2L-64H.json}
export MINI_LARGE_CONFIG=${MINI_LARGE_CONFIG:-configs/gpt2-mini-4L-128H.json}
export MINI_RUNS=${MINI_RUNS:-runs/mini-gpt2}
# Half the BERT miniature's steps, so that the whole job fits 10 minutes on 2 cores (a GPT-2 step
# of this shape costs ~1.1x a BERT one); the operator 12 steps, 2.4% of the large run's (<= 2.5%).
export SMALL_STEPS=${SMALL_STEPS:-500} LARGE_STEPS=${LARGE_STEPS:-500}
export OPERATOR_STEPS=${OPERATOR_STEPS:-$(( LARGE_STEPS / 40 > 0 ? LARGE_STEPS / 40 : 1 ))}
RESULTS=${MINI_RESULTS:-results/mini-gpt2}
job_started=${MINI_STARTED:-$(date +%s)}

echo "== mini GPT-2: 1/4 sample dump and text"
dump=$(bash data/sample/fetch_sample_dump.sh)
WIKI_OUT_DIR=$data bash data/wiki/get_data_cased_untokenized.bash en "$dump"

echo "== mini GPT-2: 2/4 tokenizer and tokenisation"
if [ -f "$tok/tokenizer.json" ] && [ "$tok/tokenizer.json" -nt "$data/en.train.raw" ] \
   && [ "$(cat "$tok/requested_vocab_size" 2>/dev/null)" = "$vocab" ]; then
  echo "[mini] $tok is up to date"
else
  "$PYTHON" -m tokenization.train_tokenizer --kind gpt2 --input "$data/en.train.raw" --vocab_size "$vocab" \
    --output_dir "$tok" --overwrite
  echo "$vocab" > "$tok/requested_vocab_size"
fi
tag=$(basename "$tok")
if [ "$data/en.train.raw.$tag.hdf5" -nt "$tok/tokenizer.json" ] && [ "$data/en.test.raw.$tag.hdf5" -nt "$tok/tokenizer.json" ]; then
  echo "[mini] $data is already tokenised with $tag"
else
  bash tokenization/tokenize_splits.bash "$data" "$tok"
fi

source "$here/mini_common.sh"
started=$(date +%s)
train_table_rows "mini GPT-2: 3/4"
ki=()
if [ -n "${MINI_GPT2_KI:-}" ]; then
  echo "== mini GPT-2: 3/4 baseline KI"
  train_ki "$RUNS/ki"
  ki=(--run "KI=$RUNS/ki")
fi

echo "== mini GPT-2: 4/4 savings report -> $RESULTS"
"$PYTHON" -m ligo.report --scratch "$RUNS/scratch" --small "$SMALL_RUN" --output_dir "$RESULTS" \
  --run "StackBERT=$RUNS/stackbert_direct_copy" \
  --run "MSLT=$RUNS/mslt" \
  ${ki[@]+"${ki[@]}"} \
  --run "bert2BERT=$RUNS/bert2bert_aki" \
  --run "LiGO=$RUNS/ligo+$RUNS/ligo-operator" \
  --focus LiGO
finished_at=$(date +%s)
{
  run_md_head "\`${MINI_COMMAND:-make mini-gpt2}\`"
  echo "- settings: \`$CONFIG\`${MINI_FLAGS:+ plus \`$MINI_FLAGS\`}; small \`$SMALL\` $SMALL_STEPS steps (warm-up $SMALL_WARMUP, the config's seed); large \`$LARGE\` $LARGE_STEPS steps, seed $SEED; scratch warm-up $SCRATCH_WARMUP steps, grown runs $GROWN_WARMUP; LiGO operator $OPERATOR_STEPS steps (seed $OPERATOR_SEED, warm-up $(( OPERATOR_STEPS / 10 ))); tokenizer \`$tok\` ($vocab tokens requested)"
  run_md_timings
} > "$RESULTS/RUN.md"
echo "[mini] training and report: $(( finished_at - started )) s; whole job: $(( finished_at - job_started )) s"
