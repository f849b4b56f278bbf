"""Evaluation, sharded over every rank: a language model's loss and perplexity on the evaluation
blocks, a classifier's loss and top-1 / top-5 accuracy on the evaluation images.

Each rank takes every world_size-th block (no block twice), sums the token losses and the
scored-token count, and the sums are reduced: the result is the mean loss over all scored
tokens, the same for any number of ranks. A masked LM scores its masked tokens (masks are
seeded by block index, so the same model always gets the same number); a causal LM scores
every token after the first of a block, each predicted from the ones before (``shift``)."""

import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ligo.data.masking import IGNORE_INDEX
from ligo.data.run_data import RunData
from ligo.training.distributed import Context, all_reduce_max, all_reduce_sum


def evaluate(model, data: RunData, ctx: Context, batch_size: int, autocast, lockstep: bool = False
             ) -> dict[str, float]:
    """The run's evaluation metrics on ``data.eval``: a classifier's on images, a language model's on
    tokens. ``lockstep``: every rank runs as many forward passes (a sharded model's are collectives)."""
    if data.unit == "images":
        return evaluate_classifier(model, data.eval, data.eval_collate, ctx, batch_size, autocast, lockstep)
    return evaluate_language_model(model, data.eval, data.eval_collate, ctx, batch_size, autocast, shift=data.causal,
                                   lockstep=lockstep)


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past ~709


@torch.no_grad()
def evaluate_language_model(model, dataset, collate, ctx: Context, batch_size: int, autocast, shift: bool = False,
                            lockstep: bool = False) -> dict[str, float]:
    was_training = model.training
    model.eval()
    loss_sum = torch.zeros((), dtype=torch.float64, device=ctx.device)
    count = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for batch, counted in _batches(dataset, collate, ctx, batch_size, lockstep):
        batch = {name: t.to(ctx.device, non_blocking=True) for name, t in batch.items()}
        with autocast():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        if not counted:
            continue
        labels = batch["labels"]
        if shift:  # position t predicts token t + 1
            logits, labels = logits[:, :-1], labels[:, 1:]
        loss_sum += F.cross_entropy(logits.float().flatten(0, 1), labels.flatten(), ignore_index=IGNORE_INDEX,
                                    reduction="sum").double()
        count += (labels != IGNORE_INDEX).sum()
    model.train(was_training)
    total_loss, total_count = all_reduce_sum([loss_sum.item(), count.item()], ctx.device)
    loss = total_loss / max(total_count, 1.0)
    return {"eval_loss": loss, "eval_ppl": perplexity(loss), "eval_tokens": int(total_count)}


def _shard_loader(dataset, collate, ctx: Context, batch_size: int) -> DataLoader:
    keys = list(range(ctx.rank, len(dataset), ctx.world_size))  # every item once over all ranks
    # Its own generator: evaluating must not draw from the global RNG (dropout, resume).
    return DataLoader(dataset, batch_size=batch_size, sampler=keys, collate_fn=collate, generator=torch.Generator())


def _batches(dataset, collate, ctx: Context, batch_size: int, lockstep: bool):
    """``(batch, counted)``: this rank's batches; with ``lockstep``, then as many uncounted
    repeats as the rank with the most batches has more (a rank may have one fewer)."""
    loader = _shard_loader(dataset, collate, ctx, batch_size)
    last = None
    for batch in loader:
        last = batch
        yield batch, True
    repeats = int(all_reduce_max(len(loader), ctx.device)) - len(loader) if lockstep else 0
    for _ in range(repeats):
        yield (last if last is not None else collate([dataset[0]])), False


@torch.no_grad()
def evaluate_classifier(model, dataset, collate, ctx: Context, batch_size: int, autocast, lockstep: bool = False
                        ) -> dict[str, float]:
    """Mean cross-entropy and top-1 / top-5 accuracy (percent) over every evaluation image."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=ctx.device)  # loss, top-1 hits, top-5 hits, images
    for batch, counted in _batches(dataset, collate, ctx, batch_size, lockstep):
        batch = {name: t.to(ctx.device, non_blocking=True) for name, t in batch.items()}
        with autocast():
            logits = model(pixel_values=batch["pixel_values"]).logits
        if not counted:
            continue
        labels = batch["labels"]
        top = logits.float().topk(min(5, logits.shape[-1]), dim=-1).indices
        hits = top == labels[:, None]
        sums += torch.stack([F.cross_entropy(logits.float(), labels, reduction="sum").double(),
                             hits[:, :1].any(-1).sum().double(), hits.any(-1).sum().double(),
                             torch.tensor(float(len(labels)), dtype=torch.float64, device=ctx.device)])
    model.train(was_training)
    loss, top1, top5, images = all_reduce_sum(sums.tolist(), ctx.device)
    images = max(images, 1.0)
    return {"eval_loss": loss / images, "eval_top1": 100.0 * top1 / images, "eval_top5": 100.0 * top5 / images,
            "eval_images": int(images)}
