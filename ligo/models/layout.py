"""The types that say where every parameter of a model lives and which space each of its
dimensions belongs to: what the growth operators need to know of a model. Each family file
(ligo/models/bert.py, ...) builds its ``Layout`` from them.

A *space* is a dimension that growth widens, e.g. BERT's ``hidden`` (the residual stream),
``query``, ``key``, ``value`` (attention projections), ``ffn`` (the intermediate layer) and
``head`` (the MLM head transform); each family declares its own (``Layout.spaces``), with their
structure: plain units, or attention heads of a given size. ``None`` marks a dimension never
widened (vocabulary, positions, token types, classes, pixels). Layer tensors carry ``{i}`` in
their name, and each belongs to one of the family's layer module types (``Layout.layer_modules``),
which LiGO gives depth coefficients of their own (SPEC 1).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from transformers import PretrainedConfig


@dataclass(frozen=True)
class TensorSpec:
    module_path: str  # e.g. "encoder.layer.{i}.attention.self.query" under the family's base module
    param: str  # "weight" or "bias"
    out_space: str | None  # space of the output features: dim 0 of a linear weight, the last dim of a vector or table
    in_space: str | None = None  # space of the input features: dim 1 of a linear weight
    layer_module: str | None = None  # one of the layout's layer_modules for encoder-layer tensors

    @property
    def name(self) -> str:
        return f"{self.module_path}.{self.param}"

    def key(self, layer: int | None = None) -> str:
        return self.name.format(i=layer) if self.layer_module else self.name


def linear(path, out_space, in_space, layer_module=None, bias=True):
    weight = TensorSpec(path, "weight", out_space, in_space, layer_module)
    return [weight, TensorSpec(path, "bias", out_space, None, layer_module)] if bias else [weight]


def norm(path, space, layer_module=None, bias=True):
    weight = TensorSpec(path, "weight", space, None, layer_module)
    return [weight, TensorSpec(path, "bias", space, None, layer_module)] if bias else [weight]


def hidden_over_heads(config: PretrainedConfig) -> int:
    """The head size of a config whose heads split the hidden size (BERT, GPT-2, ViT)."""
    return config.hidden_size // config.num_attention_heads


@dataclass(frozen=True)
class Space:
    """A dimension growth widens (its size: the family's ``space_sizes``) and how its units go together."""

    name: str
    # LiGO with tied expansions (SPEC 1) gives this space one expansion per large layer (attention
    # projections, the FFN); else one for the whole model (the residual stream).
    per_layer: bool = False
    # The size of its attention heads for a config, or None: plain units. Net2Net copies whole heads.
    head_size: Callable[[PretrainedConfig], int] | None = None
    # The space whose Net2Net selection this one reuses, or None: its own. A head's query, key and
    # value copy the same heads, so that a copied head attends exactly as its original.
    selection_of: str | None = None
    # The space of heads this one's heads attend in groups of (grouped-query attention: Llama's
    # query heads, grouped by key head), or None. Net2Net derives its selection from that space's:
    # a new head copies an old one of the group its new group's head copies, so it attends as its original.
    grouped_by: str | None = None
    # LiGO widens this space by whole heads: one coefficient per (new head, old head), the same for
    # every coordinate of a head, so that growth commutes with what acts inside each head alike
    # (rotary position embeddings). False: one per (new unit, old unit), as saved operators of the
    # families that declare it so hold.
    whole_heads: bool = False


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
    # The module types of a layer, in the order of the LiGO operator's depth tensor (a saved
    # operator's shape: keep the order of a family once operators of it exist).
    layer_modules: tuple[str, ...]
    spaces: tuple[Space, ...]  # every space a tensor of the layout names
    # The LayerNorm whose output the decoder reads (its weight and bias): Net2Net divides it by
    # the copies of each hidden unit, as the decoder's columns (the word embedding) only copy.
    output_norm: tuple[str, ...] = ()
    # Growth sees every weight as ``[out, in]`` with one tensor per projection. A family whose
    # Hugging Face tensors differ (GPT-2's Conv1D ``[in, out]``, its fused query/key/value) gives
    # the two maps between its state dict and that view (the specs name the view's tensors);
    # both must be differentiable, as the LiGO operator trains through them.
    to_growth: Callable[[dict], dict] = field(default=_same)  # Hugging Face names -> the view
    from_growth: Callable[[dict], dict] = field(default=_same)  # the view -> Hugging Face names

    def __post_init__(self):
        # A family's mistakes, caught as its layout is built rather than deep inside a growth run.
        modules = [spec.layer_module for spec in self.layer]
        if None in modules or set(modules) != set(self.layer_modules):
            raise ValueError(f"{self.family}: layer tensors' module types {sorted(map(str, set(modules)))} are not "
                             f"the declared layer_modules {list(self.layer_modules)}")
        if any(spec.layer_module is not None for spec in self.embeddings + self.head):
            raise ValueError(f"{self.family}: a module type outside the layers")
        spaces = {space.name: space for space in self.spaces}
        specs = self.all_specs() + ((self.decoder,) if self.decoder is not None else ())
        used = {space for spec in specs for space in (spec.out_space, spec.in_space)} - {None}
        if used - set(spaces):
            raise ValueError(f"{self.family}: spaces {sorted(used - set(spaces))} are used but not declared")
        for space in self.spaces:
            source = spaces.get(space.selection_of, space)
            if source.selection_of is not None or source.per_layer != space.per_layer \
                    or (source.head_size is None) != (space.head_size is None):
                raise ValueError(f"{self.family}: space {space.name} shares the selection of {space.selection_of}, "
                                 "which must have its own, be per layer exactly when it is and have heads if it has")
            if space.grouped_by is not None:
                groups = spaces.get(space.grouped_by)
                if groups is None or space.selection_of is not None or groups.selection_of is not None \
                        or groups.grouped_by is not None or groups.per_layer != space.per_layer \
                        or groups.head_size is None or space.head_size is None:
                    raise ValueError(f"{self.family}: space {space.name} is grouped by {space.grouped_by}: both must "
                                     "have heads and selections of their own and be per layer alike")
            if space.whole_heads and space.head_size is None:
                raise ValueError(f"{self.family}: space {space.name} grows by whole heads but has none")

    def space(self, name: str) -> Space:
        return next(space for space in self.spaces if space.name == name)

    def all_specs(self) -> tuple[TensorSpec, ...]:
        return self.embeddings + self.layer + self.head

    def untied_decoder(self, config: PretrainedConfig) -> bool:
        """Whether a model of this config has an output embedding of its own to grow."""
        return self.decoder is not None and not ties_output_embeddings(config)

    def is_decoder(self, name: str) -> bool:
        return self.decoder is not None and name == self.decoder.name


def ties_output_embeddings(config: PretrainedConfig) -> bool:
    return bool(getattr(config, "tie_word_embeddings", True))
