"""Evaluation: time of a full masked-LM evaluation pass, ours against a minimal hand-written loop.

- ours: ``ligo.training.evaluate.evaluate_language_model`` as the trainer calls it (one process, a gloo process
  group, sharded keys, the DataLoader without workers, ``autocast`` disabled as without
  --fp16/--bf16, the loss summed in float64 and all-reduced).
- baseline: ``baseline_evaluate`` below, a minimal ``torch.no_grad()`` loop over the same
  batches (the same blocks in the same order, collated by the same collator, so the same
  masks) and the same model: ``model(**batch).loss`` weighted by its masked-token count.

The mini Table 1 setting (configs/bert_mini_table1.txt): the large mini model
(configs/bert-mini-4L-256H.json, randomly initialised), en.valid.raw in blocks of 62, batches
of 128; its first EVAL_BLOCKS blocks, to keep the benchmark short. One fresh process; one
untimed pass of each, then REPEATS passes of each, alternating; medians compared. Both must
give the same loss.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from ligo.base.errors import UserError

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO / "data/tokenizers/bert-sample-uncased"
EVAL_TEXT = REPO / "data/wiki-sample-cased/en.valid.raw"
EVAL_TOKENS = REPO / "data/wiki-sample-cased/en.valid.raw.bert-sample-uncased.hdf5"
MODEL_CONFIG = REPO / "configs/bert-mini-4L-256H.json"
BLOCK_SIZE = 62  # as configs/bert_mini_table1.txt
BATCH_SIZE = 128
EVAL_BLOCKS = 3 * BATCH_SIZE  # of its 715
MLM_PROBABILITY = 0.15
SEED = 0
REPEATS = 3


def check_data():
    for path, what in [(EVAL_TOKENS, "evaluation tokens"), (TOKENIZER / "tokenizer.json", "tokenizer"),
                       (MODEL_CONFIG, "model config")]:
        if not path.is_file():
            raise UserError(f"the benchmark's {what} '{path}' is missing; run `make mini` first")


# --- The baseline: a minimal hand-written loop ---------------------------------------------


def baseline_evaluate(model, dataset, collate, batch_size: int) -> float:
    """THE BASELINE: the mean loss over every masked token, batch after batch, no DataLoader."""
    import torch

    model.eval()
    loss_sum, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            batch = collate([dataset[key] for key in range(start, min(start + batch_size, len(dataset)))])
            masked = int((batch["labels"] != -100).sum())
            loss_sum += model(**batch).loss.item() * masked
            count += masked
    return loss_sum / count


# --- The child process ----------------------------------------------------------------------


def timing_child(_args):
    import torch
    from torch.utils.data import Subset

    from ligo.base.autocast import autocast_for
    from ligo.data.dataset import BlockDataset
    from ligo.data.masking import SeededMLMCollator
    from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
    from ligo.models.loading import load_config, new_model
    from ligo.training import distributed
    from ligo.training.evaluate import evaluate_language_model

    ctx = distributed.init(timeout_seconds=60)
    tokenizer = load_tokenizer(str(TOKENIZER))
    full = BlockDataset(EVAL_TEXT, tokenizer_tag(str(TOKENIZER)), tokenizer, BLOCK_SIZE)
    if len(full) < EVAL_BLOCKS:
        raise UserError(f"'{EVAL_TOKENS}' has {len(full)} blocks of {BLOCK_SIZE}, fewer than the benchmark's "
                        f"{EVAL_BLOCKS}; run `make mini` to prepare the full sample")
    dataset = Subset(full, range(EVAL_BLOCKS))
    collate = SeededMLMCollator(tokenizer, MLM_PROBABILITY, seed=SEED)
    model = new_model("bert", load_config("bert", str(MODEL_CONFIG)), SEED)
    autocast = autocast_for(SimpleNamespace(fp16=False, bf16=False), ctx.device)  # as without --fp16/--bf16
    variants = {
        "ours": lambda: evaluate_language_model(model, dataset, collate, ctx, BATCH_SIZE, autocast)["eval_loss"],
        "baseline": lambda: baseline_evaluate(model, dataset, collate, BATCH_SIZE),
    }
    seconds, losses = {name: [] for name in variants}, {}
    for repeat in range(1 + REPEATS):  # the first, untimed
        for name in list(variants) if repeat % 2 == 0 else list(variants)[::-1]:
            start = time.perf_counter()
            losses[name] = variants[name]()
            if repeat:
                seconds[name].append(time.perf_counter() - start)
    distributed.shutdown()
    print(json.dumps({"seconds": seconds, "losses": losses, "blocks": len(dataset), "of": len(full),
                      "threads": torch.get_num_threads()}))


def in_fresh_process() -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.evaluation", "timing"], cwd=REPO, capture_output=True,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bench.evaluation timing failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Measuring --------------------------------------------------------------------------------


def run() -> list[dict]:
    check_data()
    load_before = os.getloadavg()[0]
    print(f"evaluation, {MODEL_CONFIG.stem}, {EVAL_TEXT.name} in blocks of {BLOCK_SIZE}, batch {BATCH_SIZE}:",
          flush=True)
    m = in_fresh_process()
    load_after = os.getloadavg()[0]
    losses = m["losses"]
    if abs(losses["ours"] - losses["baseline"]) > 1e-4 * abs(losses["baseline"]):
        raise RuntimeError(f"ours and the baseline disagree on the loss: {losses}")
    median = {name: statistics.median(s) for name, s in m["seconds"].items()}
    tokens = m["blocks"] * (BLOCK_SIZE + 2)

    def figures(name):
        runs = ", ".join(f"{s:.2f}" for s in m["seconds"][name])
        return f"{median[name]:.2f} s/pass, {tokens / median[name]:,.0f} tokens/s (median of {REPEATS}: {runs} s)"

    for name in median:
        print(f"  {name}: {figures(name)}", flush=True)
    notes = (
        f"ratio = baseline time / ours (target ~1). Ours: ligo.training.evaluate.evaluate_language_model, "
        f"1 process, gloo; baseline: a "
        f"minimal torch.no_grad() loop over the same batches (bench/evaluation.py). {MODEL_CONFIG.stem}, "
        f"{EVAL_TEXT.name}: the first {m['blocks']} of its {m['of']} blocks of {BLOCK_SIZE} + 2, batch "
        f"{BATCH_SIZE}, eval mode, {m['threads']} torch threads, fp32 on CPU; one fresh process, 1 untimed pass "
        f"each, then {REPEATS} alternating; the same loss ({losses['ours']:.4f}). Load average "
        f"{load_before:.2f} before, {load_after:.2f} after"
    )
    return [{"benchmark": f"evaluation pass ({MODEL_CONFIG.stem})", "ratio": median["baseline"] / median["ours"],
             "ours": figures("ours"), "baseline": figures("baseline"), "notes": notes}]


if __name__ == "__main__":
    if sys.argv[1:] == ["timing"]:
        from ligo.training.distributed import launch

        launch(timing_child, None)
    else:
        for row in run():
            print(row)
