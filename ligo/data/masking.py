"""Padding and masked-LM masking of a batch, seeded per example.

The masking itself is transformers' ``DataCollatorForLanguageModeling`` (15%, of which
80% [MASK], 10% random, 10% kept; never special tokens). What we add is the seeding: each
example is masked with a generator seeded by (seed, the example's ``mask_key``), so an
example's mask does not depend on the batch, the DataLoader worker, the number of ranks
or a resume. Evaluation therefore sees the same masks every time.
"""

import numpy as np
import torch
from torch.nn.utils.rnn import pad_sequence
from transformers import DataCollatorForLanguageModeling

IGNORE_INDEX = -100


def example_seed(seed: int, key: int) -> int:
    # SeedSequence mixes the pair well: neighbouring keys get unrelated streams.
    return int(np.random.SeedSequence([seed, key]).generate_state(1, dtype=np.uint64)[0])


class SeededMLMCollator:
    def __init__(self, tokenizer, mlm_probability: float = 0.15, seed: int = 0, mlm: bool = True):
        if not 0.0 < mlm_probability < 1.0:
            raise ValueError(f"mlm_probability must be in (0, 1), got {mlm_probability}")
        self.seed = seed
        self.mlm = mlm
        # A tokenizer without a pad token (GPT-2's) pads with 0: padded positions are left out of
        # attention and of the labels, so the value never reaches the loss.
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.special_ids = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        if mlm:  # without: labels are the inputs (a causal LM shifts them itself)
            self._masker = DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=mlm_probability)

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        rows = [example["input_ids"] for example in examples]
        lengths = torch.tensor([len(row) for row in rows])
        input_ids = pad_sequence(rows, batch_first=True, padding_value=self.pad_id)
        attention_mask = torch.arange(input_ids.shape[1])[None, :] < lengths[:, None]
        if not self.mlm:
            labels = input_ids.masked_fill(~attention_mask, IGNORE_INDEX)
            return {"input_ids": input_ids, "attention_mask": attention_mask.long(), "labels": labels}
        special = torch.isin(input_ids, self.special_ids) | ~attention_mask
        labels = torch.empty_like(input_ids)
        for i, example in enumerate(examples):
            self._masker.generator = torch.Generator().manual_seed(example_seed(self.seed, example["mask_key"]))
            masked, row_labels = self._masker.torch_mask_tokens(input_ids[i : i + 1].clone(), special[i : i + 1])
            input_ids[i] = masked[0]
            labels[i] = row_labels[0]
        return {"input_ids": input_ids, "attention_mask": attention_mask.long(), "labels": labels}
