"""What the training loop needs of a run's data, whatever it is made of: the datasets, their
collators, how a batch is counted (FLOPs and tokens or images) and how it is scored (the loop's
evaluation, ligo/training/evaluate.py, reads ``unit`` and ``causal``)."""

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass
class RunData:
    train: torch.utils.data.Dataset | None  # None: evaluation only
    eval: torch.utils.data.Dataset | None  # None: no evaluation
    collate: Callable[[list], dict]
    eval_collate: Callable[[list], dict]
    processor: object  # saved beside every checkpoint: a language model's tokenizer, an image model's processor
    unit: str  # what ``units`` counts, the key of the count in metrics.jsonl: "tokens" or "images"
    shape: Callable[[dict], tuple[int, int]]  # (sequences, tokens each) of a batch: the FLOPs count's
    units: Callable[[dict], int]
    causal: bool = False  # a causal LM's tokens are scored on the ones before (tokens only)
