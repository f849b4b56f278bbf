"""LiGO operator against the paper's per-module formulation: one operator training step, ours
against the same step with the grown weights computed module by module with whole matrices.

- ours: one LiGO operator training step as bench.operator_overhead times it (``GrownModel``:
  ``LiGOOperator`` grows the large model's parameters, depth for all large layers of a module type
  in one contraction and width by the learned blocks only; the unmodified Hugging Face model runs
  on them with ``functional_call``), ``loss.backward()``, AdamW over the operator's trainable
  tensors (depth coefficients and width blocks), ``zero_grad``.
- baseline: the same step with ``PerModuleOperator`` (bench/per_module_operator.py) in the
  operator's place: every large module's tensor is a sum over the small layers, then
  ``B W A^T`` with the whole ``[I; S]`` expansion matrices, one module at a time, every step; it
  starts from copies of our operator's tensors, so it grows the same weights (checked before the
  first step: the largest difference must be under MAX_DIFFERENCE) and trains the same tensors
  (same names, same AdamW).

BERT-Small -> BERT-Base shapes (configs/bert-6L-512H.json -> configs/bert-12L-768H.json, the
vocabulary cut as operator_overhead does), the paper's options (operator_overhead's OPTIONS), on
BATCH_SIZE x SEQ_LEN random tokens with 15% of them as labels, the same batch for both.

- Time: one fresh process, one torch thread, freed host memory kept as our training runs keep it.
  The first (warm-up, untimed) step of each runs under the same seed, so that both draw the same
  dropout masks: their losses and the gradients of their trainable tensors are compared too. Then
  STEPS steps of each, alternating (O B, B O, ...), the median compared. Each is followed by a
  split step of the same variant: the same step with its backward in two calls, so that each
  part is timed: growth forward (``operator()``), model forward (``functional_call`` on the
  grown tensors, detached), model backward (to the grown tensors), growth backward
  (``torch.autograd.backward`` from their gradients to the operator's tensors), optimizer (AdamW
  and ``zero_grad``). The ratio is the one-backward steps'; the split steps' totals are reported too.
"""

import json
import os
import statistics
import subprocess
import sys

from bench.operator_overhead import (
    FAMILIES,
    LEARNING_RATE,
    OPTIONS,
    REPO,
    SEED,
    SEQ_LEN,
    VOCAB_SIZE,
    WEIGHT_DECAY,
    Laps,
    build_operator,
    configs,
    make_batch,
    optimizer_step,
    train_step,
)
from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.host_memory import keep_freed_memory

FAMILY = "bert"
BATCH_SIZE = 8
THREADS = 1
WARMUP = 1  # untimed steps of each, the first seeded alike for both and under FlopCounterMode
STEPS = 3  # timed steps of each, alternating
MAX_DIFFERENCE = 1e-5  # the grown weights of ours and the baseline, before the first step
TARGET = 0.9  # ours at most 0.9x the baseline's step time


def build_baseline(ours_model, large):
    """THE BASELINE: the per-module operator from copies of ours' tensors, the same model around it."""
    import torch

    from bench.per_module_operator import PerModuleOperator
    from ligo.growth.grown_model import GrownModel

    operator = PerModuleOperator(ours_model.operator)
    model = GrownModel(operator, large).train()
    optimizer = torch.optim.AdamW([p for p in operator.parameters() if p.requires_grad], lr=LEARNING_RATE,
                                  weight_decay=WEIGHT_DECAY)
    return model, optimizer


def largest_difference(a: dict, b: dict) -> float:
    if a.keys() != b.keys():
        raise RuntimeError(f"the two operators grow different tensors: {sorted(a.keys() ^ b.keys())[:3]}")
    return max((a[name] - b[name]).abs().max().item() for name in a)


def first_step(model, optimizer, batch) -> dict:
    """An untimed step under SEED (the same dropout masks for both): its loss, its trainable
    tensors' gradients, and its FLOPs (matmuls, all of the step; and the growth's alone)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from ligo.growth.grown_model import operator_step_flops

    torch.manual_seed(SEED)
    with FlopCounterMode(display=False) as counter:
        loss = model(**batch).loss
        loss.backward()
    gradients = {name: p.grad.clone() for name, p in model.operator.named_parameters() if p.grad is not None}
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return {"loss": loss.item(), "gradients": gradients, "flops": counter.get_total_flops(),
            "growth_flops": operator_step_flops(model.operator)}


def split_step(model, optimizer, batch) -> list[float]:
    """The same step as ``train_step``, its backward in two calls so that each part is timed: the
    seconds of growth forward, model forward, model backward (to the grown tensors), growth
    backward (from their gradients to the operator's tensors) and optimizer (with zero_grad)."""
    import torch
    from torch.func import functional_call

    laps = Laps()
    grown = model.operator()
    laps.lap()
    leaves = {name: t.detach().requires_grad_(t.requires_grad) for name, t in grown.items()}
    buffers = {name: getattr(model, slot) for name, slot in model.buffer_names.items()}
    loss = functional_call(model.large, {**leaves, **buffers}, args=(), kwargs=batch).loss
    laps.lap()
    loss.backward()
    laps.lap()
    pairs = [(t, leaves[name].grad) for name, t in grown.items() if leaves[name].grad is not None]
    torch.autograd.backward([t for t, _ in pairs], [g for _, g in pairs])
    laps.lap()
    return optimizer_step(optimizer, laps)


def timing_child(batch_size: int) -> dict:
    import torch

    torch.set_num_threads(THREADS)
    keep_freed_memory()  # as our training runs do (ligo/training/session.py), for both steps
    torch.manual_seed(SEED)
    small, large = configs(FAMILY)
    batch = make_batch(batch_size, FAMILY)
    ours = build_operator(small, large)
    variants = {"ours": ours, "baseline": build_baseline(ours[0], large)}
    with torch.no_grad():
        difference = largest_difference(ours[0].operator(), variants["baseline"][0].operator())
    if not difference < MAX_DIFFERENCE:
        raise RuntimeError(f"the per-module baseline grows other weights than ours: largest difference {difference}")

    first = {name: first_step(*variants[name], batch) for name in variants}
    grads = {name: first[name].pop("gradients") for name in variants}
    if grads["ours"].keys() != grads["baseline"].keys():
        raise RuntimeError("the two operators train different tensors")
    gradient_difference = max((grads["ours"][n] - grads["baseline"][n]).abs().max().item() for n in grads["ours"])
    gradient_scale = max(g.abs().max().item() for g in grads["ours"].values())
    for _ in range(WARMUP - 1):
        for name in variants:
            train_step(*variants[name], batch)

    phases, split = {name: [] for name in variants}, {name: [] for name in variants}
    for step in range(STEPS):
        order = list(variants) if step % 2 == 0 else list(variants)[::-1]
        for name in order:
            phases[name].append(train_step(*variants[name], batch))
            split[name].append(split_step(*variants[name], batch))
    return {"phases": phases, "split": split, "first": first, "difference": difference,
            "gradient_difference": gradient_difference, "gradient_scale": gradient_scale,
            "trainable": sum(p.numel() for p in ours[0].operator.parameters() if p.requires_grad),
            "threads": torch.get_num_threads()}


def in_fresh_process(batch_size: int) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.operator_vs_per_module", "timing", str(batch_size)],
                            cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bench.operator_vs_per_module timing failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def run(batch_size: int = BATCH_SIZE) -> list[dict]:
    small_config, large_config, pair_name = FAMILIES[FAMILY]
    for path in (small_config, large_config):
        if not path.is_file():
            raise RuntimeError(f"the benchmark's model config '{path}' is missing")
    load_before = os.getloadavg()[0]
    shape = f"{small_config.stem} -> {large_config.stem}, vocab {VOCAB_SIZE}, " \
            f"batch {batch_size}x{SEQ_LEN}"
    print(f"LiGO operator against the per-module formulation, {shape}, {THREADS} thread(s):", flush=True)
    timing = in_fresh_process(batch_size)
    load_after = os.getloadavg()[0]

    parts = ("growth forward", "model forward", "model backward", "growth backward", "optimizer")
    figures_of = {}
    for name, phases in timing["phases"].items():
        steps, split_steps = [sum(p) for p in phases], [sum(p) for p in timing["split"][name]]
        figures_of[name] = {"steps": steps, "median": statistics.median(steps), "split steps": split_steps,
                            "split median": statistics.median(split_steps),
                            **{part: statistics.median(p[i] for p in timing["split"][name])
                               for i, part in enumerate(parts)},
                            "gflop": timing["first"][name]["flops"] / 1e9,
                            "growth gflop": timing["first"][name]["growth_flops"] / 1e9}
    ours, baseline = figures_of["ours"], figures_of["baseline"]
    ratio = baseline["median"] / ours["median"]

    def growth(f):
        return f["growth forward"] + f["growth backward"]

    def figures(name):
        f = figures_of[name]
        print(f"  {name}: median {f['median']:.2f} s/step (steps {', '.join(f'{t:.2f}' for t in f['steps'])} s); "
              f"split step {f['split median']:.2f} s: " + ", ".join(f"{part} {f[part]:.2f}" for part in parts) + " s",
              flush=True)
        return (f"{f['median']:.2f} s/step (median of {STEPS}; steps {', '.join(f'{t:.2f}' for t in f['steps'])} s). "
                f"Split (the split steps' medians; their total {f['split median']:.2f} s): growth forward "
                f"{f['growth forward']:.2f} s, growth backward {f['growth backward']:.2f} s (growth "
                f"{growth(f):.2f} s), model forward {f['model forward']:.2f} s + backward {f['model backward']:.2f} s "
                f"= {f['model forward'] + f['model backward']:.2f} s, optimizer {f['optimizer']:.2f} s; growth "
                f"{f['growth gflop']:.0f} GFLOP of matmuls (forward + backward) of the step's {f['gflop']:.0f}")

    row_ours, row_baseline = figures("ours"), figures("baseline")
    met = "met" if 1 / ratio <= TARGET else "NOT met"
    first = timing["first"]
    notes = (
        f"ratio = baseline step time / ours (higher is better for ours): ours takes {1 / ratio:.2f}x the baseline's "
        f"step; target ours <= {TARGET}x, i.e. ratio >= {1 / TARGET:.2f}: {met}. The growth (forward + backward, "
        f"from the split): baseline / ours {growth(baseline) / growth(ours):.2f}x. {shape} ({pair_name} shapes, "
        f"dropout as the configs), train mode, LiGOOptions({', '.join(f'{k}={v!r}' for k, v in OPTIONS.items())}). "
        f"Both steps: GrownModel (the large BertForMaskedLM on the meta device, functional_call on the grown "
        f"weights), masked-LM loss, backward, AdamW on the {timing['trainable']:,} trainable entries of the "
        f"operator's tensors (depth coefficients, width blocks), zero_grad; ours: LiGOOperator (depth: one "
        f"contraction over all large layers per module type; width: only the learned blocks S multiply, [W; S W], "
        f"the cheaper side first); baseline: bench/per_module_operator.py, every large module's tensor "
        f"sum_j w[l, j] W_j, then B W A^T with the whole [I; S] matrices ([large, small]), module by module, every "
        f"step, from copies of ours' tensors. The same grown weights: largest absolute difference "
        f"{timing['difference']:.1e} before the first step (asserted < {MAX_DIFFERENCE:.0e}); the first step under "
        f"the same seed: losses {first['ours']['loss']:.6f} (ours) and {first['baseline']['loss']:.6f}, trainable "
        f"tensors' gradients differ by at most {timing['gradient_difference']:.1e} (largest gradient "
        f"{timing['gradient_scale']:.1e}). Step time: GrownModel's step as training runs take it (one backward). "
        f"Split: the same step again right after it, its backward in two calls (the model's to the grown tensors, "
        f"then the growth's from their gradients), each part timed; optimizer = AdamW + zero_grad. One fresh "
        f"process, {timing['threads']} torch thread, freed host memory kept, {WARMUP} warm-up step each (untimed), "
        f"{STEPS} timed each alternating, fp32 on CPU. Load average {load_before:.2f} before, {load_after:.2f} after"
    )
    return [{"benchmark": f"LiGO operator step vs the per-module formulation ({pair_name}, batch "
                          f"{batch_size}x{SEQ_LEN}, {timing['threads']} thread)",
             "ratio": ratio, "ours": row_ours, "baseline": row_baseline, "notes": notes}]


@exit_on_user_error
def main():
    parser = OneLineParser(prog="python -m bench.operator_vs_per_module", description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=BATCH_SIZE,
                        help=f"sequences of {SEQ_LEN} a step (default {BATCH_SIZE})")
    args = parser.parse_args()
    if args.batch_size < 1:
        raise UserError(f"--batch_size must be at least 1, got {args.batch_size}")
    for row in run(args.batch_size):
        print(row)


if __name__ == "__main__":
    if sys.argv[1:2] == ["timing"] and len(sys.argv) == 3:  # the child, a fresh process
        print(json.dumps(timing_child(int(sys.argv[2]))))
    else:
        main()
