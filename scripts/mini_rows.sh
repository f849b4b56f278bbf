# The runs every one-script miniature trains, in this order (sourced by scripts/mini_causal_lm.sh
# and scripts/mini_vit.sh, which set $mini and $runs): the small model, the large one from
# scratch, LiGO (the operator, then the grown model), StackBERT (direct copy for the new width)
# and bert2BERT (AKI). Each prints the training command it runs; finished runs are skipped.
$mini small
$mini scratch "$runs/scratch"
$mini operator "$runs/ligo-operator" --fuse_init_scheme stackbert_noisy rand
$mini grown "$runs/ligo" ligo --pretrained_ligo_path "$runs/ligo-operator"
$mini grown "$runs/stackbert_direct_copy" stackbert_direct_copy
$mini grown "$runs/bert2bert_aki" bert2bert_aki
