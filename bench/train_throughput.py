"""Training throughput: tokens/s of our training loop against a minimal hand-written PyTorch loop.

- ours: the real entry script, ``run_lm_distributed.py`` (``ligo.training.trainer.Trainer``,
  unmodified), run as a subprocess in a fresh output folder. Its speed is read from its
  ``metrics.jsonl``: ``train_seconds`` (wall time of the training steps; logging and
  checkpoints excluded) and ``tokens`` (non-padding tokens), cumulative, logged every WINDOW
  steps; steps WARMUP + 1 ... WARMUP + STEPS are measured, so start-up and the first WARMUP
  steps are not counted.
- baseline: ``baseline_loop`` below, a minimal hand-written loop over the same Hugging Face
  model (``BertForMaskedLM`` from the same JSON, the same seed), the same dataset class,
  batch size, collator and DataLoader worker count, ``torch.optim.AdamW``, clipping and a
  linear schedule; nothing else. It times the same steps, in the same windows, with
  ``time.perf_counter``, batch fetching included as in ours.

Each run is a fresh Python process with the same environment (so the same default torch
thread count); the two alternate, REPEATS times each. The machine is shared, and a
neighbour busy on one core makes a step several times slower (torch's two threads then wait
on each other), in bursts; so the ratio compares the fastest window of WINDOW steps of each
side, the machine's speed when it is free, and the notes say how many windows came within
20% of it. The median window and each run's mean are listed too.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ligo.base.errors import UserError
from ligo.base.host_memory import keep_freed_memory

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO / "data/tokenizers/bert-sample-uncased"
TRAIN_TEXT = REPO / "data/wiki-sample-cased/en.train.raw"
TRAIN_TOKENS = REPO / "data/wiki-sample-cased/en.train.raw.bert-sample-uncased.hdf5"
# 4L-256H takes ~1.2 s a step on 2 cores, too slow for 3 repeats in ~4 minutes.
MODEL_CONFIG = REPO / "configs/bert-mini-2L-128H.json"
# As configs/bert_mini.txt
BATCH_SIZE = 32
BLOCK_SIZE = 126
NUM_WORKERS = 1
SEED = 95
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 0.1
ADAM_EPSILON = 1e-6
MAX_GRAD_NORM = 1.0
MLM_PROBABILITY = 0.15
LR_WARMUP_STEPS = 4  # of the learning-rate schedule
# Measured: steps WARMUP + 1 ... WARMUP + STEPS, in windows of WINDOW steps
WARMUP = 10
STEPS = 30
WINDOW = 5
REPEATS = 2


def check_data():
    for path, what in [(TRAIN_TOKENS, "training tokens"), (TOKENIZER / "tokenizer.json", "tokenizer"),
                       (MODEL_CONFIG, "model config")]:
        if not path.is_file():
            raise UserError(f"the benchmark's {what} '{path}' is missing; run `make mini` first")


# --- The baseline: a minimal hand-written PyTorch loop ------------------------------------


def baseline_loop(keep_memory: bool) -> dict:
    """THE BASELINE. The same model, data, batch and collator as ours; AdamW, clipping and a
    linear schedule; no logging, no checkpoints, no token or FLOP accounting beyond the
    one count that the throughput needs. ``keep_memory``: with glibc's malloc set to keep
    freed memory, as ours sets it (ligo/base/host_memory.py)."""
    import torch
    from torch.utils.data import DataLoader
    from transformers import BertConfig, BertForMaskedLM

    from ligo.data.dataset import BlockDataset
    from ligo.data.masking import SeededMLMCollator
    from ligo.data.tokenizer import load_tokenizer, tokenizer_tag

    if keep_memory:
        keep_freed_memory()
    torch.manual_seed(SEED)
    tokenizer = load_tokenizer(str(TOKENIZER))
    model = BertForMaskedLM(BertConfig.from_json_file(str(MODEL_CONFIG)))
    model.train()
    dataset = BlockDataset(TRAIN_TEXT, tokenizer_tag(str(TOKENIZER)), tokenizer, BLOCK_SIZE)
    total = WARMUP + STEPS
    if len(dataset) < total * BATCH_SIZE:
        raise UserError(f"'{TRAIN_TOKENS}' has {len(dataset)} blocks, fewer than {total} batches of {BATCH_SIZE}")
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, shuffle=True, drop_last=True, num_workers=NUM_WORKERS,
                        collate_fn=SeededMLMCollator(tokenizer, MLM_PROBABILITY, seed=SEED),
                        generator=torch.Generator().manual_seed(SEED))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "LayerNorm" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "LayerNorm" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=LEARNING_RATE, eps=ADAM_EPSILON)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: s / LR_WARMUP_STEPS if s < LR_WARMUP_STEPS else (total - s) / (total - LR_WARMUP_STEPS))

    batches = iter(loader)
    tokens, clock = 0, []  # clock: the time after steps WARMUP, WARMUP + WINDOW, ...
    for step in range(total):
        if step >= WARMUP and (step - WARMUP) % WINDOW == 0:
            clock.append(time.perf_counter())
        batch = next(batches)
        if step >= WARMUP:
            tokens += int(batch["attention_mask"].sum())
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    clock.append(time.perf_counter())
    return {"windows": [b - a for a, b in zip(clock, clock[1:])], "tokens": tokens,
            "threads": torch.get_num_threads()}


# --- Measuring --------------------------------------------------------------------------


def run_baseline(mode: str) -> dict:
    """The baseline in a fresh process, as ours is; mode "baseline" or "baseline_kept"."""
    result = subprocess.run([sys.executable, "-m", "bench.train_throughput", mode], cwd=REPO,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"the baseline loop failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_ours() -> dict:
    """run_lm_distributed.py in a fresh output folder; throughput from its metrics.jsonl."""
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        command = [
            sys.executable, "run_lm_distributed.py", "--output_dir", tmp,
            "--model_type", "bert", "--config_name", str(MODEL_CONFIG), "--tokenizer_name", str(TOKENIZER),
            "--do_train", "--train_data_file", str(TRAIN_TEXT), "--block_size", str(BLOCK_SIZE), "--shuffle",
            "--mlm", "--mlm_probability", str(MLM_PROBABILITY), "--seed", str(SEED),
            "--per_gpu_train_batch_size", str(BATCH_SIZE), "--num_workers", str(NUM_WORKERS),
            "--learning_rate", str(LEARNING_RATE), "--weight_decay", str(WEIGHT_DECAY),
            "--adam_epsilon", str(ADAM_EPSILON), "--max_grad_norm", str(MAX_GRAD_NORM),
            "--warmup_steps", str(LR_WARMUP_STEPS), "--max_steps", str(WARMUP + STEPS),
            "--logging_steps", str(WINDOW), "--ckpt_steps", "0",
        ]  # no --do_eval: evaluation is excluded from train_seconds anyway
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"run_lm_distributed.py failed:\n{result.stderr[-3000:]}")
        rows = {row["step"]: row for row in map(json.loads, (Path(tmp) / "metrics.jsonl").read_text().splitlines())}
    seconds = [rows[step]["train_seconds"] for step in range(WARMUP, WARMUP + STEPS + 1, WINDOW)]
    return {"windows": [b - a for a, b in zip(seconds, seconds[1:])],
            "tokens": rows[WARMUP + STEPS]["tokens"] - rows[WARMUP]["tokens"]}


def run() -> list[dict]:
    check_data()
    assert WARMUP % WINDOW == 0 and STEPS % WINDOW == 0, "ours logs at multiples of WINDOW only"
    runners = {"baseline": lambda: run_baseline("baseline"), "baseline_kept": lambda: run_baseline("baseline_kept"),
               "ours": run_ours}
    results = {name: [] for name in runners}
    load_before = os.getloadavg()[0]
    print(f"training throughput, {MODEL_CONFIG.stem}, batch {BATCH_SIZE}x{BLOCK_SIZE + 2}:", flush=True)
    for repeat in range(REPEATS):
        # Alternating order (B K O, O K B, ...), so that a drift of the machine hits all alike.
        order = list(runners) if repeat % 2 == 0 else list(runners)[::-1]
        for name in order:
            result = runners[name]()
            results[name].append(result)
            print(f"  {name}: {1000 * sum(result['windows']) / STEPS:.0f} ms/step; windows of {WINDOW} steps: "
                  f"{', '.join(f'{1000 * w / WINDOW:.0f}' for w in result['windows'])} ms/step", flush=True)
    load_after = os.getloadavg()[0]
    tokens = {r["tokens"] for rs in results.values() for r in rs}
    if len(tokens) != 1:
        raise RuntimeError(f"ours and the baseline trained on different numbers of tokens: {sorted(tokens)}")
    tokens_per_step = tokens.pop() / STEPS
    windows = {name: [w / WINDOW for r in rs for w in r["windows"]] for name, rs in results.items()}
    step_seconds = {name: min(ws) for name, ws in windows.items()}
    near_best = {name: sum(w <= 1.2 * step_seconds[name] for w in ws) for name, ws in windows.items()}

    def figures(name):
        runs = ", ".join(f"{1000 * sum(r['windows']) / STEPS:.0f}" for r in results[name])
        return (f"{1000 * step_seconds[name]:.0f} ms/step, {tokens_per_step / step_seconds[name]:,.0f} tokens/s "
                f"(fastest window; median window {1000 * statistics.median(windows[name]):.0f} ms/step; "
                f"each run's mean: {runs} ms/step)")

    threads = results["baseline"][0]["threads"]
    medians = {name: statistics.median(ws) for name, ws in windows.items()}
    setting = (
        f"{MODEL_CONFIG.stem}, batch {BATCH_SIZE} x {BLOCK_SIZE + 2} = {tokens_per_step:.0f} tokens, "
        f"{NUM_WORKERS} DataLoader worker, {threads} torch threads, fp32 on CPU; steps {WARMUP + 1}-{WARMUP + STEPS} "
        f"timed after {WARMUP} warm-up steps, {REPEATS} alternating runs of each, each a fresh process; windows of "
        f"{WINDOW} steps within 20% of the fastest: "
        + ", ".join(f"{name} {near_best[name]}/{len(windows[name])}" for name in runners)
        + f" (few: the machine was busy, trust the ratio less). Load average {load_before:.2f} before, "
        f"{load_after:.2f} after"
    )

    def row(benchmark: str, baseline: str, what: str) -> dict:
        notes = (f"ratio = our tokens/s / the baseline's (= its step time / ours), fastest windows; by median "
                 f"windows {medians[baseline] / medians['ours']:.2f}x. Baseline: {what}. {setting}")
        return {"benchmark": benchmark, "ratio": step_seconds[baseline] / step_seconds["ours"],
                "ours": figures("ours"), "baseline": figures(baseline), "notes": notes}

    return [
        row("training throughput (run_lm_distributed.py) vs a minimal loop", "baseline",
            "a minimal hand-written PyTorch loop (bench/train_throughput.py), not the authors'; ours also keeps freed "
            "host memory between steps (ligo/base/host_memory.py), the loop as users write it does not"),
        row("training loop overhead (run_lm_distributed.py) vs the same loop, host memory kept", "baseline_kept",
            "the same minimal loop, with host memory kept as ours does: what remains is the cost of our loop itself "
            "(logging, checkpoints at start and end excluded, FLOP and token counts, the numerics guard, the "
            "progress bar)"),
    ]


if __name__ == "__main__":
    if sys.argv[1:] in (["baseline"], ["baseline_kept"]):
        check_data()
        print(json.dumps(baseline_loop(keep_memory=sys.argv[1] == "baseline_kept")))
    else:
        for row in run():
            print(row)
