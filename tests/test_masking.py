"""Seeded MLM masking (ligo/data/masking.py) on real blocks."""

import pytest
import torch

from ligo.data.dataset import BlockDataset
from ligo.data.masking import IGNORE_INDEX, SeededMLMCollator
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag


@pytest.fixture(scope="module")
def setup(bert_tokenized, bert_tokenizer_dir):
    tokenizer = load_tokenizer(str(bert_tokenizer_dir))
    ds = BlockDataset(bert_tokenized / "en.train.raw", tokenizer_tag(str(bert_tokenizer_dir)), tokenizer, 126)
    return tokenizer, ds


def test_masking_rates_are_15_percent_80_10_10(setup):
    tokenizer, ds = setup
    collate = SeededMLMCollator(tokenizer, seed=95)
    examples = [ds[i] for i in range(len(ds))]
    batch = collate(examples)
    original = torch.stack([e["input_ids"] for e in examples])
    maskable = ~torch.isin(original, torch.tensor(tokenizer.all_special_ids))
    selected = batch["labels"] != IGNORE_INDEX
    n = selected.sum().item()
    assert n > 50_000
    assert abs(n / maskable.sum().item() - 0.15) < 0.005
    assert torch.equal(batch["labels"][selected], original[selected])
    as_mask = (batch["input_ids"][selected] == tokenizer.mask_token_id).float().mean().item()
    unchanged = (batch["input_ids"][selected] == original[selected]).float().mean().item()
    assert abs(as_mask - 0.8) < 0.01
    assert abs(unchanged - 0.1) < 0.01  # random replacements may hit the same id: 0.1 + 0.1/vocab
    assert abs(1 - as_mask - unchanged - 0.1) < 0.01


def test_special_and_pad_tokens_are_never_masked(setup):
    tokenizer, ds = setup
    collate = SeededMLMCollator(tokenizer, seed=1, mlm_probability=0.9)
    short = {"input_ids": ds[0]["input_ids"][:20], "mask_key": 0}
    batch = collate([short] + [ds[i] for i in range(1, 64)])
    original_short = short["input_ids"]
    assert batch["input_ids"].shape == (64, 128)
    assert batch["attention_mask"][0].sum() == 20
    assert (batch["input_ids"][0, 20:] == tokenizer.pad_token_id).all()
    assert (batch["labels"][0, 20:] == IGNORE_INDEX).all()
    assert (batch["labels"][:, 0] == IGNORE_INDEX).all() and (batch["input_ids"][:, 0] == tokenizer.cls_token_id).all()
    assert batch["labels"][0, 19] == IGNORE_INDEX and batch["input_ids"][0, 19] == original_short[-1]
    assert (batch["labels"][1:, -1] == IGNORE_INDEX).all()


def test_an_examples_mask_depends_only_on_seed_and_key(setup):
    tokenizer, ds = setup
    collate = SeededMLMCollator(tokenizer, seed=95)
    a = collate([ds[i] for i in range(8)])
    b = collate([ds[i] for i in reversed(range(4, 12))])  # other batch, other order
    for i in range(4, 8):
        j = 11 - i
        assert torch.equal(a["input_ids"][i], b["input_ids"][j]) and torch.equal(a["labels"][i], b["labels"][j])
    # same block under another key (another epoch) and another seed: other masks
    other_epoch = collate([ds[len(ds) + i] for i in range(8)])
    other_seed = SeededMLMCollator(tokenizer, seed=96)([ds[i] for i in range(8)])
    assert not torch.equal(a["labels"], other_epoch["labels"])
    assert not torch.equal(a["labels"], other_seed["labels"])


def test_without_mlm_labels_are_the_inputs(setup):
    tokenizer, ds = setup
    batch = SeededMLMCollator(tokenizer, mlm=False)([ds[0], {"input_ids": ds[1]["input_ids"][:10], "mask_key": 1}])
    assert torch.equal(batch["labels"][0], batch["input_ids"][0])
    assert (batch["labels"][1, 10:] == IGNORE_INDEX).all()
