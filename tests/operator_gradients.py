"""A tiny LiGO operator and a batch of token ids for comparing its gradients across ways of
running it (tests/test_fsdp.py, tests/fsdp_operator_gradients.py). Every tensor is seeded: each
process builds the same."""

import torch
from training_helpers import tiny_config

from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.loading import load_config, new_model

VOCAB = 96


def batch_and_operator(family: str, folder):
    """(operator, large config, batch of 4 sequences); the configs are written into ``folder``."""
    small_config, large_config = (
        load_config(family, str(tiny_config(folder / f"{family}-{size}.json", family, VOCAB, layers=layers,
                                            hidden=hidden)))
        for size, layers, hidden in (("small", 2, 64), ("large", 3, 128)))
    small = new_model(family, small_config, seed=3)
    # Untied expansions, a residual and the small model tuned: every kind of operator parameter
    # gets a gradient.
    options = LiGOOptions(tie=False, tune_residual=True, tune_small_model=True)
    operator = LiGOOperator(small.state_dict(), small_config, large_config, options, seed=4)
    ids = torch.randint(3, VOCAB, (4, 24), generator=torch.Generator().manual_seed(5))
    return operator, large_config, {"input_ids": ids, "labels": ids.clone()}
