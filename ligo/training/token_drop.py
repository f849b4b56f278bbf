"""Token dropping (Hou et al., ACL 2022): the middle layers process only the important tokens.

Layers ``--token_drop_start`` up to (not including) ``--token_drop_end`` (negative: counted
from the last layer, -1 = every layer but the last) run on the ``K = ceil(S * (1 -
--token_drop_rate))`` most important positions of each sequence; the dropped positions skip
them, keeping the hidden state they had on entering layer ``start``, and rejoin for the layers
from ``end`` on, so that the model still outputs every position. Evaluation runs every token.

Importance is that paper's: the running masked-LM loss of each token id, a moving average
(``DECAY``) of the loss of the masked positions whose label is that id, updated every step;
ids never yet masked start at ``INITIAL`` (above any trained loss, so they are kept until
their loss is known). Positions that carry the loss (the masked ones) and special tokens
([CLS], [SEP]) are always kept, padding is dropped first; where a sequence has more positions
that must be kept than ``K``, the batch keeps that many.

The importance table is the same on every rank (each step's sums are all-reduced) and is saved
in every checkpoint (``token_importance.pt``), so a resumed run selects the same tokens.
"""

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from ligo.base.errors import UserError
from ligo.data.masking import IGNORE_INDEX

DECAY = 0.9
INITIAL = 100.0


def resolve_range(start: int, end: int, num_layers: int) -> tuple[int, int]:
    """The layers ``[start, end)`` that drop tokens, ``end`` negative counted from the top."""
    resolved = end + num_layers if end < 0 else end
    if not 0 <= start < resolved <= num_layers:
        raise UserError(f"--token_drop_start {start} --token_drop_end {end}: the layers that drop tokens must be a "
                        f"non-empty range within the model's {num_layers} layers (start >= 0, end after start; "
                        "-1: all but the last layer)")
    return start, resolved


def gather_tokens(hidden: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    return hidden.gather(1, index[:, :, None].expand(-1, -1, hidden.shape[-1]))


def gather_mask(mask: torch.Tensor | None, index: torch.Tensor) -> torch.Tensor | None:
    """The attention mask ([batch, heads or 1, queries or 1, keys]) of the kept positions."""
    if mask is None:
        return None
    batch, kept = index.shape
    mask = mask.expand(batch, *mask.shape[1:])
    mask = mask.gather(3, index[:, None, None, :].expand(batch, mask.shape[1], mask.shape[2], kept))
    if mask.shape[2] != 1:
        mask = mask.gather(2, index[:, None, :, None].expand(batch, mask.shape[1], kept, kept))
    return mask


class TokenDrop:
    def __init__(self, rate: float, start: int, end: int, num_layers: int, vocab_size: int,
                 special_ids: list[int], device: torch.device):
        self.rate = rate
        self.start, self.end = resolve_range(start, end, num_layers)
        self.num_layers = num_layers
        self.special_ids = torch.tensor(sorted(special_ids), dtype=torch.long, device=device)
        self.importance = torch.full((vocab_size,), INITIAL, dtype=torch.float32, device=device)
        self.kept = None  # positions kept in the last forward ([batch, K])

    @staticmethod
    def check_args(args):
        if not args.token_drop:
            if args.token_drop_rate:
                raise UserError("--token_drop_rate needs --token_drop; add it, or remove --token_drop_rate")
            return
        if not 0.0 < args.token_drop_rate < 1.0:
            raise UserError(f"--token_drop_rate must be in (0, 1) with --token_drop (the share of tokens the middle "
                            f"layers drop; Hou et al.: 0.5), got {args.token_drop_rate}")
        if args.token_drop_start < 0:
            raise UserError(f"--token_drop_start must not be negative (a layer index from 0), got "
                            f"{args.token_drop_start}")

    @classmethod
    def from_args(cls, args, config, tokenizer, device: torch.device | None = None) -> "TokenDrop | None":
        cls.check_args(args)
        if not args.token_drop:
            return None
        if tokenizer is None:
            raise ValueError("token dropping needs the tokenizer (its special tokens are always kept)")
        return cls(args.token_drop_rate, args.token_drop_start, args.token_drop_end, config.num_hidden_layers,
                   config.vocab_size, tokenizer.all_special_ids, device or torch.device("cpu"))

    # -- which positions ---------------------------------------------------------------------

    def select(self, input_ids: torch.Tensor, labels: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The kept positions of each sequence, in order ([batch, K])."""
        must = (labels != IGNORE_INDEX) | torch.isin(input_ids, self.special_ids)
        must &= attention_mask.bool()
        score = self.importance[input_ids].clone()
        score[must] = math.inf
        score[~attention_mask.bool()] = -math.inf
        keep = max(math.ceil(input_ids.shape[1] * (1.0 - self.rate)), int(must.sum(1).max()))
        index = score.topk(keep, dim=1, sorted=False).indices
        return index.sort(dim=1).values

    def kept_length(self, seq_len: int) -> int:
        """K of the last forward (the FLOPs of the shortened layers need it)."""
        return self.kept.shape[1] if self.kept is not None else seq_len

    @contextlib.contextmanager
    def dropping(self, layers: nn.ModuleList, batch: dict):
        """Within the block, a forward of the model whose layer list is ``layers`` drops tokens.
        The layers are called as Hugging Face's encoders call them: hidden states first, the
        attention mask second (or as ``attention_mask=``)."""
        index = self.select(batch["input_ids"], batch["labels"], batch["attention_mask"])
        self.kept = index
        saved = {}

        def first(module, args, kwargs):  # enters layer `start`: keep the important positions
            hidden = args[0]
            saved["full"] = hidden
            return (gather_tokens(hidden, index), *args[1:]), kwargs

        def shortened_mask(module, args, kwargs):  # every shortened layer: the kept positions' mask
            if "attention_mask" in kwargs:
                kwargs = {**kwargs, "attention_mask": gather_mask(kwargs["attention_mask"], index)}
            elif len(args) > 1:
                args = (args[0], gather_mask(args[1], index), *args[2:])
            return args, kwargs

        def last(module, args, output):  # leaves layer `end - 1`: the dropped positions rejoin
            hidden = output[0] if isinstance(output, tuple) else output
            full = saved["full"].scatter(1, index[:, :, None].expand(-1, -1, hidden.shape[-1]), hidden)
            return (full, *output[1:]) if isinstance(output, tuple) else full

        handles = [layers[self.start].register_forward_pre_hook(first, with_kwargs=True)]
        handles += [layers[i].register_forward_pre_hook(shortened_mask, with_kwargs=True)
                    for i in range(self.start, self.end)]
        handles.append(layers[self.end - 1].register_forward_hook(last))
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()

    # -- importance ----------------------------------------------------------------------------

    @torch.no_grad()
    def update(self, logits: torch.Tensor, labels: torch.Tensor):
        """Moves each masked label id's importance towards its loss in this micro-batch (the sums
        of every rank)."""
        masked = labels != IGNORE_INDEX
        ids = labels[masked]
        losses = F.cross_entropy(logits[masked].float(), ids, reduction="none")
        sums = torch.zeros_like(self.importance).index_add_(0, ids, losses)
        counts = torch.zeros_like(self.importance).index_add_(0, ids, torch.ones_like(losses))
        if torch.distributed.is_initialized() and torch.distributed.get_world_size() > 1:
            both = torch.stack([sums, counts])
            torch.distributed.all_reduce(both)
            sums, counts = both[0], both[1]
        seen = counts > 0
        mean = sums[seen] / counts[seen]
        self.importance[seen] = DECAY * self.importance[seen] + (1.0 - DECAY) * mean

    def to(self, device: torch.device):
        self.special_ids = self.special_ids.to(device)
        self.importance = self.importance.to(device)

    def state_dict(self) -> dict:
        return {"importance": self.importance.cpu()}

    def load_state_dict(self, state: dict):
        if state["importance"].shape != self.importance.shape:
            raise UserError(f"token_importance.pt holds {state['importance'].shape[0]} token ids, the model "
                            f"{self.importance.shape[0]}; resume with the same tokenizer and config")
        self.importance.copy_(state["importance"])
