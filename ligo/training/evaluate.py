"""Language-model loss and perplexity on the evaluation blocks, sharded over every rank.

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
from ligo.training.distributed import Context, all_reduce_sum


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf  # exp overflows a float past ~709


@torch.no_grad()
def evaluate(model, dataset, collate, ctx: Context, batch_size: int, autocast, shift: bool = False
             ) -> dict[str, float]:
    was_training = model.training
    model.eval()
    keys = list(range(ctx.rank, len(dataset), ctx.world_size))
    # Its own generator: evaluating must not draw from the global RNG (dropout, resume).
    loader = DataLoader(dataset, batch_size=batch_size, sampler=keys, collate_fn=collate, generator=torch.Generator())
    loss_sum = torch.zeros((), dtype=torch.float64, device=ctx.device)
    count = torch.zeros((), dtype=torch.float64, device=ctx.device)
    for batch in loader:
        batch = {name: t.to(ctx.device, non_blocking=True) for name, t in batch.items()}
        with autocast():
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
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
