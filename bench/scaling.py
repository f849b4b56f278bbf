"""Scaling with work: step time of LiGO operator training and of plain training against model
size (three growths) and batch size (three), so that a user can see how each cost grows.

For each growth in GROWTHS and each batch in BATCH_SIZES (x SEQ_LEN random tokens, 15% as
labels): the two steps of bench/operator_overhead.py (the same code), at miniature sizes:

- operator: one LiGO operator training step (``GrownModel`` over a ``LiGOOperator``, forward,
  backward, AdamW over the operator's trainable parameters, zero_grad);
- plain: one plain training step of the large model (forward, backward, AdamW, zero_grad).

The models are BERT shapes (FFN 4x, 64-dim heads), vocabulary VOCAB_SIZE, randomly
initialised, in train mode, with host memory kept between steps as in our runs
(``ligo.base.host_memory``). All in one fresh process; for each growth and batch, WARMUP
untimed steps of each, then STEPS timed steps of each, alternating; medians.

The operator's own work (growing the parameters and back-propagating through the growth)
does not depend on the batch, while the model's does: the operator's relative cost shrinks
as the batch grows (the table's "operator - plain" column stays about the same for a model).
"""

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from ligo.base.errors import UserError
from ligo.base.host_memory import keep_freed_memory

REPO = Path(__file__).resolve().parents[1]
BASE_CONFIG = REPO / "configs/bert-mini-4L-256H.json"  # the rest of each shape: dropout, positions
# (layers, hidden) of the small and the large model: each doubles depth and width
GROWTHS = [((2, 128), (4, 256)), ((3, 192), (6, 384)), ((4, 256), (8, 512))]
BATCH_SIZES = [8, 16, 32]
SEQ_LEN = 64
VOCAB_SIZE = 2000
SEED = 0
WARMUP = 1
STEPS = 2
TABLE = "Scaling with work (bench/scaling.py): training step time against model and batch size"


def shape(layers: int, hidden: int):
    from ligo.models.loading import load_config

    config = load_config("bert", str(BASE_CONFIG))
    config.num_hidden_layers, config.hidden_size = layers, hidden
    config.intermediate_size, config.num_attention_heads = 4 * hidden, hidden // 64
    config.vocab_size = VOCAB_SIZE
    return config


def random_batch(batch_size: int) -> dict:
    import torch

    generator = torch.Generator().manual_seed(SEED)
    input_ids = torch.randint(5, VOCAB_SIZE, (batch_size, SEQ_LEN), generator=generator)
    masked = torch.rand(batch_size, SEQ_LEN, generator=generator) < 0.15
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
            "token_type_ids": torch.zeros_like(input_ids), "labels": torch.where(masked, input_ids, -100)}


def name(layers: int, hidden: int) -> str:
    return f"{layers}L-{hidden}H"


# --- The child process -------------------------------------------------------------------------


def timing_child() -> dict:
    import torch

    from bench.operator_overhead import build_operator, build_plain, train_step

    keep_freed_memory()  # as our training runs do (ligo/training/session.py), for both steps
    torch.manual_seed(SEED)
    results = []
    for small_shape, large_shape in GROWTHS:
        small, large = shape(*small_shape), shape(*large_shape)
        variants = {"plain": build_plain(large), "operator": build_operator(small, large)}
        parameters = sum(p.numel() for p in variants["plain"][0].parameters())
        for batch_size in BATCH_SIZES:
            batch = random_batch(batch_size)
            seconds = {v: [] for v in variants}
            for step in range(WARMUP + STEPS):
                for v in list(variants) if step % 2 == 0 else list(variants)[::-1]:
                    took = sum(train_step(*variants[v], batch))
                    if step >= WARMUP:
                        seconds[v].append(took)
            results.append({"small": name(*small_shape), "large": name(*large_shape), "parameters": parameters,
                            "batch": batch_size, "seconds": seconds})
            print(f"  {name(*small_shape)} -> {name(*large_shape)}, batch {batch_size}x{SEQ_LEN}: "
                  + ", ".join(f"{v} {1000 * statistics.median(s):.0f} ms" for v, s in seconds.items()),
                  file=sys.stderr, flush=True)
        del variants
    return {"results": results, "threads": torch.get_num_threads()}


def in_fresh_process() -> dict:
    # stderr passes through: the child's progress lines show while it runs
    result = subprocess.run([sys.executable, "-m", "bench.scaling", "timing"], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    if result.returncode != 0:
        raise RuntimeError("bench.scaling timing failed (its error is above)")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Measuring --------------------------------------------------------------------------------


def table_row(r: dict) -> dict:
    plain, operator = (statistics.median(r["seconds"][v]) for v in ("plain", "operator"))
    tokens = r["batch"] * SEQ_LEN
    return {
        "table": TABLE,
        "growth": f"{r['small']} -> {r['large']} (large: {r['parameters'] / 1e6:.1f}M parameters)",
        "batch": f"{r['batch']} x {SEQ_LEN} = {tokens} tokens",
        "plain step": f"{1000 * plain:,.0f} ms, {tokens / plain:,.0f} tokens/s",
        "operator step": f"{1000 * operator:,.0f} ms, {tokens / operator:,.0f} tokens/s",
        "plain / operator": f"{plain / operator:.2f}x",
        # about the operator's own cost: fixed per model size, whatever the batch
        "operator - plain": f"{1000 * (operator - plain):+,.0f} ms",
        "steps (ms)": "plain " + ", ".join(f"{1000 * s:.0f}" for s in r["seconds"]["plain"])
                      + "; operator " + ", ".join(f"{1000 * s:.0f}" for s in r["seconds"]["operator"]),
    }


def summary_row(m: dict, load_before: float) -> dict:
    results = m["results"]
    first, last = results[0], results[-1]

    def growth(v):
        a, b = (statistics.median(r["seconds"][v]) for r in (first, last))
        return (f"{1000 * a:,.0f} ms ({first['large']}, batch {first['batch']}) to {1000 * b:,.0f} ms "
                f"({last['large']}, batch {last['batch']}): {b / a:.1f}x")

    work = last["parameters"] * last["batch"] / (first["parameters"] * first["batch"])
    ratio = statistics.median(last["seconds"]["plain"]) / statistics.median(last["seconds"]["operator"])
    growths = ", ".join(f"{name(*small)} -> {name(*large)}" for small, large in GROWTHS)
    notes = (
        f"ratio = plain step time / operator step time at the largest model and batch; every size is in the table "
        f"'{TABLE.split(' (')[0]}' below. Growths {growths} (depth and width doubled), batches "
        f"{', '.join(map(str, BATCH_SIZES))} x {SEQ_LEN}, vocab {VOCAB_SIZE}; "
        f"parameters x tokens grow {work:.0f}x from the smallest to the largest. The steps of "
        f"bench/operator_overhead.py; one fresh process, {WARMUP} warm-up step and {STEPS} timed steps of each, "
        f"alternating, medians; {m['threads']} torch threads, fp32 on CPU. Load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    return {"benchmark": "scaling with work (LiGO operator and plain steps, 3 models x 3 batches)", "ratio": ratio,
            "ours": f"operator step {growth('operator')}", "baseline": f"plain step {growth('plain')}",
            "notes": notes}


def run() -> list[dict]:
    if not BASE_CONFIG.is_file():
        raise UserError(f"the benchmark's model config '{BASE_CONFIG}' is missing; restore it with git")
    load_before = os.getloadavg()[0]
    print("scaling with work:", flush=True)
    m = in_fresh_process()
    return [summary_row(m, load_before), *map(table_row, m["results"])]


if __name__ == "__main__":
    if sys.argv[1:] == ["timing"]:
        print(json.dumps(timing_child()))
    else:
        for row in run():
            print(row)
