"""The growth baselines of the paper as fixed (not learned) maps, through the shared growth map.

- ``stackbert``: depth only, large layer j copies small layer ``j mod L1``.
- ``interpolation``: depth only, large layer j copies small layer ``floor(j * L1 / L2)``.
- ``net2net``: width only, function preserving (Net2Net, bert2BERT's FPI). Each widened space
  gets a *selection* ``g``: new unit k < old keeps unit k, a new unit k >= old copies old unit
  ``g(k)``. Rows, biases, LayerNorms and embedding tables copy (``P[k, g(k)] = 1``); the columns
  that read a copied unit are divided by its number of copies (``P`` with column s divided by
  ``count(s)``), so the next layer sees the same sum. A space of heads (``Space.head_size``)
  copies whole heads; spaces the layout ties together (``Space.selection_of``: a head's query,
  key and value) share one selection, so a copied head attends exactly as its original.
- ``bert2bert_fpi``: ``net2net`` width, then StackBERT depth.
- ``noise`` (``--grow_noise``, these three): the divided columns get zero-sum noise over each
  unit's copies, HyperCloning's symmetry breaking that keeps the function; each small layer's
  tensor from a stream of its own.
- ``bert2bert_aki``: as FPI, but the new output units of small layer i come from small layer
  i + 1 (the top layer from itself): bert2BERT's advanced knowledge initialisation.
- ``stackbert_direct_copy`` / ``interpolation_direct_copy``: StackBERT / interpolation depth,
  then each small tensor fills the top-left block of the large one; the rest keeps the values of
  the family's random initialisation of that part alone (a layer, or what lies outside the
  layers: ``new_model_part``), so that a layer is grown without the rest of the model. This is
  how a depth-only method meets a target that is also wider (the paper's BERT-Small ->
  BERT-Base): the new units start random.

The output side of a language model reuses the selection of the space the decoder reads (the residual
stream's, or one that shares it: BERT's MLM head): the decoder is the word embedding
(tied, or a copy of it when the small model ties them), whose columns copy; so the LayerNorm it
reads (BERT's MLM head LayerNorm, GPT-2's final ``ln_f``: ``layout.output_norm``) carries the
division instead (its weight and bias of a copied unit divided by the copies), and the logits
stay the same. Function preservation is exact when every hidden unit has the
same number of copies (new hidden a multiple of old); otherwise LayerNorm statistics over
the residual stream change and the function only approximately survives.
"""

import torch
from torch import Tensor
from transformers import PretrainedConfig

from ligo.base.errors import UserError
from ligo.base.seeds import stream_seed
from ligo.growth.expansion import MatrixExpansion, init_depth
from ligo.growth.growth_map import SmallWeights, grow_outside_layers, widen
from ligo.growth.schemes import BASELINES, WIDENING, check_grow_noise
from ligo.models.families import check_growable, layout_of, size_label, space_sizes
from ligo.models.layout import Space, TensorSpec, ties_output_embeddings
from ligo.models.loading import new_model_part

DEPTH_ONLY = {"stackbert": "stackbert", "interpolation": "interlace"}
DIRECT_COPY = {"stackbert_direct_copy": "stackbert", "interpolation_direct_copy": "interlace"}


def selection(new: int, old: int, generator: torch.Generator) -> Tensor:
    """``g`` (``[new]``): the old unit each new unit copies. The first ``old`` keep their place;
    the added ones copy distinct old units (a random permutation) until each old unit has been
    copied once, then random picks, so ``new == 2 * old`` copies every old unit exactly once."""
    picks, added = [], new - old
    while added > 0:
        take = min(added, old)
        picks.append(torch.randperm(old, generator=generator)[:take])
        added -= take
    return torch.cat([torch.arange(old), *picks])


def head_selection(new_heads: int, old_heads: int, head_size: int, generator: torch.Generator) -> Tensor:
    """A unit selection that copies whole heads, offsets inside a head kept."""
    heads = selection(new_heads, old_heads, generator)
    return (heads[:, None] * head_size + torch.arange(head_size)).reshape(-1)


def net2net_selections(small_config: PretrainedConfig, large_config: PretrainedConfig, seed: int
                       ) -> dict[str, Tensor]:
    """The selection of every space of the family's layout: ``[new]`` for a model-wide space,
    ``[small layers, new]`` for a per-layer one (each small layer its own); a space that shares
    another's selection (``Space.selection_of``) gets that very tensor."""
    layout = layout_of(small_config.model_type)
    generator = torch.Generator().manual_seed(seed)
    small, large = space_sizes(small_config), space_sizes(large_config)

    def pick(space: Space) -> Tensor:
        if space.head_size is None:
            return selection(large[space.name], small[space.name], generator)
        size = space.head_size(small_config)  # the target's too: check_growable
        return head_selection(large[space.name] // size, small[space.name] // size, size, generator)

    # The generator's order, which fixes the selections of a seed: the model-wide spaces, then
    # small layer by small layer the per-layer ones, each in the layout's order.
    own = [space for space in layout.spaces if space.selection_of is None and space.grouped_by is None]
    chosen = {space.name: pick(space) for space in own if not space.per_layer}
    per_layer = [space for space in own if space.per_layer]
    layers = [[pick(space) for space in per_layer] for _ in range(small_config.num_hidden_layers)]
    chosen.update({space.name: torch.stack([picks[k] for picks in layers]) for k, space in enumerate(per_layer)})
    for space in layout.spaces:
        if space.grouped_by is not None:  # no draw of its own: it follows its groups' selection
            heads = [sizes[space.name] // space.head_size(small_config) for sizes in (large, small)]
            groups = [sizes[space.grouped_by] // layout.space(space.grouped_by).head_size(small_config)
                      for sizes in (large, small)]
            chosen[space.name] = grouped_selection(chosen[space.grouped_by], *heads, *groups,
                                                   layout.space(space.grouped_by).head_size(small_config),
                                                   space.head_size(small_config))
    chosen.update({space.name: chosen[space.selection_of] for space in layout.spaces if space.selection_of})
    return chosen


def grouped_selection(groups: Tensor, new_heads: int, old_heads: int, new_groups: int, old_groups: int,
                      group_head_size: int, head_size: int) -> Tensor:
    """The unit selection (``[..., new_heads * head_size]``) of heads that attend in groups, one per
    head of another space whose unit selection is ``groups`` (grouped-query attention: query heads
    by key/value head). New head ``r`` of new group ``m`` copies head ``r mod old size`` of the old
    group that new group ``m`` copies: its group is a copy of its original's, so it attends as its
    original; with groups of unchanged size the first ``old_heads`` keep their place."""
    old_size, new_size = old_heads // old_groups, new_heads // new_groups
    if new_size < old_size:
        raise UserError(f"Net2Net widening cannot grow {old_heads} heads in {old_groups} groups to {new_heads} in "
                        f"{new_groups}: a new group ({new_size} heads) must hold a copy of each head of the old group "
                        f"it copies ({old_size}); give the target at least {old_size} heads per group")
    group_heads = groups[..., ::group_head_size] // group_head_size  # [..., new_groups]: the old group each copies
    new = torch.arange(new_heads)
    heads = group_heads[..., new // new_size] * old_size + new % new_size % old_size
    return (heads[..., :, None] * head_size + torch.arange(head_size)).flatten(-2)


def _copy_matrix(g: Tensor, old: int, dtype: torch.dtype) -> Tensor:
    """``P`` (``[..., new, old]``) with ``P[k, g(k)] = 1``."""
    return torch.nn.functional.one_hot(g, old).to(dtype)


def _divided(p: Tensor) -> Tensor:
    """``P`` with each column divided by the number of new units that copy it."""
    return p / p.sum(dim=-2, keepdim=True)


def grow_baseline(scheme: str, small_state: dict[str, Tensor], small_config: PretrainedConfig,
                  large_config: PretrainedConfig, seed: int, noise: float = 0.0) -> dict[str, Tensor]:
    """Every parameter of the large model by its Hugging Face name (as ``LiGOOperator()``: the
    decoder weight and bias only where the large config unties them), grown by ``scheme``."""
    return BaselineGrowth(scheme, small_state, small_config, large_config, seed, noise).grow()


class BaselineGrowth:
    """A baseline's large model, grown whole (``grow``) or a part at a time (``grow_layer``,
    ``grow_outside_layers``: a sharded run fills its shards layer by layer, never holding the whole
    large model). Both give the same tensors: every random draw (Net2Net's noise, direct copy's new
    units) comes from a stream of its own part (``stream_seed``), not one stream through the model."""

    def __init__(self, scheme: str, small_state: dict[str, Tensor], small_config: PretrainedConfig,
                 large_config: PretrainedConfig, seed: int, noise: float = 0.0):
        if scheme not in BASELINES:
            raise UserError(f"growth baseline '{scheme}' is not one of {', '.join(BASELINES)}")
        try:
            check_growable(small_config, large_config, "small model", "large config")
        except UserError as err:
            raise UserError(f"{scheme}: {err}") from None
        small_spaces, large_spaces = space_sizes(small_config), space_sizes(large_config)
        sizes = f"{size_label(small_config)} to {size_label(large_config)}"
        same_width = (small_spaces == large_spaces
                      and small_config.num_attention_heads == large_config.num_attention_heads)
        if scheme in DEPTH_ONLY and not same_width:
            raise UserError(f"{scheme} grows depth only but {sizes} changes the width; use {scheme}_direct_copy "
                            "(new units random), bert2bert_fpi (Net2Net width with StackBERT depth) or keep the "
                            "hidden, FFN and head counts")
        check_grow_noise(noise, scheme)
        if scheme == "net2net" and small_config.num_hidden_layers != large_config.num_hidden_layers:
            raise UserError(f"net2net grows width only but {sizes} changes the depth; use bert2bert_fpi "
                            "(Net2Net width with StackBERT depth) or keep the number of layers")
        self.scheme, self.seed = scheme, seed
        self.small_config, self.large_config = small_config, large_config
        self.layout = layout_of(small_config.model_type)
        self.small = SmallWeights.from_state_dict(self.layout, small_state, small_config.num_hidden_layers)
        depth_scheme = {**DEPTH_ONLY, **DIRECT_COPY}.get(scheme, "stackbert")
        self.coefficients = init_depth(large_config.num_hidden_layers, small_config.num_hidden_layers, depth_scheme,
                                       0.0, torch.Generator().manual_seed(seed))
        self.width = (Net2NetWidth(self.layout, self.small, small_config, large_config, seed,
                                   aki=scheme == "bert2bert_aki", noise=noise) if scheme in WIDENING else None)

    def grow(self) -> dict[str, Tensor]:
        grown = self.grow_outside_layers()
        for layer in range(self.large_config.num_hidden_layers):
            grown.update(self.grow_layer(layer))
        return grown

    def grow_outside_layers(self) -> dict[str, Tensor]:
        """The embeddings, head and output embedding, by their Hugging Face names."""
        if self.width is not None:
            grown = self.width.outside_layers(self.large_config)
        else:
            grown = grow_outside_layers(self.layout, self.small, self.large_config, lambda spec, side: None)
        if self.scheme in DIRECT_COPY:
            grown = self._direct_copy(grown, None)
            if self.layout.decoder is not None and self.layout.decoder.name in grown \
                    and ties_output_embeddings(self.small_config):
                # The small model ties its output embedding to the word embedding: keep them equal.
                grown[self.layout.decoder.name] = grown[self.layout.word_embeddings].clone()
        return self.layout.from_growth(grown)

    def grow_layer(self, layer: int) -> dict[str, Tensor]:
        """Large layer ``layer``'s tensors by their Hugging Face names: the small layers its depth
        coefficients name, mixed (each widened first where the scheme widens)."""
        row = self.coefficients[layer]
        sources = row.nonzero().flatten().tolist()  # the baselines' depth maps copy one small layer
        grown = {}
        for spec in self.layout.layer:
            tensors = [self.width.layer(spec, i) if self.width is not None else self.small.layers[spec.name][i]
                       for i in sources]
            grown[spec.key(layer)] = torch.einsum("i,i...->...", row[sources].to(tensors[0].dtype),
                                                  torch.stack(tensors))
        if self.scheme in DIRECT_COPY:
            grown = self._direct_copy(grown, layer)
        return self.layout.from_growth(grown)

    def _direct_copy(self, grown: dict[str, Tensor], layer: int | None) -> dict[str, Tensor]:
        """Each grown tensor in the top-left block of the same part of a randomly initialised large model."""
        random_part = self.layout.to_growth(new_model_part(self.large_config.model_type, self.large_config,
                                                           self.seed, layer))
        result = {}
        for name, tensor in grown.items():
            target = random_part[name].clone().to(tensor.dtype)
            target[tuple(slice(0, size) for size in tensor.shape)] = tensor
            result[name] = target
        return result


class Net2NetWidth:
    """Net2Net's widening (bert2BERT's FPI and AKI): each small layer widened with its own
    selections (the depth map then stacks widened layers), the embeddings and head by the
    model-wide ones; ``--grow_noise`` splits each small layer's copies from a stream of its own."""

    def __init__(self, layout, small: SmallWeights, small_config, large_config, seed: int, aki: bool,
                 noise: float = 0.0):
        self.layout, self.small, self.aki, self.noise, self.seed = layout, small, aki, noise, seed
        self.chosen = net2net_selections(small_config, large_config, seed)
        self.sizes = space_sizes(small_config)
        self.small_layers = small_config.num_hidden_layers
        self.dtype = next(iter(small.layers.values())).dtype
        self.per_layer = {space.name for space in layout.spaces if space.per_layer}
        self._widened = (None, None)  # (small layer, its widened tensors): interpolation reads one layer in a row

    def _expansion(self, small_layer: int | None):
        """``expansion(spec, side)`` with small layer ``small_layer``'s selections (``None``: outside the layers)."""
        def copies(space: str) -> Tensor:
            g = self.chosen[space]
            return _copy_matrix(g[small_layer] if space in self.per_layer else g, self.sizes[space], self.dtype)

        def expansion(spec: TensorSpec, side: str):
            # The output side: the selection of the space the decoder reads; the LayerNorm the decoder
            # reads divides, the decoder (the word embedding) copies.
            if spec.name in self.layout.output_norm:
                p = _divided(copies(spec.out_space))
                return MatrixExpansion(p, p)
            if self.layout.is_decoder(spec.name):
                p = copies(spec.in_space)
                return MatrixExpansion(p, p)
            space = spec.out_space if side == "out" else spec.in_space
            if space not in self.chosen:
                return None
            p = copies(space)
            return MatrixExpansion(p, _divided(p))
        return expansion

    def layer(self, spec: TensorSpec, i: int) -> Tensor:
        """Small layer ``i``'s tensor ``spec``, widened."""
        if self._widened[0] != i:
            self._widened = (None, None)  # let go first
            self._widened = (i, self._widen_layer(i))
        return self._widened[1][spec.name]

    def _widen_layer(self, i: int) -> dict[str, Tensor]:
        expansion, widened = self._expansion(i), {}
        for spec in self.layout.layer:
            tensor = self.small.layers[spec.name][i]
            wide = widen(spec, tensor, expansion)
            if self.aki and spec.out_space is not None:
                # AKI: the new output units of layer i from layer i + 1 (the top layer from itself);
                # the columns widen alike for both.
                following = widen(spec, self.small.layers[spec.name][min(i + 1, self.small_layers - 1)], expansion)
                old = tensor.shape[-2] if spec.in_space is not None else tensor.shape[-1]
                if spec.in_space is not None:
                    wide = torch.cat([wide[..., :old, :], following[..., old:, :]], dim=-2)
                else:
                    wide = torch.cat([wide[..., :old], following[..., old:]], dim=-1)
            widened[spec.name] = self._split_noisily(spec, tensor, wide, i)
        return widened

    def outside_layers(self, large_config) -> dict[str, Tensor]:
        grown = grow_outside_layers(self.layout, self.small, large_config, self._expansion(None))
        for spec in self.layout.embeddings + self.layout.head:
            grown[spec.key()] = self._split_noisily(spec, self.small.others[spec.name], grown[spec.key()], None)
        return grown

    def _split_noisily(self, spec: TensorSpec, small_tensor: Tensor, wide: Tensor, small_layer: int | None
                       ) -> Tensor:
        # Only the columns that read a copied unit and were divided among its copies.
        divides = (spec.in_space in self.chosen and spec.name not in self.layout.output_norm
                   and not self.layout.is_decoder(spec.name))
        if not self.noise or not divides:
            return wide
        g = self.chosen[spec.in_space]
        g = g[small_layer] if spec.in_space in self.per_layer else g
        generator = torch.Generator().manual_seed(stream_seed(self.seed, "grow_noise", spec.name, small_layer))
        return wide + _zero_sum_noise(wide, g, self.sizes[spec.in_space],
                                      self.noise * small_tensor.float().std().item(), generator)


def _zero_sum_noise(wide: Tensor, g: Tensor, old: int, std: float, generator: torch.Generator) -> Tensor:
    """Gaussian noise for the columns of ``wide`` (``[..., out, new]``), minus its mean over the
    columns that copy one old unit (``g``): the copies of a unit then read it with different
    weights that still sum to the original's, so the function stays (HyperCloning's symmetric
    noise, Samragh et al. 2024), and a unit copied once gets none."""
    eta = torch.randn(wide.shape, generator=generator, dtype=torch.float32) * std
    p = _copy_matrix(g, old, torch.float32)
    return (eta - eta @ _divided(p) @ p.transpose(-1, -2)).to(wide.dtype)
