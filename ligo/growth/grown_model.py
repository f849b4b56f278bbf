"""The large model as a function of a growth operator, and its materialisation.

``GrownModel`` runs the unmodified Hugging Face large model with the operator's output as
its parameters (``torch.func.functional_call``); the large model itself stays on the meta
device, so no second copy of its weights exists and the loss trains the operator.

Grown whole (``per_layer=False``), every weight of the large model exists at once through the
step, as the backward needs them. Grown per layer, each layer of the family's layer list is
grown just before it runs and dropped after, then grown and run again in the backward
(activation checkpointing over growth and layer): a step holds one layer's weights and
activations plus each layer's input, for about one more forward of the model and the growth.

``materialize`` writes the operator's output into a real model: growing is then simply
``load_state_dict(operator())``.
"""

import copy

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.checkpoint import checkpoint
from torch.utils.flop_counter import FlopCounterMode
from transformers import PretrainedConfig, PreTrainedModel

from ligo.growth.operator import parameter_slot
from ligo.models.families import family_of
from ligo.models.loading import new_model


class GrownModel(nn.Module):
    def __init__(self, operator: nn.Module, large_config: PretrainedConfig, per_layer: bool = False):
        super().__init__()
        if per_layer and getattr(large_config, "use_cache", False):
            # A decoder's key/value cache would take each layer's keys twice: in the forward and
            # again as the backward recomputes the layer (Hugging Face's own checkpointing turns it off too).
            large_config = copy.deepcopy(large_config)
            large_config.use_cache = False
        self.operator = operator
        self.config = large_config
        self.per_layer = per_layer
        family = family_of(large_config.model_type)
        with torch.device("meta"):
            large = family.pretraining_class(large_config)
        object.__setattr__(self, "large", large)  # not a submodule: its meta tensors are no one's parameters
        # The large model's constant buffers (BERT's position and token-type ids; GPT-2 has none),
        # real this time: each module that holds some is built once more on the CPU for them.
        self.buffer_names = {}
        owners = {name.rpartition(".")[0] for name, _ in large.named_buffers()}
        for owner in sorted(owners):
            real = type(large.get_submodule(owner))(large_config)
            for name, buffer in real.named_buffers(recurse=False):
                full = f"{owner}.{name}"
                self.register_buffer(parameter_slot(full), buffer, persistent=False)
                self.buffer_names[full] = parameter_slot(full)
        if per_layer:
            layers = large.get_submodule(family.layers_path)
            inside = [name for name in self.buffer_names if name.startswith(f"{family.layers_path}.")]
            if inside:  # a layer would need them passed in; no registered family's layers hold any
                raise ValueError(f"{large_config.model_type}: buffers inside the layers ({inside[0]}) are not "
                                 "supported by per-layer growth")
            for index, layer in enumerate(layers):
                layers[index] = GrownLayer(layer, index, f"{family.layers_path}.{index}.", operator)

    def train(self, mode: bool = True):
        super().train(mode)
        self.large.train(mode)  # dropout of the large model follows
        return self

    def forward(self, **batch):
        # Grown in float32 outside autocast, as a plain model's parameters are: autocast casts
        # them per operation. Grown inside it, LayerNorm weights came out bfloat16 and CPU
        # autocast's float32 layer_norm refused them (--bf16 operator runs failed on CPU).
        with torch.autocast(device_type=self.device_type(), enabled=False):
            # grown once per forward, used by every layer (per layer: each GrownLayer grows its own)
            parameters = self.operator.grow_outside_layers() if self.per_layer else self.operator()
        buffers = {name: getattr(self, slot) for name, slot in self.buffer_names.items()}
        return functional_call(self.large, {**parameters, **buffers}, args=(), kwargs=batch)

    def device_type(self) -> str:
        return next(self.operator.parameters()).device.type


class GrownLayer(nn.Module):
    """One layer of the large model (on the meta device) run with the weights the operator grows
    for it, grown in the forward and again in the backward (checkpointed with the layer)."""

    def __init__(self, layer: nn.Module, index: int, prefix: str, operator: nn.Module):
        super().__init__()
        self.layer, self.index, self.prefix = layer, index, prefix  # prefix: the layer's in the model
        object.__setattr__(self, "operator", operator)  # GrownModel's: not registered twice

    def forward(self, *args, **kwargs):
        return checkpoint(self._run, *args, use_reentrant=False, **kwargs)

    def _run(self, *args, **kwargs):
        device = next(self.operator.parameters()).device.type
        with torch.autocast(device_type=device, enabled=False):
            grown = self.operator.grow_layer(self.index)
        parameters = {name.removeprefix(self.prefix): tensor for name, tensor in grown.items()}
        return functional_call(self.layer, parameters, args=args, kwargs=kwargs)

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:  # what a model's forward reads of its layers (Llama: attention_type)
            return getattr(super().__getattr__("layer"), name)


class LayerByLayer:
    """A grown model's parameters by name, each layer's computed when one of its tensors is first
    taken (``pop``) and let go as the next layer's are: what a sharded run fills its shards from
    (ligo/training/sharding.py, in parameter order), so that no rank holds the whole large model,
    only one layer of it and its own shards. ``grow_layer(index)`` and ``grow_outside()`` give
    Hugging Face names, as the operator's ``grow_layer`` and ``grow_outside_layers``."""

    def __init__(self, grow_layer, grow_outside, layers_path: str):
        self._grow_layer, self._grow_outside, self._prefix = grow_layer, grow_outside, f"{layers_path}."
        self._index, self._layer, self._outside = None, {}, None

    def pop(self, name: str) -> torch.Tensor:
        with torch.no_grad():
            if name.startswith(self._prefix):
                index = int(name[len(self._prefix):].split(".", 1)[0])
                if index != self._index:
                    self._index, self._layer = None, {}  # let go first: one layer alive at a time
                    self._index, self._layer = index, self._grow_layer(index)
                return self._layer.pop(name)
            if self._outside is None:
                self._outside = self._grow_outside()
            return self._outside.pop(name)


def materialize(parameters: dict[str, torch.Tensor], large_config: PretrainedConfig, seed: int) -> PreTrainedModel:
    """A real large model holding ``parameters`` (every one of its weights must be given)."""
    model = new_model(large_config.model_type, large_config, seed)
    with torch.no_grad():
        result = model.load_state_dict({k: v.detach() for k, v in parameters.items()}, strict=False)
    tied = set(model._tied_weights_keys or {}) if isinstance(model._tied_weights_keys, dict) else set()
    missing = set(result.missing_keys) - tied
    if missing or result.unexpected_keys:
        raise RuntimeError(f"growth produced a wrong parameter set: missing {sorted(missing)[:3]}, "
                           f"unexpected {sorted(result.unexpected_keys)[:3]}")
    model.tie_weights()
    return model


def operator_step_flops(operator: nn.Module) -> int:
    """FLOPs of growing the parameters once, forward and backward, as torch counts them."""
    if not any(p.requires_grad for p in operator.parameters()):
        return 0
    with FlopCounterMode(display=False) as counter:
        grown = operator()
        sum(t.sum() for t in grown.values()).backward()
    operator.zero_grad(set_to_none=True)
    return counter.get_total_flops()
