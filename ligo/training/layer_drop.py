"""Progressive layer dropping (Zhang and He, NeurIPS 2020), and running a subset of a model's
layers (what layer dropping and MSLT's stages need).

During training each layer is skipped (its input passed on unchanged) with a probability that
grows over time towards ``--layer_drop_rate``: the keep probability of step ``t`` is
``theta(t) = (1 - theta_bar) * exp(-gamma * t) + theta_bar`` with ``theta_bar = 1 -
--layer_drop_rate``, as that paper's schedule (DeepSpeed's default ``gamma`` is 0.001). With
``--layer_drop_lin_decay`` (the authors' flag: "the rate specified is the rate for the last
layer") layer ``l`` of ``L`` keeps with ``1 - (l + 1) / L * (1 - theta(t))``: lower layers are
kept more often, as in PLD; without it every layer keeps with ``theta(t)``. Evaluation runs
every layer.

Which layers run in a step is drawn from ``(seed, step)`` alone: the same on every rank (DDP
sees the same unused parameters everywhere) and the same after a resume, with no state to save.
"""

import contextlib
import math
from dataclasses import dataclass

import torch
from torch import nn

from ligo.base.errors import UserError


@contextlib.contextmanager
def running_layers(model: nn.Module, layers_path: str, keep: list[bool]):
    """Within the block, ``model``'s layer list (at ``layers_path``, e.g. ``bert.encoder.layer``)
    holds only the layers whose ``keep`` is true: the others are skipped, their input passed on.
    The parameters stay where they are; only the list the encoder loops over changes."""
    parent_path, name = layers_path.rsplit(".", 1)
    parent = model.get_submodule(parent_path)
    full = getattr(parent, name)
    if len(keep) != len(full):
        raise ValueError(f"keep has {len(keep)} entries for {len(full)} layers")
    if all(keep):
        yield
        return
    parent._modules[name] = nn.ModuleList([layer for layer, kept in zip(full, keep) if kept])
    try:
        yield
    finally:
        parent._modules[name] = full


class RunningLayers(nn.Module):
    """``model`` run with only some of its layers (``keep``), e.g. for evaluation."""

    def __init__(self, model: nn.Module, layers_path: str, keep: list[bool]):
        super().__init__()
        self.model, self.layers_path, self.keep = model, layers_path, keep

    def forward(self, **batch):
        with running_layers(self.model, self.layers_path, self.keep):
            return self.model(**batch)


@dataclass(frozen=True)
class LayerDrop:
    rate: float  # the drop probability reached (of the last layer, with lin_decay)
    lin_decay: bool
    gamma: float
    seed: int

    @classmethod
    def from_args(cls, args) -> "LayerDrop | None":
        if not args.layer_drop:
            for flag in ("layer_drop_rate", "layer_drop_lin_decay"):
                if getattr(args, flag):
                    raise UserError(f"--{flag} needs --layer_drop; add it, or remove --{flag}")
            return None
        if not 0.0 < args.layer_drop_rate < 1.0:
            raise UserError(f"--layer_drop_rate must be in (0, 1) with --layer_drop (PLD's 1 - theta_bar; the "
                            f"paper: 0.5), got {args.layer_drop_rate}")
        if not 0 < args.layer_drop_gamma < math.inf:
            raise UserError(f"--layer_drop_gamma must be positive and finite, got {args.layer_drop_gamma}")
        return cls(args.layer_drop_rate, args.layer_drop_lin_decay, args.layer_drop_gamma, args.seed)

    def keep_probabilities(self, step: int, num_layers: int) -> list[float]:
        floor = 1.0 - self.rate
        theta = (1.0 - floor) * math.exp(-self.gamma * step) + floor
        if not self.lin_decay:
            return [theta] * num_layers
        return [1.0 - (layer + 1) / num_layers * (1.0 - theta) for layer in range(num_layers)]

    def plan(self, step: int, num_layers: int) -> list[bool]:
        """Which layers run in ``step``."""
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        draws = torch.rand(num_layers, generator=generator, dtype=torch.float64).tolist()
        return [draw < p for draw, p in zip(draws, self.keep_probabilities(step, num_layers))]
