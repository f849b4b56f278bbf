"""Processes and devices: one process per GPU (NCCL), or one CPU process (gloo), started
by us or by torchrun (several processes, several nodes).

When a rank fails, the others must not wait for it: torchrun, and ``launch`` for the processes
it starts, stop every rank when one fails and name it; a collective waits ``--ddp_timeout``
seconds at most; and work only rank 0 does (``on_main``) tells the others whether it failed.
"""

import datetime
import gc
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ligo.base import startup_signals
from ligo.base.errors import UserError
from ligo.base.parent_death import die_with_parent
from ligo.training.preemption import EXIT_PREEMPTED, parse_signals

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class Context:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device
    # For the small CPU-side agreements made every step (a stop asked for): gloo, so that they
    # need no host sync with the GPU; None: the default group (gloo already, or one process).
    cpu_group: object = None

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
        die_with_parent()  # the parent is torchrun's agent
        worker(args)
        return
    gpus = torch.cuda.device_count()
    if gpus > 1:
        spawn(worker, args, gpus)
    else:
        _set_single_node_env(rank=0, world_size=1, port=_free_port())
        worker(args)


def spawn(worker, args, processes: int):
    """``worker(args)`` in ``processes`` local processes; if one fails, the others are stopped
    and this process exits non-zero with a line naming the rank that failed. The preemption
    signals (``args.preempt_signals``) sent to this process are passed on to the workers, which
    stop with a checkpoint (ligo/training/preemption.py); this process then exits as they do."""
    context = mp.start_processes(_spawned_worker, args=(processes, _free_port(), worker, args), nprocs=processes,
                                 join=False, start_method="spawn")

    def forward(number, frame):
        for process in context.processes:
            if process.is_alive():
                os.kill(process.pid, number)

    signals = parse_signals(getattr(args, "preempt_signals", ["none"]))
    previous = {number: signal.signal(number, forward) for number in signals}
    startup_signals.release()  # held since the script's first line: forwarded now (the workers hold them too)
    try:
        while not context.join():
            pass
    except mp.ProcessRaisedException as err:
        print(err, file=sys.stderr)  # the rank's traceback
        _exit_naming(err.error_index, processes, "raised the exception above", 1)
    except mp.ProcessExitedException as err:
        if err.exit_code == EXIT_PREEMPTED:
            sys.exit(EXIT_PREEMPTED)  # rank 0 has said why
        if err.signal_name:
            _exit_naming(err.error_index, processes, f"was killed by {err.signal_name}", 1)
        _exit_naming(err.error_index, processes, f"exited with code {err.exit_code}", err.exit_code)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _exit_naming(rank: int, processes: int, what: str, code: int):
    print(f"error: rank {rank} of {processes} {what}; the other ranks were stopped", file=sys.stderr)
    sys.exit(code)


def _spawned_worker(rank, world_size, port, worker, args):
    die_with_parent()
    _set_single_node_env(rank, world_size, port)
    try:
        worker(args)
    except Exception as err:
        if lost_a_peer(err):
            # This rank failed only because another one went away. The launcher names the first
            # rank whose exit it sees; on a busy machine it may see both at once and take the lower
            # rank. Waiting lets the rank that really failed be the one named.
            time.sleep(PEER_LOSS_GRACE_SECONDS)
        raise


PEER_LOSS_GRACE_SECONDS = 3.0


def lost_a_peer(err: Exception) -> bool:
    """Whether a collective failed because another rank's process went away (gloo's words)."""
    return isinstance(err, dist.DistNetworkError) or any(
        words in str(err) for words in ("Connection closed by peer", "Connection reset by peer"))


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
    timeout = datetime.timedelta(seconds=timeout_seconds)
    dist.init_process_group(backend, timeout=timeout)
    cpu_group = dist.new_group(backend="gloo", timeout=timeout) if backend != "gloo" and world_size > 1 else None
    return Context(rank=rank, local_rank=local_rank, world_size=world_size, device=device, cpu_group=cpu_group)


def shutdown():
    """Destroy the process group, once nothing else holds it (the DDP model does). Gloo's worker
    threads release the tensors of finished collectives after those return, and need the GIL
    for it; the group's destructor joins them. destroy_process_group lets go of the GIL for
    that, but a DDP model freed last would run the destructor holding it: a deadlock."""
    if dist.is_initialized():
        gc.collect()  # the DDP model, if only reference cycles still hold it
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Sum of each value over all ranks (float64, so counts stay exact)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def all_reduce_min(value: float, device: torch.device) -> float:
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return tensor.item()


def all_reduce_max(value: float, device: torch.device) -> float:
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return tensor.item()


def any_rank(flag: bool, ctx: Context) -> bool:
    """Whether ``flag`` holds on any rank (a CPU collective: no host sync with a GPU)."""
    if ctx.world_size == 1:
        return flag
    tensor = torch.tensor([float(flag)], dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX, group=ctx.cpu_group)
    return bool(tensor.item())


def on_main(ctx: Context, what: str, work: Callable):
    """``work()`` on rank 0 only (its result there, None elsewhere); then every rank learns
    whether it failed. Rank 0 raises its error; the others stop with a line naming rank 0,
    rather than wait for it in their next collective until the timeout."""
    result, error = None, None
    if ctx.is_main:
        try:
            result = work()
        except Exception as err:  # raised again below, once the others know
            error = err
    (failures,) = all_reduce_sum([float(error is not None)], ctx.device)
    if error is not None:
        raise error
    if failures:
        raise UserError(f"rank 0 failed while {what} (its error is above); rank {ctx.rank} stops too")
    return result


def gather_to_main(obj, ctx: Context) -> list | None:
    """Every rank's ``obj`` on rank 0 (None elsewhere)."""
    gathered = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(obj, gathered, dst=0)
    return gathered
