"""Llama (``model_type`` llama): Hugging Face's unmodified ``LlamaForCausalLM``, a decoder-only
causal LM (Llama, Mistral-style SmolLM and TinyLlama checkpoints), its tensor layout for growth and
its FLOPs (ligo/models/llama_flops.py).

Its layout is Hugging Face's own, no view needed (``nn.Linear`` weights are ``[out, in]``):
  * a block is RMSNorm (``input_layernorm``, module type ``attn_norm``), attention (``q``, ``k``,
    ``v``, ``o``), RMSNorm (``post_attention_layernorm``, ``mlp_norm``) and the SwiGLU MLP
    (``gate``, ``up``, ``down``); a final ``model.norm``, which the output embedding reads;
  * grouped-query attention: ``num_key_value_heads`` key and value heads of ``head_dim``, each
    read by ``num_attention_heads / num_key_value_heads`` query heads; ``o_proj`` reads the
    attention output, laid out by query head (the ``query`` space);
  * rotary position embeddings, no position table; gate and up both write the ``ffn`` space;
  * no biases: configs with ``attention_bias`` or ``mlp_bias`` are refused (``check_config``);
  * ``lm_head`` tied to ``embed_tokens`` or not (``tie_word_embeddings``), no bias.

The data: ``<s>`` (bos_token) before each block and ``</s>`` (eos_token) after every line (a
document of the corpus), as GPT-2's ``<|endoftext|>``: every token of the stream is predicted.
"""

from transformers import LlamaConfig, LlamaForCausalLM, PretrainedConfig

from ligo.base.errors import UserError
from ligo.models import llama_flops
from ligo.models.family import Family, SizeFields
from ligo.models.layout import Layout, Space, TensorSpec, linear, norm

BLOCK = "model.layers.{i}"
# The module types of a layer, in the LiGO operator's depth tensor order (a saved operator's shape).
LAYER_MODULES = ("q", "k", "v", "o", "attn_norm", "gate", "up", "down", "mlp_norm")
# Query, key and value grow by whole heads of head_dim in LiGO too (rotary embeddings act inside
# each head: mixing whole heads commutes with them). Net2Net: a value head is read with its key
# head (one selection), and a query head copies one whose key/value group its new group copies.
SPACES = (
    Space("hidden"),
    Space("query", per_layer=True, head_size=llama_flops.head_dim, grouped_by="key", whole_heads=True),
    Space("key", per_layer=True, head_size=llama_flops.head_dim, whole_heads=True),
    Space("value", per_layer=True, head_size=llama_flops.head_dim, selection_of="key", whole_heads=True),
    Space("ffn", per_layer=True),
)

GROWABLE_FIELDS = (("num_hidden_layers", "layers"), ("hidden_size", "hidden size"),
                   ("intermediate_size", "FFN size"), ("num_attention_heads", "attention heads"),
                   ("num_key_value_heads", "key/value heads"))
SHARED_FIELDS = ("vocab_size", "max_position_embeddings")
# Free to differ in a grown model: attention dropout (a training setting) and the labels of
# classification heads, which causal-LM pretraining does not use.
FREE_FIELDS = ("attention_dropout", "id2label", "label2id", "problem_type", "task_specific_params")


def check_config(config: PretrainedConfig, name: str):
    """Refuse what the layout does not hold: biases, and query heads that key/value heads do not group."""
    biased = [field for field in ("attention_bias", "mlp_bias") if getattr(config, field, False)]
    if biased:
        raise UserError(f"{name}: {' and '.join(biased)} true is not supported (the llama layout has no biases); "
                        "set it to false")
    heads, kv_heads = config.num_attention_heads, config.num_key_value_heads
    if heads % kv_heads:
        raise UserError(f"{name}: num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}; "
                        "fix one of them")


def layout() -> Layout:
    attn, mlp = f"{BLOCK}.self_attn", f"{BLOCK}.mlp"
    layer_specs = (
        *linear(f"{attn}.q_proj", "query", "hidden", "q", bias=False),
        *linear(f"{attn}.k_proj", "key", "hidden", "k", bias=False),
        *linear(f"{attn}.v_proj", "value", "hidden", "v", bias=False),
        *linear(f"{attn}.o_proj", "hidden", "query", "o", bias=False),  # the output is laid out by query head
        *norm(f"{BLOCK}.input_layernorm", "hidden", "attn_norm", bias=False),
        *linear(f"{mlp}.gate_proj", "ffn", "hidden", "gate", bias=False),
        *linear(f"{mlp}.up_proj", "ffn", "hidden", "up", bias=False),
        *linear(f"{mlp}.down_proj", "hidden", "ffn", "down", bias=False),
        *norm(f"{BLOCK}.post_attention_layernorm", "hidden", "mlp_norm", bias=False),
    )
    return Layout(
        family="llama",
        embeddings=(TensorSpec("model.embed_tokens", "weight", "hidden"),),
        layer=layer_specs,
        head=tuple(norm("model.norm", "hidden", bias=False)),
        decoder=TensorSpec("lm_head", "weight", None, "hidden"),
        decoder_bias=None,
        head_bias=None,
        word_embeddings="model.embed_tokens.weight",
        layer_modules=LAYER_MODULES,
        spaces=SPACES,
        output_norm=("model.norm.weight",),
    )


def space_sizes(config: PretrainedConfig) -> dict[str, int]:
    query = config.num_attention_heads * llama_flops.head_dim(config)
    kv = llama_flops.key_value_width(config)
    return {"hidden": config.hidden_size, "query": query, "key": kv, "value": kv, "ffn": config.intermediate_size}


FAMILY = Family(
    model_type="llama",
    config_class=LlamaConfig,
    pretraining_class=LlamaForCausalLM,
    objective="clm",
    layout=layout,
    space_sizes=space_sizes,
    flops_breakdown=llama_flops.flops_breakdown,
    matmul_terms=llama_flops.MATMUL_TERMS,
    growable_fields=GROWABLE_FIELDS,
    shared_fields=SHARED_FIELDS,
    free_fields=FREE_FIELDS,
    size_fields=SizeFields(kv_heads="num_key_value_heads"),
    head_size=llama_flops.head_dim,
    check_config=check_config,
    layers_path="model.layers",
    block_start_token="bos_token",
    block_end_token=None,
    document_end_token="eos_token",
    tokenizer_kind="llama",
    example_config="configs/llama-mini-2L-64H.json",
    finetune_heads=(),  # none yet: the fine-tuning data needs a [CLS] token and padding
    head_name="LM head",
    extras=(("score", "sequence or token classifier"), ("qa_outputs", "question-answering head")),
)
