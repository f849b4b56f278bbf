#!/usr/bin/env bash
# GPU check: at most 4 minutes on one GPU (an H200 lent for a few minutes). In this order:
#   1. the machine: nvidia-smi, torch and CUDA versions, the commit
#   2. data: the Wikipedia sample text (data/wiki-sample-cased, made by `make mini` stages 1-2, or
#      from the carried dump data/sample/enwiki-sample.xml.bz2) and its 2k tokenizer, tokenised
#      if needed
#   3. a short bf16 pretraining run of the small model (run_lm_distributed.py --bf16)
#   4. a short bf16 LiGO operator training from it (run_grow_distributed.py --bf16)
#   5. growth with that operator and a short bf16 run of the large model
#      (run_lm_distributed.py --grow_scheme ligo --pretrained_ligo_path ...)
#   6. tokens/s, achieved FLOP/s and MFU of 3-5 from their metrics.jsonl (scripts/gpu_metrics.py),
#      with a forecast of scripts/gpu_table1.sh's training time at these speeds
#   7. the CUDA-relevant tests of the suite (GPU_CHECK_PYTEST), in the time left
# The models are gpu_table1.sh's (configs/bert-gpu-6L-512H.json -> configs/bert-gpu-12L-768H.json,
# 128 sequences of 128 tokens a step), so the speeds measured here are the ones it will run at
# (their 8k vocabulary is larger than the sample tokenizer's 2k: the unused rows cost the same).
# Writes $GPU_CHECK_OUT/check.md (machine, commit, stage timings, the throughput table, the
# test summary) and check.log (everything printed). Exits 1 if any stage failed.
#
# With no GPU (or GPU_CHECK_TINY=1) it runs end to end at tiny settings on the CPU (2L-32H ->
# 4L-64H, a few steps of 8 sequences, float32) and says so; its figures are then not GPU figures and go to
# runs/gpu-check/report unless GPU_CHECK_OUT says otherwise.
# Settings (environment):
#   GPU_CHECK_OUT        where check.md and check.log go     (results/gpu; tiny: runs/gpu-check/report)
#   GPU_CHECK_RUNS       where the runs go (emptied first)   (runs/gpu-check)
#   GPU_CHECK_TINY       1: tiny CPU-sized settings          (1 when no GPU is visible)
#   GPU_CHECK_DATA       folder with en.train.raw, en.valid.raw   (data/wiki-sample-cased)
#   GPU_CHECK_TOKENIZER  its tokenizer, trained if missing   (data/tokenizers/bert-sample-uncased)
#   GPU_CHECK_SMALL_STEPS, GPU_CHECK_OPERATOR_STEPS, GPU_CHECK_LARGE_STEPS   (200, 20, 200; tiny 6, 2, 6)
#   GPU_CHECK_BATCH      sequences a step                    (128; tiny 8)
#   GPU_CHECK_FLAGS      extra flags for every run           (none)
#   GPU_CHECK_PYTEST     pytest arguments, or "none"         (the CUDA-relevant tests, below)
#   GPU_CHECK_BUDGET     seconds for the whole check; the tests get what is left   (230)
#   GPU_PEAK_TFLOPS      the device's bf16 dense peak, when the table in gpu_metrics.py lacks it
#   PYTHON               interpreter (see scripts/gpu_env.sh)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/gpu_env.sh
started=$(date +%s)

# The suite's tests that behave differently with CUDA: every test whose code mentions it
# (grep -il cuda tests/*.py); tests/test_gpu_scripts.py checks that this list stays complete.
CUDA_TESTS="tests/test_gpu_options.py
tests/test_arguments.py::test_gpu_node_options_are_off_by_default
tests/test_arguments.py::test_pin_memory_on_without_a_gpu_is_refused
tests/test_arguments.py::test_inductor_without_a_cpp_compiler_is_refused
tests/test_pretraining.py::test_bf16_autocast_trains_on_cpu
tests/test_pretraining.py::test_fp16_without_a_gpu_is_a_clear_error
tests/test_glue.py::test_half_precision_on_cpu_is_refused"

if [ "$GPU_COUNT" -gt 0 ]; then tiny=${GPU_CHECK_TINY:-0}; else tiny=1; fi
if [ "$tiny" = 1 ]; then default_out=runs/gpu-check/report; else default_out=results/gpu; fi
OUT=${GPU_CHECK_OUT:-$default_out}
RUNS=${GPU_CHECK_RUNS:-runs/gpu-check}
DATA=${GPU_CHECK_DATA:-data/wiki-sample-cased}
TOKENIZER=${GPU_CHECK_TOKENIZER:-data/tokenizers/bert-sample-uncased}
BUDGET=${GPU_CHECK_BUDGET:-230}
if [ "$tiny" = 1 ]; then
  small_steps=${GPU_CHECK_SMALL_STEPS:-6} operator_steps=${GPU_CHECK_OPERATOR_STEPS:-2}
  large_steps=${GPU_CHECK_LARGE_STEPS:-6} batch=${GPU_CHECK_BATCH:-8} eval_batch=128 block=62 workers=0
  models="2L-32H -> 4L-64H (tiny)"
else
  small_steps=${GPU_CHECK_SMALL_STEPS:-200} operator_steps=${GPU_CHECK_OPERATOR_STEPS:-20}
  large_steps=${GPU_CHECK_LARGE_STEPS:-200} batch=${GPU_CHECK_BATCH:-128} eval_batch=256 block=126 workers=4
  models="configs/bert-gpu-6L-512H.json -> configs/bert-gpu-12L-768H.json"
fi
read -r -a extra_flags <<<"${GPU_CHECK_FLAGS:-}"
# bf16 autocast on a GPU. Not on the CPU: there it is several times slower than float32, and
# run_grow_distributed.py --bf16 fails on the CPU (the operator grows bfloat16 LayerNorm weights and
# CPU autocast leaves layer_norm in the input's float32: "mixed dtype (CPU)"); CUDA autocast runs
# layer_norm in float32 and is not affected.
if [ "$GPU_COUNT" -gt 0 ]; then precision=(--bf16) precision_text="bf16 autocast"
else precision=() precision_text="float32 (no GPU: bf16 only on a GPU)"
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # tiny models: more threads only contend
fi
mkdir -p "$OUT" "$RUNS"
exec > >(tee "$OUT/check.log") 2>&1

stages=()   # "| stage | result | seconds |" rows of check.md
failures=0
# stage NAME COMMAND...: runs COMMAND, records its result and time; never stops the check.
stage() {
  local name=$1 t0 rc; shift
  echo "== gpu-check: $name"
  t0=$(date +%s)
  "$@"; rc=$?
  local took=$(( $(date +%s) - t0 )) result=ok
  if [ $rc -ne 0 ]; then
    result="failed (exit $rc$([ $rc -eq 124 ] && echo ', time limit'))"
    failures=$((failures + 1))
  fi
  echo "[gpu-check] $name: $result, $took s"
  stages+=("| $name | $result | $took s |")
  return $rc
}
skip() { stages+=("| $1 | skipped: $2 | — |"); echo "[gpu-check] $1: skipped ($2)"; }

# --- 1. the machine ----------------------------------------------------------------------
commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- . ':!results' 2>/dev/null || commit="$commit (with uncommitted changes)"
if command -v nvidia-smi >/dev/null 2>&1 && smi=$(nvidia-smi --query-gpu=name,memory.total,driver_version \
     --format=csv,noheader 2>/dev/null); then :; else smi="none (no nvidia-smi or no GPU)"; fi
cpu="$(env -u OMP_NUM_THREADS nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo "[gpu-check] nvidia-smi: $smi"
echo "[gpu-check] torch $GPU_TORCH (CUDA $GPU_CUDA), $cpu, commit $commit"
if [ "$GPU_COUNT" -gt 0 ]; then
  echo "[gpu-check] GPU: $GPU_NAME ($GPU_COUNT visible); runs use the first"
  [ "$tiny" = 1 ] && echo "[gpu-check] GPU_CHECK_TINY=1: tiny settings, the figures say little about this GPU"
else
  echo "[gpu-check] NO GPU FOUND: running tiny settings on the CPU; these figures are CPU figures, MFU unknown"
fi

# --- 2. data -------------------------------------------------------------------------------
prepare_data() {
  if [ ! -s "$DATA/en.train.raw" ] || [ ! -s "$DATA/en.valid.raw" ]; then
    [ "$DATA" = data/wiki-sample-cased ] || { echo "error: $DATA has no en.train.raw and en.valid.raw" >&2; return 1; }
    echo "[gpu-check] $DATA is missing: preparing it as make mini does (needs data/sample/enwiki-sample.xml.bz2 or network)"
    local dump
    dump=$(bash data/sample/fetch_sample_dump.sh | tail -n 1) && [ -s "$dump" ] \
      && WIKI_OUT_DIR=$DATA VALID_LINES=300 TEST_LINES=300 bash data/wiki/get_data_cased.bash en "$dump" \
      || { echo "error: no Wikipedia sample: run 'make mini' (or scripts/gpu_prepare.sh) on a machine with network first and carry data/wiki-sample-cased (docs/gpu.md)" >&2; return 1; }
  fi
  if [ ! -f "$TOKENIZER/tokenizer.json" ]; then
    "$PYTHON" -m tokenization.train_tokenizer --kind bert-uncased --input "$DATA/en.train.raw" --vocab_size 2000 \
      --output_dir "$TOKENIZER" --overwrite || return 1
  fi
  local tag split
  tag=$(basename "$TOKENIZER")
  for split in valid train; do
    if [ ! "$DATA/en.$split.raw.$tag.hdf5" -nt "$TOKENIZER/tokenizer.json" ]; then
      "$PYTHON" -m tokenization.tokenize_dataset "$DATA" "en.$split.raw" "$TOKENIZER" || return 1
    fi
  done
}

# The models: gpu_table1.sh's on a GPU; tiny ones matched to the tokenizer on the CPU.
write_configs() {
  if [ "$tiny" = 1 ]; then
    local vocab
    vocab=$("$PYTHON" -c 'import json, sys; tok = json.load(open(sys.argv[1])); print(len(set(tok["model"]["vocab"]) | {t["content"] for t in tok.get("added_tokens", [])}))' "$TOKENIZER/tokenizer.json") || return 1
    gpu_tiny_configs "$vocab" "$RUNS" "" || return 1
  else
    cp configs/bert-gpu-6L-512H.json "$RUNS/small.json" && cp configs/bert-gpu-12L-768H.json "$RUNS/large.json"
  fi
  cat > "$RUNS/check.txt" <<EOF
# written by scripts/gpu_check.sh
tokenizer_name = $TOKENIZER
model_type = bert
block_size = $block
do_train = true
train_data_file = $DATA/en.train.raw
do_eval = true
eval_data_file = $DATA/en.valid.raw
shuffle = true
mlm = true
per_gpu_train_batch_size = $batch
per_gpu_eval_batch_size = $eval_batch
learning_rate = 5e-4
weight_decay = 0.1
scheduler_type = linear
ckpt_steps = 100000
num_workers = $workers
EOF
}

rm -rf "$RUNS/small" "$RUNS/operator" "$RUNS/ligo"
ok=1
stage "data ($DATA, $TOKENIZER)" prepare_data && write_configs || ok=0
log_every() { echo $(( $1 >= 8 ? $1 / 4 : ($1 >= 2 ? $1 / 2 : 1) )); }
train() {  # train OUTPUT STEPS ENTRY [FLAGS...]: a run under a time limit
  local out=$1 steps=$2 entry=$3; shift 3
  timeout 120 "$PYTHON" "$entry" --config "$RUNS/check.txt" --output_dir "$out" --max_steps "$steps" \
    --logging_steps "$(log_every "$steps")" ${precision[@]+"${precision[@]}"} ${extra_flags[@]+"${extra_flags[@]}"} "$@"
}
if [ $ok = 1 ]; then
  stage "pretraining, small model ($small_steps steps)" \
    train "$RUNS/small" "$small_steps" run_lm_distributed.py --config_name "$RUNS/small.json" \
    --warmup_steps $(( small_steps / 40 )) || ok=0
else skip "pretraining" "no data"; fi
if [ $ok = 1 ]; then
  stage "LiGO operator ($operator_steps steps)" \
    train "$RUNS/operator" "$operator_steps" run_grow_distributed.py --config_name "$RUNS/large.json" \
    --source_model_path "$RUNS/small" --tune_width --tune_depth --fuse_init_scheme stackbert_noisy rand \
    --warmup_steps $(( operator_steps / 10 )) || ok=0
else skip "LiGO operator" "no small model"; fi
if [ $ok = 1 ]; then
  stage "growth with the operator, large model ($large_steps steps)" \
    train "$RUNS/ligo" "$large_steps" run_lm_distributed.py --config_name "$RUNS/large.json" --grow_scheme ligo \
    --source_model_path "$RUNS/small" --pretrained_ligo_path "$RUNS/operator" --warmup_steps 0 || true
else skip "growth" "no operator"; fi

# --- 6. throughput and MFU -----------------------------------------------------------------
# The forecast: gpu_table1.sh's training tokens (its defaults; tests/test_gpu_scripts.py keeps
# these in step) at the speeds measured here.
seq=$(( block + 2 )) t1_batch=128 t1_small=500 t1_large=1000
t1_operator=$(( (t1_large + 39) / 40 ))
predict=()
if [ "$tiny" != 1 ]; then
  predict=(--predict "small=$(( t1_small * t1_batch * seq ))" "operator=$(( t1_operator * t1_batch * seq ))"
           "grown=$(( 6 * t1_large * t1_batch * seq ))")
fi
peak=()
[ -n "${GPU_PEAK_TFLOPS:-}" ] && peak=(--peak_tflops "$GPU_PEAK_TFLOPS")
stage "throughput and MFU" "$PYTHON" scripts/gpu_metrics.py --device "$GPU_NAME" ${peak[@]+"${peak[@]}"} \
  --run "small=$RUNS/small" --run "operator=$RUNS/operator" --run "grown=$RUNS/ligo" \
  --markdown "$RUNS/throughput.md" ${predict[@]+"${predict[@]}"}

# --- 7. the CUDA-relevant tests, in the time left --------------------------------------------
pytest_args=${GPU_CHECK_PYTEST:-$CUDA_TESTS}
left=$(( BUDGET - ($(date +%s) - started) - 5 ))
tests_summary="not run"
if [ "$pytest_args" = none ]; then
  skip "CUDA-relevant tests" "GPU_CHECK_PYTEST=none"
elif [ "$left" -lt 20 ]; then
  skip "CUDA-relevant tests" "only $left s of the $BUDGET s budget left"
else
  # shellcheck disable=SC2086  # the list is whitespace-separated on purpose
  stage "CUDA-relevant tests (time limit $left s)" timeout "$left" "$PYTHON" -m pytest -q -p no:cacheprovider \
    -o addopts="-ra" $pytest_args 2>&1 | tee "$RUNS/pytest.log"
  tests_summary=$(grep -E '(passed|failed|error|skipped|no tests ran)' "$RUNS/pytest.log" | tail -n 1)
  tests_summary=${tests_summary:-"no summary (stopped?)"}
  echo "[gpu-check] tests: $tests_summary"
fi

# --- check.md --------------------------------------------------------------------------------
total=$(( $(date +%s) - started ))
{
  echo "# GPU check"
  echo
  if [ "$GPU_COUNT" -gt 0 ] && [ "$tiny" != 1 ]; then
    echo "Measured on \`$GPU_NAME\` by \`bash scripts/gpu_check.sh\`."
  elif [ "$GPU_COUNT" -gt 0 ]; then
    echo "**Tiny settings (GPU_CHECK_TINY=1)** on \`$GPU_NAME\`: a smoke test, not a measurement."
  else
    echo "**No GPU was found**: tiny settings on the CPU, a smoke test of the script; the figures are CPU figures."
  fi
  echo
  echo "- nvidia-smi: $smi"
  echo "- torch $GPU_TORCH, CUDA $GPU_CUDA; $cpu"
  echo "- commit: $commit"
  echo "- finished: $(date -u +'%Y-%m-%d %H:%M UTC'); whole check: $total s (budget $BUDGET s)"
  echo "- models: $models; $batch sequences of $seq tokens a step, $precision_text; steps: small $small_steps, operator $operator_steps, grown $large_steps; data \`$DATA\`, tokenizer \`$TOKENIZER\`"
  echo "- tests: $tests_summary"
  echo
  echo "| stage | result | wall time |"
  echo "|---|---|---|"
  printf '%s\n' "${stages[@]}"
  echo
  if [ -f "$RUNS/throughput.md" ]; then cat "$RUNS/throughput.md"; else echo "No throughput: no run finished."; fi
  echo
  echo "Raw log: check.log beside this file."
} > "$OUT/check.md"
echo "[gpu-check] wrote $OUT/check.md and $OUT/check.log ($total s, $failures failed stage(s))"
[ "$failures" -eq 0 ]
