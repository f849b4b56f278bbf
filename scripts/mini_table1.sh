#!/usr/bin/env bash
# The miniature Table 1 on the embedded Wikipedia sample (stage 6 of `make mini`; run
# scripts/run_mini.sh first for the data). BERT 2L-64H -> 4L-128H, depth and width double,
# like the paper's BERT-Small -> BERT-Base, in the paper's proportions (docs/mini.md):
#   1. pretrain the small model
#   2. train the large model from scratch (the target: its final eval loss)
#   3. train the LiGO operator (2.5% of the large run's steps), grow the large model with it
#      and train it
#   4. the paper's other rows: MSLT (stages 2 -> 3 -> 4 layers on the widened small model), KI
#      (scratch taught by the small model), StackBERT (depth only, so its new width units start
#      random), bert2BERT (AKI, the paper's bert2BERT)
#   5. the savings report (python -m ligo.report) into $MINI_RESULTS, and its RUN.md
# Interpolation and bert2BERT-FPI, rows of earlier versions, are in results/mini-seeds and
# results/ablation; MINI_MORE_BASELINES=1 adds them here too (about 5 more minutes).
# Each command below prints the training command it runs; finished runs are skipped,
# interrupted ones resumed (--should_continue). The runs, their flags and the step arithmetic
# are in ligo/recipes/mini.py. Settings, as environment variables (the same for
# mini_seeds.sh, mini_ablation.sh, mini_figure5.sh, and with their own defaults for
# mini_causal_lm.sh and mini_vit.sh):
#   MINI_CONFIG        recipe of every run                        (configs/bert_mini_table1.txt)
#   MINI_SMALL_CONFIG  the small model                            (configs/bert-mini-2L-64H.json)
#   MINI_LARGE_CONFIG  the large model                            (configs/bert-mini-4L-128H.json)
#   SMALL_STEPS        small-model steps                          (1000)
#   LARGE_STEPS        steps of every large-model run             (1000)
#   OPERATOR_STEPS     LiGO operator steps                        (2.5% of LARGE_STEPS, rounded up; more is
#                                                                  refused unless MINI_ALLOW_LONG_OPERATOR=1)
#   SCRATCH_WARMUP     warm-up of scratch and KI                  (2.5% of LARGE_STEPS)
#   SMALL_WARMUP       warm-up of the small model                 (2.5% of SMALL_STEPS)
#   GROWN_WARMUP       warm-up of every grown run                 (0)
#   MINI_SEED          seed of every large-model run              (17)
#   MINI_OPERATOR_SEED seed of the operator                       (29)
#   MINI_RUNS          where runs go                              (runs/mini)
#   MINI_SMALL_RUN     the small model's run                      ($MINI_RUNS/small)
#   MINI_RESULTS       where the report goes                      (results/mini)
#   MINI_FLAGS         extra flags for every run, e.g. "--bf16"   (none)
#   MINI_ENTRY         the pretraining entry script               (run_lm_distributed.py)
#   MINI_COMMAND       the command RUN.md names                   (make mini)
#   MINI_STARTED       when the whole job started (date +%s), set by `make mini` before set-up
#   PYTHON             interpreter                                (python)
set -euo pipefail
mini="${PYTHON:-python} -m ligo.recipes.mini table1"
$mini begin
runs=$($mini get MINI_RUNS)

echo "== mini Table 1: 1/5 small model"
$mini small

echo "== mini Table 1: 2/5 large model from scratch"
$mini scratch "$runs/scratch"

echo "== mini Table 1: 3/5 LiGO: operator, then the grown model"
$mini operator "$runs/ligo-operator" --fuse_init_scheme stackbert_noisy rand
$mini grown "$runs/ligo" ligo --pretrained_ligo_path "$runs/ligo-operator"

echo "== mini Table 1: 4/5 baselines: MSLT, KI, StackBERT, bert2BERT"
$mini mslt "$runs/mslt"
$mini ki "$runs/ki"
$mini grown "$runs/stackbert_direct_copy" stackbert_direct_copy
$mini grown "$runs/bert2bert_aki" bert2bert_aki
more=()
if [ -n "${MINI_MORE_BASELINES:-}" ]; then
  echo "== mini Table 1: 4/5 more baselines: interpolation, bert2BERT-FPI"
  $mini grown "$runs/interpolation_direct_copy" interpolation_direct_copy
  $mini grown "$runs/bert2bert_fpi" bert2bert_fpi
  more=(--run "Interpolation=$runs/interpolation_direct_copy" --run "bert2BERT-FPI=$runs/bert2bert_fpi")
fi

echo "== mini Table 1: 5/5 savings report and RUN.md"
$mini report --run "StackBERT=$runs/stackbert_direct_copy" --run "MSLT=$runs/mslt" --run "KI=$runs/ki" \
  --run "bert2BERT=$runs/bert2bert_aki" ${more[@]+"${more[@]}"} --run "LiGO=$runs/ligo+$runs/ligo-operator" \
  --focus LiGO
$mini run-md
