# Shared by the paper-scale recipes in this folder (sourced, not run). Settings, as
# environment variables:
#   FAMILY        bert, roberta, gpt2 or vit                        (set by each recipe)
#   RUNS          where the training runs go                        (runs/paper)
#   RESULTS       where reports and results tables go               (results/paper)
#   STEPS         training steps of every large model and the small one (400000, the paper's)
#   GLOBAL_BATCH  sequences per optimizer step over all GPUs        (256, the paper's)
#   PER_GPU       sequences per GPU per micro-batch                 (64)
#   GPUS          GPUs on this node                                 (all that torch sees)
#   GLUE_DIR      a folder of GLUE task folders (CoLA, SST-2, ...): when set, every final
#                 model is fine-tuned on GLUE and its row of the recipe's results table filled
#   SQUAD_DIR     a folder of SQuAD's train/dev-v1.1.json and -v2.0.json: when set, every final
#                 model is fine-tuned on SQuAD too, its SQuAD cells in the same row
#   GLUE_ARGS, SQUAD_ARGS  extra flags of run_glue.py / run_squad.py (e.g. "--seeds 1")  (none)
#   GROWN_WARMUP  warmup steps of grown models (the authors': 0 for BERT, 10000 for RoBERTa; ViT: WARMUP_STEPS;
#                 GPT-2, whose code they did not release: 0, as BERT)
#   OPERATOR_STEPS LiGO operator steps of the main runs              (100, the paper's)
#   OPERATOR_STEPS_LIST the other operator lengths of operator_steps.sh ("500 1000 10000")
#   MSLT_STAGE_STEPS steps of each MSLT stage before the whole model trains (10% of STEPS)
#   PYTHON        interpreter                                       (python)
#   PAPER_CONFIG  the recipe                                        (configs/${FAMILY}_wiki.txt)
#   MODEL_CONFIGS folder of the model configs ($FAMILY-6L-512H.json, ...)  (configs)
#   PAPER_FLAGS   extra flags of every training run, e.g. another corpus:
#                 "--train_data_file X --eval_data_file Y --tokenizer_name Z"  (none)
# Stages are skipped when their run is finished and resumed when it was interrupted.
set -euo pipefail
PYTHON=${PYTHON:-python}
RUNS=${RUNS:-runs/paper}
RESULTS=${RESULTS:-results/paper}
STEPS=${STEPS:-400000}
GLOBAL_BATCH=${GLOBAL_BATCH:-256}
PER_GPU=${PER_GPU:-64}
GPUS=${GPUS:-$("$PYTHON" -c "import torch; print(max(torch.cuda.device_count(), 1))")}
if (( GLOBAL_BATCH % (PER_GPU * GPUS) != 0 )); then
  echo "GLOBAL_BATCH=$GLOBAL_BATCH is not a multiple of PER_GPU=$PER_GPU x GPUS=$GPUS; change PER_GPU" >&2
  exit 2
fi
ACCUMULATION=$(( GLOBAL_BATCH / (PER_GPU * GPUS) ))
CONFIG=${PAPER_CONFIG:-configs/${FAMILY}_wiki.txt}
# The pretraining entry script: image models have their own (the same loop and flags).
if [ "$FAMILY" = vit ]; then ENTRY=run_image_distributed.py; else ENTRY=run_lm_distributed.py; fi
MODEL_CONFIGS=${MODEL_CONFIGS:-configs}
OPERATOR_STEPS=${OPERATOR_STEPS:-100}
MSLT_STAGE_STEPS=${MSLT_STAGE_STEPS:-$(( STEPS / 10 > 0 ? STEPS / 10 : 1 ))}
case "$FAMILY" in
  roberta) GROWN_WARMUP=${GROWN_WARMUP:-10000} ;;
  vit) GROWN_WARMUP=${GROWN_WARMUP:-$WARMUP_STEPS} ;;  # DeiT's recipe for every run: 5 warm-up epochs
  *) GROWN_WARMUP=${GROWN_WARMUP:-0} ;;
esac
read -r -a PAPER_EXTRA <<<"${PAPER_FLAGS:-}"
echo "[paper] $FAMILY, $GPUS GPU(s) x $PER_GPU sequences x $ACCUMULATION accumulation = $GLOBAL_BATCH a step, $STEPS steps"

finished() { [ -d "$1/checkpoints/checkpoint-$(printf %08d "$2")" ]; }

# train OUTPUT_DIR STEPS ENTRY_SCRIPT [FLAGS...]: the config file's recipe plus FLAGS.
train() {
  local out=$1 steps=$2 entry=$3
  shift 3
  if finished "$out" "$steps"; then
    echo "[paper] $out is finished ($steps steps)"
    return
  fi
  echo "[paper] training $out"
  "$PYTHON" "$entry" --config "$CONFIG" --per_gpu_train_batch_size "$PER_GPU" \
    --gradient_accumulation_steps "$ACCUMULATION" --output_dir "$out" --max_steps "$steps" --should_continue \
    ${PAPER_EXTRA[@]+"${PAPER_EXTRA[@]}"} "$@"
}

# report NAME SCRATCH_RUN SMALL_RUN --run METHOD=RUN[+OPERATOR_RUN]...: the savings table and plots.
report() {
  local name=$1 scratch=$2 small=$3
  shift 3
  "$PYTHON" -m ligo.report --scratch "$RUNS/$scratch" --small "$RUNS/$small" --output_dir "$RESULTS/$name" "$@"
}

# pretrain NAME SIZE: a model from scratch (e.g. pretrain bert-small 6L-512H).
pretrain() {
  train "$RUNS/$1" "$STEPS" "$ENTRY" --config_name "$MODEL_CONFIGS/$FAMILY-$2.json"
}

# grow NAME SMALL_RUN SIZE SCHEME: a large model grown by a baseline, then trained like scratch
# but with GROWN_WARMUP warmup steps, as in the authors' growth commands.
grow() {
  train "$RUNS/$1" "$STEPS" "$ENTRY" --config_name "$MODEL_CONFIGS/$FAMILY-$3.json" --seed 17 \
    --grow_scheme "$4" --source_model_path "$RUNS/$2" --warmup_steps "$GROWN_WARMUP"
}

# ligo NAME SMALL_RUN SIZE OPERATOR_STEPS [OPERATOR FLAGS...]: train the operator, grow, train.
ligo() {
  local name=$1 small=$2 size=$3 op_steps=$4
  shift 4
  train "$RUNS/$name-operator" "$op_steps" run_grow_distributed.py --config_name "$MODEL_CONFIGS/$FAMILY-$size.json" \
    --source_model_path "$RUNS/$small" --fuse_init_scheme stackbert_noisy rand --seed 29 \
    --logging_steps "$(( op_steps < 100 ? op_steps : 100 ))" --ckpt_steps "$op_steps" "$@"
  ligo_grown "$name" "$small" "$size" "$RUNS/$name-operator"
}

# ligo_grown NAME SMALL_RUN SIZE OPERATOR_RUN [FLAGS...]: grow with a trained operator, train
# (FLAGS, e.g. --token_drop ..., join the training).
ligo_grown() {
  local name=$1 small=$2 size=$3 operator=$4
  shift 4
  train "$RUNS/$name" "$STEPS" "$ENTRY" --config_name "$MODEL_CONFIGS/$FAMILY-$size.json" --seed 17 \
    --grow_scheme ligo --source_model_path "$RUNS/$small" --pretrained_ligo_path "$operator" \
    --warmup_steps "$GROWN_WARMUP" "$@"
}

# mslt NAME SMALL_RUN SIZE: MSLT's two stages (halfway, then the target's depth: 6 -> 9 -> 12),
# MSLT_STAGE_STEPS each, then the whole model; warm-up as the grown models.
mslt() {
  train "$RUNS/$1" "$STEPS" "$ENTRY" --config_name "$MODEL_CONFIGS/$FAMILY-$3.json" --seed 17 \
    --grow_scheme mslt --source_model_path "$RUNS/$2" --mslt_stage_steps "$MSLT_STAGE_STEPS" "$MSLT_STAGE_STEPS" \
    --warmup_steps "$GROWN_WARMUP"
}

# ki NAME SMALL_RUN SIZE [FLAGS...]: the large model from scratch (the recipe's warm-up), taught by SMALL_RUN
# for the first 55/125 of the steps at temperature 2 (KI's authors' schedule).
ki() {
  local name=$1 small=$2 size=$3
  shift 3
  train "$RUNS/$name" "$STEPS" "$ENTRY" --config_name "$MODEL_CONFIGS/$FAMILY-$size.json" --seed 17 \
    --grow_scheme ki --source_model_path "$RUNS/$small" "$@"
}

# scratch NAME SIZE [FLAGS...]: as pretrain (the same seed as the scratch run), with FLAGS (e.g.
# --layer_drop ...) joining the training.
scratch() {
  local name=$1 size=$2
  shift 2
  train "$RUNS/$name" "$STEPS" "$ENTRY" --config_name "$MODEL_CONFIGS/$FAMILY-$size.json" "$@"
}

# glue TABLE NAME RUN: fine-tune RUN's final model on GLUE (when GLUE_DIR is set), one row of TABLE.
glue() {
  if [ -z "${GLUE_DIR:-}" ]; then
    echo "[paper] GLUE_DIR is not set: skipping GLUE for $2"
    return
  fi
  local out="$RESULTS/glue/$(basename "$3")"
  if [ -f "$out/glue_results.json" ]; then
    echo "[paper] GLUE for $3 is done ($out)"
    return
  fi
  # shellcheck disable=SC2086  # GLUE_ARGS holds several flags
  "$PYTHON" run_glue.py --model_name_or_path "$3" --glue_dir "$GLUE_DIR" --output_dir "$out" \
    --results_table "$1" --name "$2" ${GLUE_ARGS:-}
}

# squad TABLE NAME RUN: fine-tune RUN's final model on SQuAD v1.1 and v2.0 (when SQUAD_DIR is
# set), its SQuAD cells of TABLE.
squad() {
  if [ -z "${SQUAD_DIR:-}" ]; then
    echo "[paper] SQUAD_DIR is not set: skipping SQuAD for $2"
    return
  fi
  local out="$RESULTS/squad/$(basename "$3")"
  if [ -f "$out/squad_results.json" ]; then
    echo "[paper] SQuAD for $3 is done ($out)"
    return
  fi
  # shellcheck disable=SC2086  # SQUAD_ARGS holds several flags
  "$PYTHON" run_squad.py --model_name_or_path "$3" --squad_dir "$SQUAD_DIR" --output_dir "$out" \
    --results_table "$1" --name "$2" ${SQUAD_ARGS:-}
}
