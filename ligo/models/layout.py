"""The types that say where every parameter of a model lives and which space each of its
dimensions belongs to: what the growth operators need to know of a model. Each family file
(ligo/models/bert.py, ...) builds its ``Layout`` from them.

A *space* is a dimension that growth widens: ``hidden`` (the residual stream), ``query``,
``key``, ``value`` (attention projections), ``ffn`` (the intermediate layer) and ``head``
(the MLM head transform). ``None`` marks a dimension never widened (vocabulary, positions,
token types, classes, pixels). Layer tensors carry ``{i}`` in their name.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from transformers import PretrainedConfig

# The eight module types of an encoder layer (SPEC 1: each has its own depth coefficients).
LAYER_MODULES = ("query", "key", "value", "attn_out", "attn_ln", "ffn_in", "ffn_out", "ffn_ln")


@dataclass(frozen=True)
class TensorSpec:
    module_path: str  # e.g. "encoder.layer.{i}.attention.self.query" under the family's base module
    param: str  # "weight" or "bias"
    out_space: str | None  # space of the output features: dim 0 of a linear weight, the last dim of a vector or table
    in_space: str | None = None  # space of the input features: dim 1 of a linear weight
    layer_module: str | None = None  # one of LAYER_MODULES for encoder-layer tensors

    @property
    def name(self) -> str:
        return f"{self.module_path}.{self.param}"

    def key(self, layer: int | None = None) -> str:
        return self.name.format(i=layer) if self.layer_module else self.name


def linear(path, out_space, in_space, layer_module=None):
    return [TensorSpec(path, "weight", out_space, in_space, layer_module),
            TensorSpec(path, "bias", out_space, None, layer_module)]


def norm(path, space, layer_module=None):
    return [TensorSpec(path, "weight", space, None, layer_module), TensorSpec(path, "bias", space, None, layer_module)]


def _same(tensors: dict) -> dict:
    return tensors


@dataclass(frozen=True)
class Layout:
    family: str
    embeddings: tuple[TensorSpec, ...]
    layer: tuple[TensorSpec, ...]
    head: tuple[TensorSpec, ...]
    # The output embedding, tied to the word embedding unless the config unties it; None where the
    # family has none (ViT: its classifier is a plain head tensor).
    decoder: TensorSpec | None
    decoder_bias: str | None  # tied to the head's bias where the embeddings are tied; None: no output bias
    head_bias: str | None
    word_embeddings: str | None
    # The LayerNorm whose output the decoder reads (its weight and bias): Net2Net divides it by
    # the copies of each hidden unit, as the decoder's columns (the word embedding) only copy.
    output_norm: tuple[str, ...] = ()
    # Growth sees every weight as ``[out, in]`` with one tensor per projection. A family whose
    # Hugging Face tensors differ (GPT-2's Conv1D ``[in, out]``, its fused query/key/value) gives
    # the two maps between its state dict and that view (the specs name the view's tensors);
    # both must be differentiable, as the LiGO operator trains through them.
    to_growth: Callable[[dict], dict] = field(default=_same)  # Hugging Face names -> the view
    from_growth: Callable[[dict], dict] = field(default=_same)  # the view -> Hugging Face names

    def all_specs(self) -> tuple[TensorSpec, ...]:
        return self.embeddings + self.layer + self.head

    def untied_decoder(self, config: PretrainedConfig) -> bool:
        """Whether a model of this config has an output embedding of its own to grow."""
        return self.decoder is not None and not ties_output_embeddings(config)

    def is_decoder(self, name: str) -> bool:
        return self.decoder is not None and name == self.decoder.name


def ties_output_embeddings(config: PretrainedConfig) -> bool:
    return bool(getattr(config, "tie_word_embeddings", True))
