"""RoBERTa (``model_type`` roberta): Hugging Face's ``RobertaForMaskedLM``. The encoder is
BERT's (ligo/models/bert.py: its layout builder and FLOPs) under other module names, and
positions are numbered from ``padding_idx + 1``, so two position slots are never used."""

from transformers import RobertaConfig, RobertaForMaskedLM

from ligo.models import bert
from ligo.models.family import Family
from ligo.models.layout import Layout


def layout() -> Layout:
    return bert.encoder_layout("roberta", "roberta", "lm_head", "dense", "layer_norm")


FAMILY = Family(
    model_type="roberta",
    config_class=RobertaConfig,
    pretraining_class=RobertaForMaskedLM,
    objective="mlm",
    layout=layout,
    space_sizes=bert.space_sizes,
    flops_breakdown=bert.flops_breakdown,
    matmul_terms=bert.MATMUL_TERMS,
    growable_fields=bert.GROWABLE_FIELDS,
    shared_fields=bert.SHARED_FIELDS,
    position_offset=2,
    example_config="configs/roberta-12L-768H.json",
)
