"""Mixed precision from --fp16 / --bf16: the torch.autocast context a run's forward passes use."""

import functools

import torch

from ligo.base.errors import UserError


def autocast_for(args, device: torch.device, sharded: bool = False):
    """``sharded``: FSDP's mixed-precision policy casts the parameters instead (ligo/training/sharding.py)."""
    if args.fp16 and device.type != "cuda":
        raise UserError("--fp16 needs a CUDA GPU; on CPU use --bf16")
    dtype = torch.float16 if args.fp16 else torch.bfloat16
    enabled = (args.fp16 or args.bf16) and not sharded
    return functools.partial(torch.autocast, device_type=device.type, dtype=dtype, enabled=enabled)
