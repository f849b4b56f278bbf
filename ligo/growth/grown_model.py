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
from ligo.models import families
from ligo.models.families import family_of
from ligo.models.loading import new_model
from ligo.training.optim import parameter_groups


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


class OperatorTask:
    """Train a growth operator by the training loss of the large model it grows (its family's)."""

    unused_parameters = False

    def __init__(self, operator: nn.Module, large_config: PretrainedConfig):
        self.operator = operator
        self.module = GrownModel(operator, large_config)
        self.large_config = large_config
        self.family = family_of(large_config.model_type)
        self._operator_flops = operator_step_flops(operator)

    def parameter_groups(self, args) -> list[dict]:
        groups = []
        learned = [p for name, p in self.operator.named_parameters()
                   if p.requires_grad and name.split(".")[0] in ("depth", "width")]
        groups.append({"params": learned, "weight_decay": args.weight_decay})
        residual = [p for p in self.operator.residual.parameters() if p.requires_grad]
        groups.append({"params": residual, "lr": args.learning_rate_res or args.learning_rate,
                       "weight_decay": args.weight_decay if args.weight_decay_res is None else args.weight_decay_res})
        small = [(name, p) for name, p in self.operator.named_parameters() if name.startswith("small_")]
        groups += parameter_groups(small, args.weight_decay)
        return groups

    def begin_step(self, step: int):
        pass

    def loss(self, model, batch: dict):
        return self.family.run_batch(model, batch).loss

    def training_objects(self) -> dict:
        return {}

    def to(self, device):
        self.module.to(device)

    def train_flops(self, batch_size: int, seq_len: int) -> int:
        # The large model's step plus computing its weights (the operator's own cost).
        return batch_size * families.train_flops(self.large_config, seq_len) + self._operator_flops

    def eval_model(self):
        return self.module

    def save(self, folder):
        self.operator.save(folder)
        self.large_config.save_pretrained(str(folder))
