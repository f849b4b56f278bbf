"""RoBERTa (``model_type`` roberta): Hugging Face's ``RobertaForMaskedLM``. The encoder is
BERT's (ligo/models/bert.py: its spaces, FLOPs and growable fields) under other module names,
and positions are numbered from ``padding_idx + 1``, so two position slots are never used."""

import dataclasses

from transformers import RobertaConfig, RobertaForMaskedLM

from ligo.models import bert
from ligo.models.layout import Layout


def layout() -> Layout:
    return bert.encoder_layout("roberta", "roberta", "lm_head", "dense", "layer_norm")


# BERT's family, where RoBERTa differs.
FAMILY = dataclasses.replace(
    bert.FAMILY,
    model_type="roberta",
    config_class=RobertaConfig,
    pretraining_class=RobertaForMaskedLM,
    layout=layout,
    layers_path="roberta.encoder.layer",
    position_offset=2,
    tokenizer_kind="roberta",
    example_config="configs/roberta-12L-768H.json",
)
