"""Data path: batches/s that the training data pipeline delivers, against the rate at which
the training step consumes them, at the mini sizes; and block reads against raw HDF5 reads.

- ours: the real pipeline, built as the trainer builds it: ``BlockDataset`` over the HDF5
  token file, ``SeededMLMCollator`` (15% masking, seeded per example) and the DataLoader of
  ``ligo.training.sampling.training_batches`` (shuffled keys, NUM_WORKERS worker process, as
  configs/bert_mini*.txt). Measured alone: the main process only takes batches, so the figure
  is what the worker can deliver. LOADER_WARMUP batches (the worker's start-up included) are
  not timed, then LOADER_BATCHES are; the median of LOADER_REPEATS fresh loaders.
- the rate to beat: training steps/s of the mini model (configs/bert-mini-4L-256H.json) at
  the same batch, a minimal torch loop (forward, backward, clipping, AdamW, zero_grad) on one
  pre-fetched batch, so that no data work is counted; the median of TRAIN_STEPS steps after
  TRAIN_WARMUP.

The ratio is the first over the second: how many times faster batches come than they are
used (the issue's target: >= 5). On a 2-core machine the worker competes for cores with the
training step's threads; during training it is busy about 1/ratio of the time.

Dataset reads: ``BlockDataset.__getitem__`` (a block wrapped in [CLS] ... [SEP], as a tensor)
against a raw ``h5py`` slice of an already open dataset, the same READS random blocks, in
this process; the median of READ_REPEATS.
"""

import statistics
import time
from pathlib import Path

import numpy as np

from ligo.base.errors import UserError

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO / "data/tokenizers/bert-sample-uncased"
TRAIN_TEXT = REPO / "data/wiki-sample-cased/en.train.raw"
TRAIN_TOKENS = REPO / "data/wiki-sample-cased/en.train.raw.bert-sample-uncased.hdf5"
MODEL_CONFIG = REPO / "configs/bert-mini-4L-256H.json"
# (batch size, block size, the recipe that uses them)
CASES = [(16, 62, "configs/bert_mini_table1.txt"), (32, 126, "configs/bert_mini.txt")]
NUM_WORKERS = 1  # as both recipes
SEED = 42
MLM_PROBABILITY = 0.15
LOADER_WARMUP = 10
LOADER_BATCHES = 100
LOADER_REPEATS = 3
TRAIN_WARMUP = 2
TRAIN_STEPS = 5
READS = 2000
READ_REPEATS = 3


def check_data():
    for path, what in [(TRAIN_TOKENS, "training tokens"), (TOKENIZER / "tokenizer.json", "tokenizer"),
                       (MODEL_CONFIG, "model config")]:
        if not path.is_file():
            raise UserError(f"the benchmark's {what} '{path}' is missing; run `make mini` first")


def pipeline(block_size: int):
    from ligo.data.dataset import BlockDataset
    from ligo.data.masking import SeededMLMCollator
    from ligo.data.tokenizer import load_tokenizer, tokenizer_tag

    tokenizer = load_tokenizer(str(TOKENIZER))
    dataset = BlockDataset(TRAIN_TEXT, tokenizer_tag(str(TOKENIZER)), tokenizer, block_size)
    return dataset, SeededMLMCollator(tokenizer, MLM_PROBABILITY, seed=SEED)


# --- Ours: the loader alone ---------------------------------------------------------------


def loader_run(dataset, collate, batch_size: int) -> dict:
    """One fresh loader, as the trainer makes it: seconds to its first batch, then batches/s."""
    import torch

    from ligo.training.distributed import Context
    from ligo.training.sampling import training_batches

    ctx = Context(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    start = time.perf_counter()
    batches = training_batches(dataset, collate, ctx, batch_size, shuffle=True, seed=SEED, num_workers=NUM_WORKERS)
    next(batches)
    first = time.perf_counter() - start
    for _ in range(LOADER_WARMUP - 1):
        next(batches)
    start = time.perf_counter()
    for _ in range(LOADER_BATCHES):
        next(batches)
    rate = LOADER_BATCHES / (time.perf_counter() - start)
    batches.close()  # drops the DataLoader, which stops its worker
    return {"first": first, "rate": rate}


# --- The rate to beat: the training step ---------------------------------------------------


def train_step_seconds(batch: dict) -> list[float]:
    """Seconds of TRAIN_STEPS plain training steps of the mini model on one batch."""
    import torch
    from transformers import BertConfig, BertForMaskedLM

    torch.manual_seed(SEED)
    model = BertForMaskedLM(BertConfig.from_json_file(str(MODEL_CONFIG))).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.1)
    seconds = []
    for _ in range(TRAIN_WARMUP + TRAIN_STEPS):
        start = time.perf_counter()
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
    return seconds[TRAIN_WARMUP:]


# --- Dataset reads -------------------------------------------------------------------------


def read_rates(dataset) -> dict:
    """Blocks/s of BlockDataset.__getitem__ and of raw h5py slices, the same random blocks."""
    import h5py

    keys = [int(k) for k in np.random.default_rng(SEED).choice(len(dataset), READS, replace=False)]
    spans = [(int(s), int(e)) for s, e in dataset.spans[keys]]
    dataset[keys[0]]  # opens the file, as a worker's first item does

    def rate(read) -> float:
        seconds = []
        for _ in range(READ_REPEATS):
            start = time.perf_counter()
            read()
            seconds.append(time.perf_counter() - start)
        return READS / statistics.median(seconds)

    with h5py.File(dataset.path, "r") as h5:
        tokens = h5["tokens"]
        return {"ours": rate(lambda: [dataset[k] for k in keys]),
                "raw": rate(lambda: [tokens[s:e] for s, e in spans])}


# --- Measuring ------------------------------------------------------------------------------


def measure(batch_size: int, block_size: int) -> dict:
    dataset, collate = pipeline(block_size)
    needed = (LOADER_WARMUP + LOADER_BATCHES) * batch_size
    if len(dataset) < needed:  # a second epoch would time a second worker start-up
        raise UserError(f"'{TRAIN_TOKENS}' has {len(dataset)} blocks of {block_size}, fewer than the {needed} "
                        "the benchmark reads in one epoch; run `make mini` to prepare the full sample")
    loader = [loader_run(dataset, collate, batch_size) for _ in range(LOADER_REPEATS)]
    batch = collate([dataset[k] for k in range(batch_size)])
    train = train_step_seconds(batch)
    return {"loader": loader, "train": train, "reads": read_rates(dataset), "blocks": len(dataset)}


def rows_for(batch_size: int, block_size: int, recipe: str, m: dict) -> tuple[dict, dict]:
    loader_rate = statistics.median(r["rate"] for r in m["loader"])
    step = statistics.median(m["train"])
    ratio = loader_rate * step
    shape = f"batch {batch_size} x {block_size + 2}"
    loaders = ", ".join(f"{r['rate']:,.0f}" for r in m["loader"])
    data = {
        "benchmark": f"data path ({shape}, {recipe})",
        "ratio": ratio,
        "ours": (f"{loader_rate:,.0f} batches/s, {1000 / loader_rate:.1f} ms/batch (median of {LOADER_REPEATS} "
                 f"loaders: {loaders} batches/s); first batch after "
                 f"{statistics.median(r['first'] for r in m['loader']):.2f} s (worker start-up)"),
        "baseline": (f"{1 / step:.2f} steps/s, {1000 * step:.0f} ms/step (median of {TRAIN_STEPS}: "
                     f"{', '.join(f'{1000 * s:.0f}' for s in m['train'])} ms)"),
        "notes": (f"ratio = batches/s delivered / training steps/s consumed (target >= 5). Ours: BlockDataset + "
                  f"SeededMLMCollator through ligo.training.sampling.training_batches' DataLoader, "
                  f"{NUM_WORKERS} worker, "
                  f"shuffled, measured alone ({LOADER_WARMUP} untimed batches, then {LOADER_BATCHES}); baseline: "
                  f"a plain training step of {MODEL_CONFIG.stem} on a pre-fetched batch (forward, backward, "
                  f"clipping, AdamW), {TRAIN_WARMUP} warm-up steps. On 2 cores the worker shares the cores with "
                  f"the step's threads; while training it is busy ~{100 / ratio:.1f}% of the time"),
    }
    reads = m["reads"]
    read = {
        "benchmark": f"dataset reads (blocks of {block_size})",
        "ratio": reads["ours"] / reads["raw"],
        "ours": f"{reads['ours']:,.0f} blocks/s, {1e6 / reads['ours']:.0f} us/block",
        "baseline": f"{reads['raw']:,.0f} blocks/s, {1e6 / reads['raw']:.0f} us/block",
        "notes": (f"ratio = BlockDataset.__getitem__ rate / raw h5py slice rate: the price of what __getitem__ "
                  f"adds, looking up the h5py dataset by name and wrapping the block in [CLS] ... [SEP] as a tensor. "
                  f"The same {READS} random blocks of {m['blocks']:,} in {TRAIN_TOKENS.name}, one process, median "
                  f"of {READ_REPEATS}"),
    }
    return data, read


def run() -> list[dict]:
    check_data()
    data_rows, read_rows = [], []
    for batch_size, block_size, recipe in CASES:
        print(f"data path, batch {batch_size} x {block_size + 2}:", flush=True)
        data, read = rows_for(batch_size, block_size, recipe, measure(batch_size, block_size))
        data_rows.append(data)
        read_rows.append(read)
        print(f"  {data['ours']}\n  training step: {data['baseline']}\n  reads: ours {read['ours']}, raw "
              f"{read['baseline']}", flush=True)
    return data_rows + read_rows


if __name__ == "__main__":
    for row in run():
        print(row)
