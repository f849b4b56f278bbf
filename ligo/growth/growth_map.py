"""The linear growth map shared by LiGO and the baselines: a small model's weights, depth
coefficients and width expansions in, the large model's parameter dict out.

Depth first, then width (as the authors): for each module type, large layer j is
``sum_i c[j, i] W_i`` over the small layers, all large layers in one contraction; then each
tensor is widened, rows by its output space's expansion, columns by its input space's.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from transformers import PretrainedConfig

from ligo.base.errors import UserError
from ligo.models.layout import Layout, TensorSpec

# expansion(spec, side) -> an object with rows/cols/vec, or None where the space keeps its size
ExpansionFn = Callable[[TensorSpec, str], object]
DepthFn = Callable[[TensorSpec], Tensor]  # -> [large_layers, small_layers]


@dataclass
class SmallWeights:
    """A small model's weights arranged for growth: encoder-layer tensors stacked over layers."""

    layers: dict[str, Tensor]  # spec.name -> [small_layers, ...]
    others: dict[str, Tensor]  # embeddings and head, spec.name -> tensor
    decoder: Tensor | None  # the output embedding (the word embedding where the small model ties them); None: none

    @classmethod
    def from_state_dict(cls, layout: Layout, state: dict[str, Tensor], n_layers: int) -> "SmallWeights":
        """``state``: a Hugging Face state dict of the layout's family."""
        try:
            state = layout.to_growth(state)
        except KeyError as err:
            raise UserError(f"the small model lacks the {layout.family} weight {err}; is it a {layout.family} "
                            f"language-model checkpoint with {n_layers} layers?") from None
        missing = [spec.key(i) for spec in layout.layer for i in range(n_layers) if spec.key(i) not in state]
        missing += [spec.name for spec in layout.embeddings + layout.head if spec.name not in state]
        if missing:
            raise UserError(f"the small model lacks {len(missing)} {layout.family} weight(s), e.g. '{missing[0]}'; "
                            f"is it a {layout.family} language-model checkpoint with {n_layers} layers?")
        layers = {spec.name: torch.stack([state[spec.key(i)] for i in range(n_layers)]) for spec in layout.layer}
        others = {spec.name: state[spec.name] for spec in layout.embeddings + layout.head}
        # transformers ties the decoder bias to the head bias only where the embeddings are tied;
        # an untied model adds decoder.bias alone: that is the output bias to grow.
        if layout.head_bias is not None:
            others[layout.head_bias] = state.get(layout.decoder_bias, state[layout.head_bias])
        decoder = None if layout.decoder is None else state.get(layout.decoder.name, state[layout.word_embeddings])
        return cls(layers, others, decoder)


def widen(spec: TensorSpec, tensor: Tensor, expansion: ExpansionFn) -> Tensor:
    if spec.in_space is not None:  # a linear weight: rows (outputs) and columns (inputs)
        rows = expansion(spec, "out") if spec.out_space is not None else None
        cols = expansion(spec, "in")
        # B (W A^T) = (B W) A^T; widening the rows first is cheaper when W has fewer columns
        # than rows (the cost difference is 2 (R' - R)(C' - C)(C - R) FLOPs).
        if cols is not None and (rows is None or tensor.shape[-1] > tensor.shape[-2]):
            tensor = cols.cols(tensor)
            cols = None
        if rows is not None:
            tensor = rows.rows(tensor)
        return cols.cols(tensor) if cols is not None else tensor
    if spec.out_space is not None and (out := expansion(spec, "out")) is not None:
        return out.vec(tensor)  # biases, LayerNorms, embedding tables: the last dimension
    return tensor


def grow_parameters(layout: Layout, small: SmallWeights, large_config: PretrainedConfig, depth: DepthFn,
                    expansion: ExpansionFn, residual: Callable[[str, Tensor], Tensor] | None = None
                    ) -> dict[str, Tensor]:
    """Every parameter of the large model, by its name in the layout's growth view (the family's
    ``layout.from_growth`` gives the Hugging Face names)."""
    grown = grow_outside_layers(layout, small, large_config, expansion, residual)
    for spec in layout.layer:
        mixed = torch.einsum("ji,i...->j...", depth(spec), small.layers[spec.name])
        stacked = _finish(residual, spec.name, widen(spec, mixed, expansion))
        grown.update({spec.key(j): tensor for j, tensor in enumerate(stacked.unbind(0))})
    return grown


def grow_outside_layers(layout: Layout, small: SmallWeights, large_config: PretrainedConfig, expansion: ExpansionFn,
                        residual: Callable[[str, Tensor], Tensor] | None = None) -> dict[str, Tensor]:
    """The large model's embeddings, head and output embedding (growth-view names)."""
    grown = {}
    for spec in layout.embeddings + layout.head:
        grown[spec.key()] = _finish(residual, spec.name, widen(spec, small.others[spec.name], expansion))
    if layout.untied_decoder(large_config):
        grown[layout.decoder.name] = _finish(residual, layout.decoder.name,
                                             widen(layout.decoder, small.decoder, expansion))
        if layout.decoder_bias is not None:
            grown[layout.decoder_bias] = grown[layout.head_bias]
    return grown


def grow_layer(layout: Layout, small: SmallWeights, layer: int, depth: DepthFn, expansion: ExpansionFn,
               residual: Callable[[str, Tensor], Tensor] | None = None) -> dict[str, Tensor]:
    """Large layer ``layer``'s tensors alone (growth-view names): ``grow_parameters``' math for one
    row of the depth coefficients; ``expansion`` and ``residual`` give that layer's own. Equal to
    ``grow_parameters``' to float32 rounding (one layer's products round apart from all layers' at once)."""
    grown = {}
    for spec in layout.layer:
        mixed = torch.einsum("i,i...->...", depth(spec)[layer], small.layers[spec.name])
        grown[spec.key(layer)] = _finish(residual, spec.name, widen(spec, mixed, expansion))
    return grown


def _finish(residual, name: str, tensor: Tensor) -> Tensor:
    return residual(name, tensor) if residual is not None else tensor
