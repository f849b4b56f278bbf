"""GPT-2 (``model_type`` gpt2): Hugging Face's unmodified ``GPT2LMHeadModel``, a decoder-only
causal LM, its tensor layout for growth and its FLOPs (ligo/models/gpt2_flops.py).

Its layout is not BERT's, and growth sees it through a view (``to_growth`` / ``from_growth``):
  * ``Conv1D`` weights are stored ``[in, out]``: the view holds them transposed, ``[out, in]``;
  * ``attn.c_attn`` fuses query, key and value (outputs ``[q | k | v]``): the view splits it
    into ``attn.c_attn.query``, ``.key`` and ``.value``, each its own space and expansion, as
    BERT's three projections (their inputs on the residual stream; ``attn.c_proj`` reads the
    value space and writes the residual stream);
  * blocks are pre-LayerNorm: ``ln_1`` before attention and ``ln_2`` before the MLP, both on
    the residual stream (module types ``attn_ln`` and ``ffn_ln`` for LiGO's depth
    coefficients), and a final ``ln_f`` on the residual stream, which the output embedding
    reads (Net2Net divides it, ``Layout.output_norm``);
  * ``wte`` (tied to ``lm_head``, which has no bias) and ``wpe`` are tables of residual-stream
    vectors.
The view's maps are a transpose, a split and a concatenation: the LiGO operator trains through
them.

The data: contiguous blocks of the token stream with ``<|endoftext|>`` after every line (a
line is one document of the corpus) and one more before each block, so that every token of
the stream, the first of a block included, is predicted once.
"""

import re

import torch
from transformers import GPT2Config, GPT2LMHeadModel, PretrainedConfig

from ligo.models import bert, gpt2_flops
from ligo.models.family import Family, SizeFields
from ligo.models.layout import Layout, TensorSpec, linear, norm

BLOCK = "transformer.h.{i}"
# BERT's block: its layer module types in the LiGO operator's depth tensor order (saved operators
# hold them) and its spaces.
LAYER_MODULES, SPACES = bert.LAYER_MODULES, bert.BLOCK_SPACES
PROJECTIONS = ("query", "key", "value")  # c_attn's outputs, in its order
FUSED = re.compile(r"^(transformer\.h\.\d+\.attn\.c_attn)\.(weight|bias)$")
SPLIT = re.compile(r"^(transformer\.h\.\d+\.attn\.c_attn)\.(query|key|value)\.(weight|bias)$")
# Conv1D weights other than c_attn's: stored [in, out].
CONV1D = re.compile(r"^transformer\.h\.\d+\.(attn\.c_proj|mlp\.c_fc|mlp\.c_proj)\.weight$")

GROWABLE_FIELDS = (("num_hidden_layers", "layers"), ("hidden_size", "hidden size"),
                   ("num_attention_heads", "attention heads"))
SHARED_FIELDS = ("vocab_size", "max_position_embeddings")
# Free to differ in a grown model: dropout, the labels of classification heads and text-generation
# settings, which causal-LM pretraining does not use, and older configs' n_ctx (a copy of
# n_positions that transformers no longer reads).
FREE_FIELDS = ("resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout", "summary_last_dropout",
               "id2label", "label2id", "problem_type", "task_specific_params", "n_ctx")


def to_growth(state: dict) -> dict:
    """Hugging Face's tensors -> the growth view: c_attn split in three, Conv1D weights ``[out, in]``."""
    view = {}
    for name, tensor in state.items():
        if match := FUSED.match(name):
            module, param = match.groups()
            parts = tensor.transpose(-1, -2) if param == "weight" else tensor
            for projection, part in zip(PROJECTIONS, parts.chunk(3, dim=-2 if param == "weight" else -1)):
                view[f"{module}.{projection}.{param}"] = part
        elif CONV1D.match(name):
            view[name] = tensor.transpose(-1, -2)
        else:
            view[name] = tensor
    return view


def from_growth(view: dict) -> dict:
    """The growth view -> Hugging Face's tensors (differentiable: a concatenation and transposes)."""
    state, fused = {}, {}
    for name, tensor in view.items():
        if match := SPLIT.match(name):
            module, projection, param = match.groups()
            fused.setdefault((module, param), {})[projection] = tensor
        elif CONV1D.match(name):
            state[name] = tensor.transpose(-1, -2)
        else:
            state[name] = tensor
    for (module, param), parts in fused.items():
        if set(parts) != set(PROJECTIONS):
            raise KeyError(f"{module}.{param}: only {sorted(parts)} of query, key and value")
        if param == "weight":
            state[f"{module}.weight"] = torch.cat([parts[p] for p in PROJECTIONS], dim=-2).transpose(-1, -2)
        else:
            state[f"{module}.bias"] = torch.cat([parts[p] for p in PROJECTIONS], dim=-1)
    return state


def layout() -> Layout:
    attn, mlp = f"{BLOCK}.attn", f"{BLOCK}.mlp"
    layer_specs = (
        *norm(f"{BLOCK}.ln_1", "hidden", "attn_ln"),
        *linear(f"{attn}.c_attn.query", "query", "hidden", "query"),
        *linear(f"{attn}.c_attn.key", "key", "hidden", "key"),
        *linear(f"{attn}.c_attn.value", "value", "hidden", "value"),
        *linear(f"{attn}.c_proj", "hidden", "value", "attn_out"),
        *norm(f"{BLOCK}.ln_2", "hidden", "ffn_ln"),
        *linear(f"{mlp}.c_fc", "ffn", "hidden", "ffn_in"),
        *linear(f"{mlp}.c_proj", "hidden", "ffn", "ffn_out"),
    )
    return Layout(
        family="gpt2",
        embeddings=(TensorSpec("transformer.wte", "weight", "hidden"),
                    TensorSpec("transformer.wpe", "weight", "hidden")),
        layer=layer_specs,
        head=tuple(norm("transformer.ln_f", "hidden")),
        decoder=TensorSpec("lm_head", "weight", None, "hidden"),
        decoder_bias=None,
        head_bias=None,
        word_embeddings="transformer.wte.weight",
        layer_modules=LAYER_MODULES,
        spaces=SPACES,
        output_norm=("transformer.ln_f.weight", "transformer.ln_f.bias"),
        to_growth=to_growth,
        from_growth=from_growth,
    )


def space_sizes(config: PretrainedConfig) -> dict[str, int]:
    hidden = config.hidden_size
    return {"hidden": hidden, "query": hidden, "key": hidden, "value": hidden, "ffn": gpt2_flops.ffn_size(config)}


FAMILY = Family(
    model_type="gpt2",
    config_class=GPT2Config,
    pretraining_class=GPT2LMHeadModel,
    objective="clm",
    layout=layout,
    space_sizes=space_sizes,
    flops_breakdown=gpt2_flops.flops_breakdown,
    matmul_terms=gpt2_flops.MATMUL_TERMS,
    growable_fields=GROWABLE_FIELDS,
    shared_fields=SHARED_FIELDS,
    size_fields=SizeFields(ffn="n_inner"),  # None: 4 * n_embd
    free_fields=FREE_FIELDS,
    layers_path="transformer.h",
    block_start_token="eos_token",
    block_end_token=None,
    document_end_token="eos_token",
    tokenizer_kind="gpt2",
    example_config="configs/gpt2-12L-768H.json",
    # None: the fine-tuning data needs a [CLS] token and padding, which GPT-2's tokenizer lacks.
    finetune_heads=(),
    head_name="LM head",  # lm_head: tied to wte, so a GPT2Model checkpoint lacks nothing
    extras=(("score", "sequence classifier"), ("classifier", "token classifier"),
            ("qa_outputs", "question-answering head"), ("multiple_choice_head", "multiple-choice head")),
)
