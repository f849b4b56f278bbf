"""Processes and devices: one process per GPU (NCCL), or one CPU process (gloo), started
by us or by torchrun (several processes, several nodes)."""

import datetime
import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ligo.errors import UserError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Context:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def launch(worker, args):
    """Run ``worker(args)`` in every process: as started by torchrun, else one process per
    local GPU, else one CPU process."""
    if "WORLD_SIZE" in os.environ:
        missing = [name for name in TORCHRUN_VARIABLES if name not in os.environ]
        if missing:
            raise UserError(f"WORLD_SIZE is set but {', '.join(missing)} is not: launch with torchrun")
        worker(args)
        return
    gpus = torch.cuda.device_count()
    port = _free_port()
    if gpus > 1:
        mp.spawn(_spawned_worker, nprocs=gpus, args=(gpus, port, worker, args), join=True)
    else:
        _set_single_node_env(rank=0, world_size=1, port=port)
        worker(args)


def _spawned_worker(rank, world_size, port, worker, args):
    _set_single_node_env(rank, world_size, port)
    worker(args)


def _set_single_node_env(rank: int, world_size: int, port: int):
    # The env:// rendezvous that torchrun would have set up, for one node.
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init(timeout_seconds: int, local_rank_flag: int = -1) -> Context:
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ["LOCAL_RANK"])
    if local_rank_flag not in (-1, local_rank):
        raise UserError(f"--local_rank {local_rank_flag} disagrees with LOCAL_RANK={local_rank}; drop --local_rank")
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_seconds))
    return Context(rank=rank, local_rank=local_rank, world_size=world_size, device=device)


def shutdown():
    if dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum of each value over all ranks (float64, so counts stay exact)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather_to_main(obj, ctx: Context) -> list | None:
    """Every rank's ``obj`` on rank 0 (None elsewhere)."""
    gathered = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered
