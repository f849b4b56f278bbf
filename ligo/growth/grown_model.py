"""The large model as a function of a growth operator, and its materialisation.

``GrownModel`` runs the unmodified Hugging Face large model with the operator's output as
its parameters (``torch.func.functional_call``); the large model itself stays on the meta
device, so no second copy of its weights exists and the loss trains the operator.
``materialize`` writes the operator's output into a real model: growing is then simply
``load_state_dict(operator())``.
"""

import torch
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode
from transformers import PretrainedConfig, PreTrainedModel

from ligo.growth.operator import parameter_slot
from ligo.models.families import family_of
from ligo.models.loading import new_model


class GrownModel(nn.Module):
    def __init__(self, operator: nn.Module, large_config: PretrainedConfig):
        super().__init__()
        self.operator = operator
        self.config = large_config
        model_class = family_of(large_config.model_type).pretraining_class
        with torch.device("meta"):
            large = model_class(large_config)
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

    def train(self, mode: bool = True):
        super().train(mode)
        self.large.train(mode)  # dropout of the large model follows
        return self

    def forward(self, **batch):
        # Grown in float32 outside autocast, as a plain model's parameters are: autocast casts
        # them per operation. Grown inside it, LayerNorm weights came out bfloat16 and CPU
        # autocast's float32 layer_norm refused them (--bf16 operator runs failed on CPU).
        device = next(self.operator.parameters()).device.type
        with torch.autocast(device_type=device, enabled=False):
            parameters = self.operator()  # grown once per forward, used by every layer
        buffers = {name: getattr(self, slot) for name, slot in self.buffer_names.items()}
        return functional_call(self.large, {**parameters, **buffers}, args=(), kwargs=batch)


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
