"""How the processes of a run share the model (``--data_parallel``): ``ddp`` replicates it on
every rank (DistributedDataParallel, the default), ``fsdp`` shards its parameters, gradients and
optimizer state over the ranks (PyTorch's FSDP2, ``fully_shard``): each block of the family's
layer list is one unit, gathered for its forward and backward and freed after, then the root
holds what is left (embeddings, final norm, head). With ``--bf16`` FSDP computes in bfloat16 and
reduces gradients and keeps the optimizer's state in float32 (its mixed-precision policy, instead
of autocast); ``--fsdp_cpu_offload`` keeps the shards in host memory between uses."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint import HuggingFaceStorageReader
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, set_model_state_dict
from torch.distributed.device_mesh import init_device_mesh
from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, fully_shard
from torch.distributed.tensor import DTensor, distribute_tensor
from torch.nn.parallel import DistributedDataParallel

from ligo.training.distributed import Context


@dataclass
class Deferred:
    """Where a model built on the meta device (``empty_model``) takes its weights from once it is
    sharded, so that no rank holds it whole: ``folder``, a checkpoint of ours (each rank reads its
    own shards with DCP); ``tensors``, weights computed elsewhere, taken by name with ``pop`` in
    parameter order (a dict, or a grown model computed a layer at a time; each rank keeps its
    shards of each); neither: the family's own initialisation, each shard from its rank's RNG
    (``seed`` + rank)."""

    seed: int
    folder: Path | None = None
    tensors: object = None  # with pop(name) -> Tensor


def own_names(module: nn.Module) -> set[str]:
    """The state-dict names a tied tensor has once (its parameter's), as checkpoints store them."""
    return {name for name, _ in module.named_parameters()} | {name for name, _ in module.named_buffers()}


def fill(module: nn.Module, deferred: Deferred, ctx: Context):
    """Give the sharded ``module`` (on the meta device) its memory on ``ctx.device`` and its weights."""
    module.to_empty(device=ctx.device)
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(deferred.seed + ctx.rank)
        module.initialize_weights()  # Hugging Face's: every buffer, and a first value for every shard
    if deferred.folder is not None:
        state = {name: t for name, t in get_model_state_dict(module).items() if name in own_names(module)}
        dcp.load(state, storage_reader=HuggingFaceStorageReader(str(deferred.folder)))
        # The tied names absent from the file are tied back to what was loaded.
        set_model_state_dict(module, state, options=StateDictOptions(strict=False))
    elif deferred.tensors is not None:
        with torch.no_grad():  # each whole tensor let go as soon as this rank has its shards
            for name, parameter in module.named_parameters():
                whole = deferred.tensors.pop(name).detach().to(parameter.dtype)
                mine = distribute_tensor(whole, parameter.device_mesh, parameter.placements, src_data_rank=None)
                parameter.to_local().copy_(mine.to_local())
        # Let go of what the weights came from (the small model, the operator, the growth), which
        # the task still refers to: the run holds its shards only.
        deferred.tensors = None


def is_sharded(args) -> bool:
    return getattr(args, "data_parallel", "ddp") == "fsdp"


def shard(module: nn.Module, units: list[nn.Module], args, ctx: Context):
    """Shard ``module`` in place (its parameters become DTensors): every one of ``units`` (its
    blocks), then the root."""
    mesh = init_device_mesh(ctx.device.type, (ctx.world_size,))
    options = {"mesh": mesh}
    if args.bf16:
        options["mp_policy"] = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    if args.fsdp_cpu_offload:
        options["offload_policy"] = CPUOffloadPolicy(pin_memory=ctx.device.type == "cuda")
    for unit in units:
        fully_shard(unit, **options)
    fully_shard(module, **options)


class DataParallel:
    """The model a training step calls, and how it skips the gradient reduction of the
    micro-batches that accumulate (all but a step's last)."""

    def __init__(self, module: nn.Module, units: list[nn.Module], args, ctx: Context, find_unused_parameters: bool,
                 deferred: Deferred | None = None):
        self.module, self.sharded, self.ddp = module, is_sharded(args), None
        if self.sharded:
            shard(module, units, args, ctx)
            if deferred is not None:
                fill(module, deferred, ctx)
        elif ctx.world_size > 1:
            device_ids = [ctx.local_rank] if ctx.device.type == "cuda" else None
            # Unused parameters (layer dropping, MSLT's frozen layers) must be found each step;
            # the search costs a graph traversal, so only tasks that need it pay for it.
            self.ddp = DistributedDataParallel(module, device_ids=device_ids,
                                               find_unused_parameters=find_unused_parameters)
        self.model = self.ddp if self.ddp is not None else module

    @contextlib.contextmanager
    def accumulating(self, sync: bool) -> Iterator[None]:
        """Around a micro-batch's forward and backward; ``sync`` False: no gradient reduction yet."""
        if sync:
            yield
        elif self.ddp is not None:
            with self.ddp.no_sync():
                yield
        elif self.sharded:
            self.module.set_requires_gradient_sync(False)
            try:
                yield
            finally:
                self.module.set_requires_gradient_sync(True)
        else:
            yield


def local(tensor: torch.Tensor) -> torch.Tensor:
    """A plain tensor of a reduction's result: a DTensor's full value (a gradient norm over shards)."""
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor
