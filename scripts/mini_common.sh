# Settings and helpers shared by the miniature Table 1 (mini_table1.sh), its seeds
# (mini_seeds.sh) and its ablation (mini_ablation.sh); sourced, not run. Every setting is an
# environment variable with the mini's default:
#   MINI_CONFIG        recipe of every run                        (configs/bert_mini_table1.txt)
#   MINI_SMALL_CONFIG  the small model                            (configs/bert-mini-2L-64H.json)
#   MINI_LARGE_CONFIG  the large model                            (configs/bert-mini-4L-128H.json)
#   SMALL_STEPS        small-model steps                          (1000)
#   LARGE_STEPS        steps of every large-model run             (1000)
#   OPERATOR_STEPS     LiGO operator steps                        (2.5% of LARGE_STEPS)
#   SCRATCH_WARMUP     warm-up of scratch and of the small model  (2.5% of their steps)
#   GROWN_WARMUP       warm-up of every grown run                 (0)
#   MINI_SEED          seed of every large-model run              (17)
#   MINI_OPERATOR_SEED seed of the operator                       (29)
#   MINI_SMALL_RUN     the small model's run                      ($MINI_RUNS/small)
#   MINI_FLAGS         extra flags for every run, e.g. "--bf16"   (none)
#   MINI_RUNS          where runs go                              (runs/mini)
#   MINI_ENTRY         the pretraining entry script               (run_lm_distributed.py)
#   PYTHON             interpreter                                (python)
#
# The proportions are the paper's: the operator trains 100 steps against 400K of the large
# model (0.025%), and its Table 3 still saves 38.9% at 10,000 (2.5%), the most we allow;
# scratch warms up 10K of 400K steps (2.5%); a grown BERT trains with no warm-up and the
# same peak learning rate, decaying linearly (SPEC section 6).
PYTHON=${PYTHON:-python}
RUNS=${MINI_RUNS:-runs/mini}
ENTRY=${MINI_ENTRY:-run_lm_distributed.py}
CONFIG=${MINI_CONFIG:-configs/bert_mini_table1.txt}
SMALL=${MINI_SMALL_CONFIG:-configs/bert-mini-2L-64H.json}
LARGE=${MINI_LARGE_CONFIG:-configs/bert-mini-4L-128H.json}
SMALL_STEPS=${SMALL_STEPS:-1000}
LARGE_STEPS=${LARGE_STEPS:-1000}
OPERATOR_STEPS=${OPERATOR_STEPS:-$(( (LARGE_STEPS + 39) / 40 ))}
SCRATCH_WARMUP=${SCRATCH_WARMUP:-$(( LARGE_STEPS / 40 ))}
SMALL_WARMUP=${SMALL_WARMUP:-$(( SMALL_STEPS / 40 ))}
GROWN_WARMUP=${GROWN_WARMUP:-0}
# The small model uses the config's default seed; the others another one, so that they do not
# replay the exact batches and masks the small model was trained on first (see the README).
SEED=${MINI_SEED:-17}
OPERATOR_SEED=${MINI_OPERATOR_SEED:-29}
SMALL_RUN=${MINI_SMALL_RUN:-$RUNS/small}
read -r -a EXTRA_FLAGS <<<"${MINI_FLAGS:-}"
# One step at least, however short the large run (the smoke test's).
if (( OPERATOR_STEPS > 1 && OPERATOR_STEPS * 40 > LARGE_STEPS )) && [ -z "${MINI_ALLOW_LONG_OPERATOR:-}" ]; then
  echo "OPERATOR_STEPS=$OPERATOR_STEPS is over 2.5% of LARGE_STEPS=$LARGE_STEPS (the paper's largest share, its" \
    "Table 3); lower it, or set MINI_ALLOW_LONG_OPERATOR=1 for an ablation" >&2
  exit 2
fi
timings=()

finished() { [ -d "$1/checkpoints/checkpoint-$(printf %08d "$2")" ]; }

# train OUTPUT_DIR STEPS ENTRY_SCRIPT [FLAGS...]: the recipe plus FLAGS; a finished run is
# skipped, an interrupted one resumed.
train() {
  local out=$1 steps=$2 entry=$3
  shift 3
  if finished "$out" "$steps"; then
    echo "[mini] $out is finished ($steps steps)"
    timings+=("| \`$out\` | $steps | reused |")
    return
  fi
  local t0; t0=$(date +%s)
  "$PYTHON" "$entry" --config "$CONFIG" --output_dir "$out" --max_steps "$steps" --should_continue \
    ${EXTRA_FLAGS[@]+"${EXTRA_FLAGS[@]}"} "$@"
  echo "[mini] $out: $(( $(date +%s) - t0 )) s"
  timings+=("| \`$out\` | $steps | $(( $(date +%s) - t0 )) s |")
}

# The runs every table shares, each with the same large-model settings.
train_small() {
  train "$SMALL_RUN" "$SMALL_STEPS" "$ENTRY" --config_name "$SMALL" --warmup_steps "$SMALL_WARMUP"
}
train_scratch() {  # train_scratch OUTPUT_DIR [FLAGS...]
  local out=$1; shift
  train "$out" "$LARGE_STEPS" "$ENTRY" --config_name "$LARGE" --seed "$SEED" \
    --warmup_steps "$SCRATCH_WARMUP" "$@"
}
train_operator() {  # train_operator OUTPUT_DIR STEPS [FLAGS...]
  local out=$1 steps=$2; shift 2
  train "$out" "$steps" run_grow_distributed.py --config_name "$LARGE" --source_model_path "$SMALL_RUN" \
    --tune_width --tune_depth --seed "$OPERATOR_SEED" --warmup_steps $(( steps / 10 )) "$@"
}
train_grown() {  # train_grown OUTPUT_DIR GROW_SCHEME [FLAGS...]
  local out=$1 scheme=$2; shift 2
  train "$out" "$LARGE_STEPS" "$ENTRY" --config_name "$LARGE" --seed "$SEED" --grow_scheme "$scheme" \
    --source_model_path "$SMALL_RUN" --warmup_steps "$GROWN_WARMUP" "$@"
}

# MSLT (its stages: 10% of the large run's steps each, then the whole model) and KI (the small
# model teaches for the first 55/125 of the steps, as KI's authors) train as many steps as every
# other large run; MSLT starts from the small model as the grown runs do, KI from scratch as
# scratch does.
train_mslt() {  # train_mslt OUTPUT_DIR [FLAGS...]
  local out=$1; shift
  local stage=$(( LARGE_STEPS / 10 > 0 ? LARGE_STEPS / 10 : 1 ))
  train_grown "$out" mslt --mslt_stage_steps "$stage" "$stage" "$@"
}
train_ki() {  # train_ki OUTPUT_DIR [FLAGS...]
  local out=$1; shift
  train "$out" "$LARGE_STEPS" "$ENTRY" --config_name "$LARGE" --seed "$SEED" --grow_scheme ki \
    --source_model_path "$SMALL_RUN" --warmup_steps "$SCRATCH_WARMUP" "$@"
}

# train_table_rows STAGE: the rows every miniature table shares, in order: the small model,
# scratch, LiGO (operator, then the grown model), StackBERT (direct copy for the new width),
# bert2BERT (AKI) and MSLT. STAGE prefixes the progress lines (e.g. "mini ViT: 2/3").
train_table_rows() {
  local stage=$1
  echo "== $stage runs: small ($SMALL, $SMALL_STEPS steps), scratch ($LARGE, $LARGE_STEPS steps)"
  train_small
  train_scratch "$RUNS/scratch"
  echo "== $stage LiGO: operator ($OPERATOR_STEPS steps), then the grown model"
  train_operator "$RUNS/ligo-operator" "$OPERATOR_STEPS" --fuse_init_scheme stackbert_noisy rand
  train_grown "$RUNS/ligo" ligo --pretrained_ligo_path "$RUNS/ligo-operator"
  for scheme in stackbert_direct_copy bert2bert_aki; do
    echo "== $stage baseline $scheme"
    train_grown "$RUNS/$scheme" "$scheme"
  done
  echo "== $stage baseline MSLT"
  train_mslt "$RUNS/mslt"
}

# run_md_head COMMAND: a RUN.md's first lines: the command, the machine and code, when, how long
# (reads started, job_started and finished_at).
run_md_head() {
  echo "# How this report was made"
  echo
  echo "- command: $1"
  describe_machine
  echo "- finished: $(date -u +'%Y-%m-%d %H:%M UTC')"
  echo "- wall time: $(( finished_at - job_started )) s for the whole job$([ -n "${MINI_STARTED:-}" ] && echo ", set-up included"); $(( finished_at - started )) s for training and report"
}

# run_md_timings: a RUN.md's table of the runs' wall times.
run_md_timings() {
  echo
  echo "| run | steps | wall time |"
  echo "|---|---|---|"
  printf '%s\n' "${timings[@]}"
}

# The machine and the code, for a RUN.md.
describe_machine() {
  echo "- machine: $(env -u OMP_NUM_THREADS nproc) CPU cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $("$PYTHON" -c 'import torch; print("torch", torch.__version__, "GPU:", torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none")')"
  echo "- load average when written: $(cut -d' ' -f1-3 /proc/loadavg)"
  local commit; commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  git diff --quiet HEAD -- . ':!results' 2>/dev/null || commit="$commit (with uncommitted changes)"
  echo "- commit: $commit"
}
