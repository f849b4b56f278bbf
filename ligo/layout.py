"""Where every parameter of a Hugging Face BERT/RoBERTa masked-LM lives, and which space
each of its dimensions belongs to: what the growth operators need to know of the model.

A *space* is a dimension that growth widens: ``hidden`` (the residual stream), ``query``,
``key``, ``value`` (attention projections), ``ffn`` (the intermediate layer) and ``head``
(the MLM head transform). ``None`` marks a dimension never widened (vocabulary, positions,
token types). Layer tensors carry ``{i}`` in their name.
"""

from dataclasses import dataclass

from transformers import PretrainedConfig

from ligo.errors import UserError

# The eight module types of an encoder layer (SPEC 1: each has its own depth coefficients).
LAYER_MODULES = ("query", "key", "value", "attn_out", "attn_ln", "ffn_in", "ffn_out", "ffn_ln")


@dataclass(frozen=True)
class TensorSpec:
    module_path: str  # e.g. "bert.encoder.layer.{i}.attention.self.query"
    param: str  # "weight" or "bias"
    out_space: str | None  # space of the output features: dim 0 of a linear weight, the last dim of a vector or table
    in_space: str | None = None  # space of the input features: dim 1 of a linear weight
    layer_module: str | None = None  # one of LAYER_MODULES for encoder-layer tensors

    @property
    def name(self) -> str:
        return f"{self.module_path}.{self.param}"

    def key(self, layer: int | None = None) -> str:
        return self.name.format(i=layer) if self.layer_module else self.name


def _linear(path, out_space, in_space, layer_module=None):
    return [TensorSpec(path, "weight", out_space, in_space, layer_module),
            TensorSpec(path, "bias", out_space, None, layer_module)]


def _norm(path, space, layer_module=None):
    return [TensorSpec(path, "weight", space, None, layer_module), TensorSpec(path, "bias", space, None, layer_module)]


@dataclass(frozen=True)
class Layout:
    family: str
    embeddings: tuple[TensorSpec, ...]
    layer: tuple[TensorSpec, ...]
    head: tuple[TensorSpec, ...]
    decoder: TensorSpec  # the output embedding, tied to the word embedding unless the config unties it
    decoder_bias: str  # tied to the head's bias where the embeddings are tied
    head_bias: str
    word_embeddings: str

    def all_specs(self) -> tuple[TensorSpec, ...]:
        return self.embeddings + self.layer + self.head


def layout_of(family: str) -> Layout:
    if family == "bert":
        base, head = "bert", "cls.predictions"
        head_dense, head_norm, head_bias = f"{head}.transform.dense", f"{head}.transform.LayerNorm", f"{head}.bias"
    elif family == "roberta":
        base, head = "roberta", "lm_head"
        head_dense, head_norm, head_bias = f"{head}.dense", f"{head}.layer_norm", f"{head}.bias"
    else:
        raise UserError(f"growth supports bert and roberta models, not '{family}'")
    emb, layer = f"{base}.embeddings", f"{base}.encoder.layer.{{i}}"
    # An embedding table's rows are output vectors in the hidden space: widened like biases,
    # row by row (with an expansion's output matrix, not its input one).
    embeddings = (
        TensorSpec(f"{emb}.word_embeddings", "weight", "hidden"),
        TensorSpec(f"{emb}.position_embeddings", "weight", "hidden"),
        TensorSpec(f"{emb}.token_type_embeddings", "weight", "hidden"),
        *_norm(f"{emb}.LayerNorm", "hidden"),
    )
    layer_specs = (
        *_linear(f"{layer}.attention.self.query", "query", "hidden", "query"),
        *_linear(f"{layer}.attention.self.key", "key", "hidden", "key"),
        *_linear(f"{layer}.attention.self.value", "value", "hidden", "value"),
        *_linear(f"{layer}.attention.output.dense", "hidden", "value", "attn_out"),
        *_norm(f"{layer}.attention.output.LayerNorm", "hidden", "attn_ln"),
        *_linear(f"{layer}.intermediate.dense", "ffn", "hidden", "ffn_in"),
        *_linear(f"{layer}.output.dense", "hidden", "ffn", "ffn_out"),
        *_norm(f"{layer}.output.LayerNorm", "hidden", "ffn_ln"),
    )
    head_specs = (*_linear(head_dense, "head", "hidden"), *_norm(head_norm, "head"),
                  TensorSpec(head_bias.rsplit(".", 1)[0], "bias", None))
    return Layout(
        family=family,
        embeddings=embeddings,
        layer=layer_specs,
        head=head_specs,
        decoder=TensorSpec(f"{head}.decoder", "weight", None, "head"),
        decoder_bias=f"{head}.decoder.bias",
        head_bias=head_bias,
        word_embeddings=f"{emb}.word_embeddings.weight",
    )


def space_sizes(config: PretrainedConfig) -> dict[str, int]:
    hidden = config.hidden_size
    return {"hidden": hidden, "query": hidden, "key": hidden, "value": hidden, "ffn": config.intermediate_size,
            "head": hidden}


def ties_output_embeddings(config: PretrainedConfig) -> bool:
    return bool(getattr(config, "tie_word_embeddings", True))


def check_growable(small: PretrainedConfig, large: PretrainedConfig, small_name: str, large_name: str):
    """Refuse pairs no growth operator can map, naming both models."""
    pair = f"'{small_name}' ({small.model_type} {small.num_hidden_layers}L-{small.hidden_size}H) to " \
           f"'{large_name}' ({large.model_type} {large.num_hidden_layers}L-{large.hidden_size}H)"
    if small.model_type != large.model_type:
        raise UserError(f"cannot grow {pair}: the families differ; grow BERT into BERT, RoBERTa into RoBERTa")
    for field, what in [("num_hidden_layers", "layers"), ("hidden_size", "hidden size"),
                        ("intermediate_size", "FFN size"), ("num_attention_heads", "attention heads")]:
        if getattr(large, field) < getattr(small, field):
            raise UserError(f"cannot grow {pair}: the target has fewer {what} ({getattr(large, field)} < "
                            f"{getattr(small, field)}); the target must be at least as large in every dimension")
    for field in ["vocab_size", "max_position_embeddings", "type_vocab_size"]:
        if getattr(large, field) != getattr(small, field):
            raise UserError(f"cannot grow {pair}: {field} differs ({getattr(small, field)} vs {getattr(large, field)}); "
                            "both models must share the tokenizer and positions")
    for config, name in [(small, small_name), (large, large_name)]:
        if config.hidden_size % config.num_attention_heads:
            raise UserError(f"'{name}': hidden_size {config.hidden_size} is not divisible by "
                            f"{config.num_attention_heads} heads")
    if small.hidden_size // small.num_attention_heads != large.hidden_size // large.num_attention_heads:
        raise UserError(f"cannot grow {pair}: the attention head size differs; widening adds heads of the same size")
