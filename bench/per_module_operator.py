"""The paper's LiGO operator written the straightforward way, one module at a time: the
baseline of ``bench.operator_vs_per_module``.

For every large layer ``l`` and every tensor of its modules, the small layers' tensors are summed
with that module type's coefficients, ``W = sum_j w[l, j] W_j`` (weights and biases each their
own), and then widened with the WHOLE expansion matrices, ``B W A^T``: ``B`` of the tensor's
output space, ``A`` of its input space, each ``[I; S]`` as a full ``[large, small]`` matrix (SPEC
1); a bias or LayerNorm vector ``b`` becomes ``B b`` and an embedding table ``E`` becomes
``E B^T``. Embeddings and head are widened the same way, without the depth sum. Every step
computes every module so, without using the identity block's structure.

The coefficients, the learned blocks ``S`` and the small weights are copies of a
``LiGOOperator``'s, under the same names and tied as its are (``LiGOOperator.expansion_key``), so
both grow the same weights and train the same tensors; the family's layout (each
``TensorSpec``'s output and input space and layer module) says which expansion goes on which
side of which tensor, so this serves every family. No residual (``tune_residual``).
"""

import torch
from torch import Tensor, nn

from ligo.growth.operator import LiGOOperator, parameter_slot
from ligo.models.layout import TensorSpec


def copy_of(parameter: nn.Parameter) -> nn.Parameter:
    return nn.Parameter(parameter.detach().clone(), requires_grad=parameter.requires_grad)


def copies(parameters: nn.ParameterDict) -> nn.ParameterDict:
    return nn.ParameterDict({name: copy_of(p) for name, p in parameters.items()})


class PerModuleOperator(nn.Module):
    def __init__(self, ours: LiGOOperator):
        super().__init__()
        if len(ours.residual):
            raise ValueError("the per-module baseline grows no residual; build the operator without tune_residual")
        self.layout, self.large_config, self.large_layers = ours.layout, ours.large_config, ours.large_layers
        self.depth = copy_of(ours.depth)  # [module type, weight/bias, large layer, small layer]
        self.width = copies(ours.width)  # the learned blocks S: [new, old] (units or heads), or [large layer, new, old]
        self.small_layer_weights = copies(ours.small_layer_weights)  # [small layer, ...] per layer tensor
        self.small_other_weights = copies(ours.small_other_weights)
        self.small_decoder = None if ours.small_decoder is None else copy_of(ours.small_decoder)
        self.head_sizes = dict(ours.head_sizes)  # spaces widened by whole heads: S mixes heads
        specs = list(self.layout.all_specs()) + ([self.layout.decoder] if self.layout.decoder is not None else [])
        # (tensor, side) -> (key of its expansion, space, one per large layer?), as ours ties them
        self.keys = {(spec.name, side): ours.expansion_key(spec, side) for spec in specs for side in ("out", "in")
                     if (spec.out_space if side == "out" else spec.in_space) is not None}

    def whole(self, spec: TensorSpec, side: str, layer: int | None, built: dict) -> Tensor | None:
        """The whole expansion ``[I; S]`` (``[large, small]``) on one side of a tensor of large layer
        ``layer``; None where that side has no space, or its space keeps its size (B = I)."""
        if (spec.name, side) not in self.keys:
            return None
        key, space, per_layer = self.keys[(spec.name, side)]
        slot = parameter_slot(key)
        if slot not in self.width:
            return None
        cache_key = (slot, layer if per_layer else None)
        if cache_key not in built:  # built once a step; tied tensors share it
            s = self.width[slot][layer] if per_layer else self.width[slot]
            if space in self.head_sizes:  # one coefficient per (new head, old head), on each coordinate alike
                s = torch.kron(s, torch.eye(self.head_sizes[space]))
            built[cache_key] = torch.cat([torch.eye(s.shape[1]), s])
        return built[cache_key]

    def widen(self, spec: TensorSpec, tensor: Tensor, layer: int | None, built: dict) -> Tensor:
        b, a = self.whole(spec, "out", layer, built), self.whole(spec, "in", layer, built)
        if spec.in_space is None:  # a vector or an embedding table: its last dimension is the output space
            return tensor if b is None else tensor @ b.T
        if b is not None:
            tensor = b @ tensor
        return tensor if a is None else tensor @ a.T

    def forward(self) -> dict[str, Tensor]:
        """The large model's parameters by their Hugging Face names, as ``LiGOOperator()`` gives them."""
        layout, built, grown = self.layout, {}, {}
        for spec in layout.embeddings + layout.head:
            grown[spec.key()] = self.widen(spec, self.small_other_weights[parameter_slot(spec.name)], None, built)
        for spec in layout.layer:
            small = self.small_layer_weights[parameter_slot(spec.name)]
            coefficients = self.depth[layout.layer_modules.index(spec.layer_module), 0 if spec.param == "weight" else 1]
            for layer in range(self.large_layers):
                mixed = torch.tensordot(coefficients[layer], small, dims=1)  # sum_j w[l, j] W_j
                grown[spec.key(layer)] = self.widen(spec, mixed, layer, built)
        if layout.untied_decoder(self.large_config):
            grown[layout.decoder.name] = self.widen(layout.decoder, self.small_decoder, None, built)
            if layout.decoder_bias is not None:
                grown[layout.decoder_bias] = grown[layout.head_bias]
        return layout.from_growth(grown)
