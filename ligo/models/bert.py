"""BERT (``model_type`` bert): Hugging Face's ``BertForMaskedLM``, its tensor layout for growth
and its FLOPs. RoBERTa has the same encoder under other names (ligo/models/roberta.py builds
on the functions here).

FLOPs, per sequence of ``seq_len`` tokens (ELECTRA's conventions, ligo/models/flops.py), with
two departures from ELECTRA, both on purpose:
  * the attention-output LayerNorm counts ``5 * h`` per token (ELECTRA's typo counts 5);
  * the MLM head is counted on ``head_fraction`` of the positions, 1.0 by default, since
    Hugging Face's masked-LM classes run the head's dense layer and decoder on every
    position (ELECTRA used 0.15625, the masked positions only).
As in ELECTRA, embedding lookups are counted as dense one-hot multiplies: the word embedding
as ``2 * h * vocab`` per token, position and token type together as ``2 * h * (seq_len + 2)``
(a one-hot over the positions and over 2 token types) plus ``2 * h`` to add the three.
RoBERTa's position-id arithmetic is not counted.
"""

from transformers import BertConfig, BertForMaskedLM, PretrainedConfig

from ligo.models.family import QUESTION_ANSWERING, SEQUENCE_CLASSIFICATION, Family
from ligo.models.flops import (
    ACTIVATION_FLOPS,
    BLOCK_MATMUL_TERMS,
    DROPOUT_FLOPS,
    LAYER_NORM_FLOPS,
    SOFTMAX_FLOPS,
    block_per_token,
    check_arguments,
)
from ligo.models.layout import Layout, Space, TensorSpec, hidden_over_heads, linear, norm

# The module types of a layer, in the LiGO operator's depth tensor order (saved operators hold it).
LAYER_MODULES = ("query", "key", "value", "attn_out", "attn_ln", "ffn_in", "ffn_out", "ffn_ln")
# The spaces of a block (GPT-2's and ViT's too). Query, key and value: heads, one selection for
# the three.
BLOCK_SPACES = (
    Space("hidden"),
    Space("query", per_layer=True, head_size=hidden_over_heads),
    Space("key", per_layer=True, head_size=hidden_over_heads, selection_of="query"),
    Space("value", per_layer=True, head_size=hidden_over_heads, selection_of="query"),
    Space("ffn", per_layer=True),
)
# The MLM head transform copies the residual stream's units.
SPACES = (*BLOCK_SPACES, Space("head", selection_of="hidden"))
# The terms torch really runs as matmuls (mm/addmm/bmm), as FlopCounterMode sees them.
MATMUL_TERMS = (*BLOCK_MATMUL_TERMS, "head.dense", "head.decoder")
GROWABLE_FIELDS = (("num_hidden_layers", "layers"), ("hidden_size", "hidden size"),
                   ("intermediate_size", "FFN size"), ("num_attention_heads", "attention heads"))
SHARED_FIELDS = ("vocab_size", "max_position_embeddings", "type_vocab_size")
# Free to differ in a grown model: dropout, and the labels of classification heads, which masked-LM
# pretraining does not use (check_growable).
FREE_FIELDS = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "id2label", "label2id",
               "problem_type")
# transformers 5's BERT has absolute positions only and no longer keeps the field, which older
# configs (public sentence-embedding BERTs) still write.
FIELD_DEFAULTS = (("position_embedding_type", "absolute"),)


def encoder_layout(family: str, base: str, head: str, head_dense: str, head_norm: str) -> Layout:
    """The masked-LM encoder's layout under base module ``base`` and MLM head ``head``."""
    emb, layer = f"{base}.embeddings", f"{base}.encoder.layer.{{i}}"
    head_bias = f"{head}.bias"
    # An embedding table's rows are output vectors in the hidden space: widened like biases,
    # row by row (with an expansion's output matrix, not its input one).
    embeddings = (
        TensorSpec(f"{emb}.word_embeddings", "weight", "hidden"),
        TensorSpec(f"{emb}.position_embeddings", "weight", "hidden"),
        TensorSpec(f"{emb}.token_type_embeddings", "weight", "hidden"),
        *norm(f"{emb}.LayerNorm", "hidden"),
    )
    layer_specs = (
        *linear(f"{layer}.attention.self.query", "query", "hidden", "query"),
        *linear(f"{layer}.attention.self.key", "key", "hidden", "key"),
        *linear(f"{layer}.attention.self.value", "value", "hidden", "value"),
        *linear(f"{layer}.attention.output.dense", "hidden", "value", "attn_out"),
        *norm(f"{layer}.attention.output.LayerNorm", "hidden", "attn_ln"),
        *linear(f"{layer}.intermediate.dense", "ffn", "hidden", "ffn_in"),
        *linear(f"{layer}.output.dense", "hidden", "ffn", "ffn_out"),
        *norm(f"{layer}.output.LayerNorm", "hidden", "ffn_ln"),
    )
    head_specs = (*linear(f"{head}.{head_dense}", "head", "hidden"), *norm(f"{head}.{head_norm}", "head"),
                  TensorSpec(head, "bias", None))
    return Layout(
        family=family,
        embeddings=embeddings,
        layer=layer_specs,
        head=head_specs,
        decoder=TensorSpec(f"{head}.decoder", "weight", None, "head"),
        decoder_bias=f"{head}.decoder.bias",
        head_bias=head_bias,
        word_embeddings=f"{emb}.word_embeddings.weight",
        layer_modules=LAYER_MODULES,
        spaces=SPACES,
        output_norm=(f"{head}.{head_norm}.weight", f"{head}.{head_norm}.bias"),
    )


def layout() -> Layout:
    return encoder_layout("bert", "bert", "cls.predictions", "transform.dense", "transform.LayerNorm")


def space_sizes(config: PretrainedConfig) -> dict[str, int]:
    hidden = config.hidden_size
    return {"hidden": hidden, "query": hidden, "key": hidden, "value": hidden, "ffn": config.intermediate_size,
            "head": hidden}


def _embeddings_per_token(h: int, v: int, s: int) -> dict[str, int]:
    """Forward FLOPs of the input embeddings, per token (dense one-hot lookups)."""
    return {
        "word": 2 * h * v,
        "position_and_type": 2 * h * (s + 2),
        "add_position_and_type": 2 * h,
        "layer_norm": LAYER_NORM_FLOPS * h,
        "dropout": DROPOUT_FLOPS * h,
    }


def _head_per_token(h: int, v: int) -> dict[str, int]:
    """Forward FLOPs of the MLM head, per position that goes through it."""
    return {
        "dense": 2 * h * h,
        "dense_bias": h,
        "act": ACTIVATION_FLOPS * h,
        "layer_norm": LAYER_NORM_FLOPS * h,
        "decoder": 2 * h * v,
        "decoder_bias": v,
        "softmax": SOFTMAX_FLOPS * v,
        "target": 2 * v,
    }


def flops_breakdown(config: PretrainedConfig, seq_len: int, head_fraction: float = 1.0) -> dict[str, int]:
    """Forward FLOPs of one sequence, per term: ``embeddings.*``, ``blocks.*`` (all layers
    summed) and ``head.*`` (on ``head_fraction`` of the positions, rounded to an int)."""
    check_arguments(seq_len, head_fraction)
    h, v = config.hidden_size, config.vocab_size
    block = block_per_token(h, config.intermediate_size, config.num_attention_heads, seq_len, pre_ln=False)
    terms = {f"embeddings.{k}": n * seq_len for k, n in _embeddings_per_token(h, v, seq_len).items()}
    terms.update({f"blocks.{k}": n * seq_len * config.num_hidden_layers for k, n in block.items()})
    terms.update({f"head.{k}": round(n * seq_len * head_fraction) for k, n in _head_per_token(h, v).items()})
    return terms


FAMILY = Family(
    model_type="bert",
    config_class=BertConfig,
    pretraining_class=BertForMaskedLM,
    objective="mlm",
    layout=layout,
    space_sizes=space_sizes,
    flops_breakdown=flops_breakdown,
    matmul_terms=MATMUL_TERMS,
    growable_fields=GROWABLE_FIELDS,
    shared_fields=SHARED_FIELDS,
    free_fields=FREE_FIELDS,
    field_defaults=FIELD_DEFAULTS,
    layers_path="bert.encoder.layer",
    example_config="configs/bert-6L-512H.json",
    finetune_heads=(SEQUENCE_CLASSIFICATION, QUESTION_ANSWERING),  # the paper's GLUE and SQuAD (RoBERTa's too)
    head_name="masked-LM head",
    # BertModel's pooler (sentence-embedding models), BertForPreTraining's next-sentence head and
    # the fine-tuning heads; RoBERTa's classes hold the same names (its ``classifier`` is a module).
    extras=(("pooler", "pooler"), ("cls.seq_relationship", "next-sentence head"), ("classifier", "classifier"),
            ("qa_outputs", "question-answering head")),
)
