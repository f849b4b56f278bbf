"""The training stream: shuffled blocks, sharded over ranks, epoch after epoch, resumable.

Each item is fetched by key ``epoch * len(dataset) + index`` so that its MLM mask differs
from epoch to epoch but not from run to run (see ligo/data/dataset.py and ligo/data/masking.py)."""

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from ligo.base.errors import UserError
from ligo.base.startup_signals import held
from ligo.training.distributed import Context


class EpochKeys(Sampler[int]):
    """This rank's keys for one epoch, as DistributedSampler orders them (a permutation
    seeded by seed + epoch), skipping the first ``skip`` (already consumed)."""

    def __init__(self, dataset, ctx: Context, shuffle: bool, seed: int, epoch: int, skip: int = 0):
        self.shard = DistributedSampler(dataset, num_replicas=ctx.world_size, rank=ctx.rank, shuffle=shuffle,
                                        seed=seed, drop_last=True)
        self.shard.set_epoch(epoch)
        self.offset = epoch * len(dataset)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        indices = list(self.shard)[self.skip :]
        return iter([self.offset + index for index in indices])

    def __len__(self) -> int:
        return len(self.shard) - self.skip


def check_enough_data(dataset, ctx: Context, batch_size: int, what: str):
    per_rank = len(dataset) // ctx.world_size
    if per_rank < batch_size:
        raise UserError(
            f"{what} has {len(dataset)} blocks: {per_rank} per process for {ctx.world_size} process(es), fewer "
            f"than one batch of {batch_size}; use more text, a smaller batch or a smaller --block_size"
        )


def pin_memory_for(choice: str, device: torch.device) -> bool:
    """--pin_memory: page-locked batches pay only for copies to a CUDA GPU, so auto pins exactly
    then ("on" without CUDA is refused by ligo.tasks.arguments)."""
    return device.type == "cuda" if choice == "auto" else choice == "on"


def training_batches(dataset, collate, ctx: Context, batch_size: int, shuffle: bool, seed: int, num_workers: int,
                     start_epoch: int = 0, start_batch: int = 0, pin_memory: bool | None = None,
                     prefetch_factor: int | None = None, worker_init_fn=None, worker_signals=()):
    """Yield ``(epoch, batches consumed in that epoch, batch)`` forever, from a position.

    ``pin_memory`` None: on CUDA only; ``prefetch_factor`` None: torch's default (with workers);
    ``worker_signals``: blocked while the workers start, so that each starts with them blocked
    until its ``worker_init_fn`` deals with them (a signal to every process, as SLURM sends, must
    not kill a worker before that: torch's worker handler dies of a SIGTERM)."""
    check_enough_data(dataset, ctx, batch_size, "the training data")
    if pin_memory is None:
        pin_memory = pin_memory_for("auto", ctx.device)
    epoch, skip_batches = start_epoch, start_batch
    while True:
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=EpochKeys(dataset, ctx, shuffle, seed, epoch, skip=skip_batches * batch_size),
            collate_fn=collate,
            drop_last=True,
            num_workers=num_workers,
            pin_memory=pin_memory,
            prefetch_factor=prefetch_factor,  # neither changes the data order, only when batches are ready
            worker_init_fn=worker_init_fn if num_workers > 0 else None,
            # Its own generator: creating a loader must not draw from the global RNG, which
            # drives dropout and is restored exactly on resume.
            generator=torch.Generator(),
        )
        with held(worker_signals):
            batches = iter(loader)  # starts the workers
        for consumed, batch in enumerate(batches, start=skip_batches + 1):
            yield epoch, consumed, batch
        epoch, skip_batches = epoch + 1, 0
