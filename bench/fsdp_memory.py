"""FSDP memory: per-rank host memory of a plain and a LiGO operator step, FSDP against DDP, on 2 CPU processes.

Under ``--data_parallel fsdp`` against ``--data_parallel ddp``, two processes on the CPU (gloo).

- ours: one plain training step of a large model built and sharded as a run from scratch builds
  it (ligo/tasks/lm.py, ``ligo.training.sharding``): on the meta device (``empty_model``), then
  ``DataParallel`` with ``data_parallel="fsdp"`` (PyTorch's FSDP2 ``fully_shard`` on every block
  at the family's ``layers_path``, then on the root) and ``Deferred(SEED)``, so that each rank
  gives only its own shards memory and Hugging Face's initialisation; fp32, no CPU offload: the
  batch through the model (the family's ``run_batch``), ``loss.backward()`` (which
  reduce-scatters the gradients), an AdamW step over this rank's shards (``build_optimizer`` over
  ``parameter_groups``, fused, as the Trainer builds it), ``zero_grad``.
- baseline: the same step under ``DataParallel`` with ``data_parallel="ddp"``
  (DistributedDataParallel: the whole model, built whole on every rank, its gradients and AdamW's
  state on every rank, the gradients all-reduced).

Two models (FAMILIES), randomly initialised, in train mode, the vocabulary cut to VOCAB_SIZE:
BERT-Base shapes (configs/bert-12L-768H.json, masked LM on BERT_BATCH_SIZE x SEQ_LEN random
tokens per rank, 15% of them as labels) and SmolLM2-360M shapes (bench/operator_overhead.py's
LLAMA_LARGE: 32L-960H, 15/5 query/key-value heads, FFN 2560, tied embeddings; causal LM on
LLAMA_BATCH_SIZE x SEQ_LEN random tokens per rank). The batches are operator_overhead's, the same
on both ranks and for both engines.

- How: each engine in its own fresh pair of processes, started by torchrun
  (``python -m torch.distributed.run --standalone --nproc_per_node 2 -m bench.fsdp_memory child
  ...``), one torch thread each (the two ranks share the machine's cores), host memory as our
  runs treat it: a DDP run keeps freed memory for the next step
  (``ligo.base.host_memory.keep_freed_memory``), an FSDP run returns every block of 1 MB or more
  as it is freed (``return_freed_memory``; ligo/training/session.py).
  Each rank builds the model as its engine does (above), wraps it, builds AdamW, and then, after
  ``gc.collect()`` and ``malloc_trim``, reads ``VmRSS`` ("before"), and ``VmHWM`` ("build
  peak": the process's peak so far, imports and building included). It then resets its
  high-water mark (writing 5 to ``/proc/self/clear_refs``), so that the ``VmHWM`` read after
  MEMORY_STEPS steps (the first allocates AdamW's state) is the peak of the steps alone ("step
  peak"); step memory = step peak - before. Every step starts after a barrier; its time is the
  slower rank's, and the median of the steps after the first is reported. Each figure is the
  larger of the two ranks'. Each rank also reads ``VmRSS`` right after its imports and process
  group, before any model ("runtime": torch's and transformers' code and data, ~0.6 GB); the
  plain rows report the step peak less it beside, what a GPU's memory would count.
- Why VmHWM: it is the process's own high-water mark of resident memory, read from
  ``/proc/self/status``; ``getrusage().ru_maxrss`` is not used, because a child started by
  ``subprocess`` (vfork + exec) inherits its parent's peak in it, and it cannot be reset.
  What it counts is resident memory, the C heap's free blocks included: with freed memory kept
  (no trimming, no mmap), a block freed between two layers that later requests do not fit stays
  resident, and FSDP allocates and frees a layer's gathered parameters, gradients and
  reduce-scatter buffers for every layer, between long-lived activations: kept, or left to glibc's
  default (whose mmap threshold rises to the largest block freed, so such blocks soon come from
  the heap too), that freed memory stays resident, which is why FSDP runs return it.
  ``--malloc kept`` and ``--malloc default`` measure both engines the same way, to show that cost.

A run's whole-life peak is the larger of the build peak and the step peak; both are reported.
Under FSDP no rank builds the whole model for a run from scratch (measured here) or a resumed one.

The recomputed rows: the same plain step with ``--gradient_checkpointing`` under both engines
(``ligo.tasks.lm.recomputing``, as a run calls it: Hugging Face's activation checkpointing, each
layer kept as its input and run again in its backward). At 2 processes what does not shard, the
activations, is much of a step's memory; recomputed, they shrink under both engines alike.

The grown rows: the same plain step, from the weights GROWN_SCHEME grows from bench.operator_overhead's
small model (randomly initialised), built as a grown run builds it: under FSDP on the meta device,
each rank filling its shards one grown layer at a time (``BaselineGrowth`` through
``LayerByLayer``), under DDP grown whole (``grow_baseline``, ``materialize``) on every rank. Their
build peak against the FSDP run from scratch says what growing costs a rank beyond its shards
(the small model, one grown layer, the embeddings and head).

The operator rows: one LiGO operator step (bench.operator_overhead's operator from its small
model, ``GrownModel``, AdamW over what it learns) under each engine, the large model grown per
layer (``--operator_growth per_layer``: each layer grown just before it runs, recomputed in the
backward) and whole (``--operator_growth whole``), against the plain step of the same engine.
Under DDP the operator is whole on every rank; under FSDP it is one unit (its parameters are
stacked over the large layers), sharded between steps and gathered for the step.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from bench.operator_overhead import FAMILIES as MODELS
from bench.operator_overhead import OPTIONS, SEQ_LEN, VOCAB_SIZE, config_label
from ligo.base.errors import UserError, exit_on_user_error

REPO = Path(__file__).resolve().parents[1]
PROCESSES = 2
ENGINES = ("ddp", "fsdp")
BERT_BATCH_SIZE = 4  # sequences of SEQ_LEN per rank
LLAMA_BATCH_SIZE = 2
# family (its large model as bench/operator_overhead.py builds it) -> (the row's name, the batch per rank)
FAMILIES = {"bert": ("BERT 12L-768H", BERT_BATCH_SIZE), "llama": ("SmolLM2-360M shapes", LLAMA_BATCH_SIZE)}
MEMORY_STEPS = 2  # steps before the step peak is read (the first allocates AdamW's state)
STEPS = 4  # steps in all; the time is the median of those after the first
SEED = 0
LEARNING_RATE = 2e-4
WEIGHT_DECAY = 0.01
ADAM_EPSILON = 1e-6
TIMEOUT_SECONDS = 900  # a pair of processes that takes longer has hung
TARGET = 0.6  # the issue's: a plain FSDP step at most 0.6x DDP's per-rank peak
OPERATOR_TARGET = 1.2  # the issue's: an operator step at most 1.2x the plain step of the same engine
# the steps measured: the large model's own, its activations kept or recomputed (as
# --gradient_checkpointing); a LiGO operator's, the large model grown per layer (checkpointed, as
# --operator_growth per_layer) or whole (as --operator_growth whole); the large model's, started
# from GROWN_SCHEME's weights
STEP_KINDS = ("plain", "plain_recomputed", "operator_per_layer", "operator_whole", "grown")
GROWN_SCHEME = "bert2bert_aki"  # width and depth, each new unit from the next layer: the most growing
# --malloc: how the processes' C heap treats freed memory
MALLOCS = {"runs": "host memory as our runs treat it: a DDP run keeps freed memory for the next step "
                   "(keep_freed_memory: no mmap, no trimming), an FSDP run returns it (return_freed_memory: "
                   "blocks of 1 MB or more mapped alone, unmapped when freed)",
           "kept": "freed host memory kept for the next step under both engines (not as an FSDP run)",
           "default": "glibc's default malloc under both engines (not as a DDP run)"}


# --- The child processes (one per rank) -------------------------------------------------


def proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak() -> bool:
    """Reset this process's VmHWM to its VmRSS (Linux >= 4.0); False where that is refused."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(family: str, engine: str, step: str, batch_size: int, malloc: str, output: Path):
    import torch
    import torch.distributed as dist

    from bench.operator_overhead import configs, make_batch, release_freed_memory
    from ligo.base.host_memory import keep_freed_memory, return_freed_memory
    from ligo.base.parent_death import die_with_parent
    from ligo.growth.baselines import BaselineGrowth
    from ligo.growth.grown_model import GrownModel, LayerByLayer, materialize
    from ligo.growth.operator import LiGOOperator, LiGOOptions
    from ligo.models.families import family_of
    from ligo.models.loading import empty_model, new_model
    from ligo.tasks.lm import recomputing
    from ligo.training import distributed
    from ligo.training.optim import build_optimizer, parameter_groups
    from ligo.training.sharding import DataParallel, Deferred

    die_with_parent()  # the parent is torchrun's agent
    if malloc == "kept" or (malloc == "runs" and engine == "ddp"):
        keep_freed_memory()  # as a DDP training run does (ligo/training/session.py)
    elif malloc == "runs":
        return_freed_memory()  # as an FSDP training run does
    ctx = distributed.init(TIMEOUT_SECONDS)
    torch.manual_seed(SEED)
    runtime = proc_status_kb("VmRSS")  # imports and the process group, before any model: what a GPU would not count
    small, large = configs(family)
    batch = make_batch(batch_size, family)
    args = SimpleNamespace(data_parallel=engine, bf16=False, fsdp_cpu_offload=False, weight_decay=WEIGHT_DECAY,
                           gradient_checkpointing=step == "plain_recomputed")
    deferred = None
    layers_path = family_of(large.model_type).layers_path
    if step in ("plain", "plain_recomputed"):
        if engine == "fsdp":  # as build_lm_task for a run from scratch: no rank builds the whole model
            model, deferred = empty_model(large.model_type, large), Deferred(SEED)
        else:
            model = new_model(large.model_type, large, SEED)
        model = recomputing(model, args)  # as build_lm_task
        units = list(model.get_submodule(layers_path))
    elif step == "grown":  # as build_lm_task for a grown run
        small_model = new_model(small.model_type, small, SEED)
        growth = BaselineGrowth(GROWN_SCHEME, small_model.state_dict(), small, large, SEED)
        if engine == "fsdp":  # each rank takes its shards of one grown layer at a time
            model = empty_model(large.model_type, large)
            deferred = Deferred(SEED, tensors=LayerByLayer(growth.grow_layer, growth.grow_outside_layers, layers_path))
        else:
            model = materialize(growth.grow(), large, SEED)
        del small_model, growth  # as a run: only the deferred weights refer to them, until filled
        units = list(model.get_submodule(layers_path))
    else:  # as build_operator_task: the operator whole on every rank, FSDP then shards it (one unit)
        small_model = new_model(small.model_type, small, SEED)
        operator = LiGOOperator(small_model.state_dict(), small, large, LiGOOptions(**OPTIONS), seed=SEED)
        del small_model
        model, units = GrownModel(operator, large, per_layer=step == "operator_per_layer"), []
    model.train()
    parallel = DataParallel(model, units, args, ctx, find_unused_parameters=False, deferred=deferred)
    trained = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    optimizer = build_optimizer(parameter_groups(trained, args.weight_decay), LEARNING_RATE, ADAM_EPSILON,
                                ctx.device)
    run_batch = family_of(large.model_type).run_batch
    release_freed_memory()
    dist.barrier()
    before, build_peak = proc_status_kb("VmRSS"), proc_status_kb("VmHWM")
    reset = reset_peak()
    seconds, step_peak = [], None
    for step in range(STEPS):
        dist.barrier()
        start = time.perf_counter()
        loss = run_batch(parallel.model, batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seconds.append(time.perf_counter() - start)
        if step + 1 == MEMORY_STEPS:
            step_peak = proc_status_kb("VmHWM")
    local_parameters = sum(p.to_local().numel() if hasattr(p, "to_local") else p.numel() for p in model.parameters())
    result = {"rank": ctx.rank, "runtime_kb": runtime, "before_kb": before, "build_peak_kb": build_peak,
              "step_peak_kb": step_peak, "peak_reset": reset, "seconds": seconds, "threads": torch.get_num_threads(),
              "local_parameters": local_parameters, "loss": float(loss)}
    gathered = distributed.gather_to_main(result, ctx)
    if ctx.is_main:
        output.write_text(json.dumps(gathered))
    del parallel, optimizer, model
    distributed.shutdown()


def in_fresh_processes(family: str, engine: str, step: str, batch_size: int, malloc: str) -> list[dict]:
    """Every rank's figures, from a fresh pair of processes."""
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "ranks.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(PROCESSES),
                   "-m", "bench.fsdp_memory", "child", family, engine, step, str(batch_size), malloc, str(output)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one thread per rank: the ranks share the cores
        try:
            result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                                    timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired as err:
            raise RuntimeError(f"bench.fsdp_memory child {family} {engine} {step} took over {TIMEOUT_SECONDS} s") \
                from err
        if result.returncode != 0 or not output.is_file():
            raise RuntimeError(f"bench.fsdp_memory child {family} {engine} {step} failed (exit {result.returncode}):\n"
                               f"{result.stderr[-3000:]}")
        return json.loads(output.read_text())


# --- Measuring --------------------------------------------------------------------------


def run(bert_batch_size: int = BERT_BATCH_SIZE, llama_batch_size: int = LLAMA_BATCH_SIZE,
        malloc: str = "runs", steps: tuple[str, ...] = STEP_KINDS) -> list[dict]:
    return measure("bert", bert_batch_size, malloc, steps) + measure("llama", llama_batch_size, malloc, steps)


def mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MB"


def summarise(ranks: list[dict]) -> dict:
    """One engine's figures from its ranks': each the larger of the ranks' (a step's time: the slower's)."""
    def worst(key):
        return max(r[key] for r in ranks)

    steps = [max(r["seconds"][i] for r in ranks) for i in range(STEPS)]
    return {"before": worst("before_kb"), "build": worst("build_peak_kb"), "peak": worst("step_peak_kb"),
            "step": max(r["step_peak_kb"] - r["before_kb"] for r in ranks),
            "whole_life": max(max(r["build_peak_kb"], r["step_peak_kb"]) for r in ranks),
            "time": statistics.median(steps[1:]), "steps": steps, "parameters": worst("local_parameters"),
            "reset": all(r["peak_reset"] for r in ranks), "threads": ranks[0]["threads"], "loss": ranks[0]["loss"],
            "model_peak": max(r["step_peak_kb"] - r["runtime_kb"] for r in ranks)}


def engine_figures(f: dict) -> str:
    return (f"step peak {mb(f['peak'])} per rank ({mb(f['step'])} for the steps over {mb(f['before'])} before "
            f"the first step); build peak {mb(f['build'])}; step {f['time']:.2f} s (median of steps 2-{STEPS}; "
            f"steps {', '.join(f'{s:.2f}' for s in f['steps'])} s); {f['parameters'] / 1e6:.1f}M parameters "
            f"on a rank")


def measure(family: str, batch_size: int, malloc: str = "runs", steps: tuple[str, ...] = STEP_KINDS) -> list[dict]:
    name, _ = FAMILIES[family]
    load_before = os.getloadavg()[0]
    print(f"FSDP memory, {name}, batch {batch_size}x{SEQ_LEN} per rank, {PROCESSES} processes:", flush=True)
    figures = {}
    for step in steps:
        for engine in ENGINES:
            ranks = in_fresh_processes(family, engine, step, batch_size, malloc)
            print(f"  {engine} {step}: {ranks}", flush=True)
            figures[engine, step] = summarise(ranks)
    load = f"Load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after"
    shape = f"{name}, vocab {VOCAB_SIZE}, batch {batch_size}x{SEQ_LEN} per rank"
    reset = all(f["reset"] for f in figures.values())
    peak_rule = ("the mark then reset (/proc/self/clear_refs), step peak = VmHWM after" if reset else
                 "the mark could NOT be reset here, so the step peak also holds the build peak: VmHWM after")
    how = (f"{PROCESSES} processes started by torchrun, gloo, {next(iter(figures.values()))['threads']} torch thread "
           f"each, {MALLOCS[malloc]}, fp32 on CPU, under ligo.training.sharding.DataParallel; each engine and step in "
           f"a fresh pair of processes. CPU resident set size: VmRSS before the first step (after gc.collect() and "
           f"malloc_trim), build peak = VmHWM then; {peak_rule} {MEMORY_STEPS} steps; each figure the larger of the "
           f"{PROCESSES} ranks'")
    labels = {"runs": "", "kept": ", freed memory kept by both", "default": ", glibc default malloc for both"}
    rows = Rows(name, config_label(MODELS[family][0]), shape, how, load, labels[malloc])
    made = []
    if "plain" in steps:
        made.append(plain_row(rows, figures["ddp", "plain"], figures["fsdp", "plain"]))
    if "plain_recomputed" in steps:
        made.append(plain_row(rows, figures["ddp", "plain_recomputed"], figures["fsdp", "plain_recomputed"],
                              kept=(figures.get(("ddp", "plain")), figures.get(("fsdp", "plain")))))
    if "plain" in steps and "grown" in steps:
        made.append(grown_row(rows, figures))
    if "plain" in steps and "operator_per_layer" in steps:
        made += [operator_row(rows, engine, figures) for engine in ENGINES]
    return made


@dataclass
class Rows:
    """What every row of one model's measurement says alike: the model in its title, and how it
    was measured at the end of its notes."""

    name: str  # the model, as the row's title names it
    small: str  # the small model the operator and the grown start come from
    shape: str
    how: str
    load: str
    malloc_label: str

    def row(self, title: str, ratio: float, ours: str, baseline: str, notes: str, detail: str = "",
            step: str = "") -> dict:
        """``detail``: more for the title's parentheses; ``step``: what step was timed, if the title does not say."""
        return {"benchmark": f"{title} ({self.name}{detail}, {PROCESSES} processes{self.malloc_label})",
                "ratio": ratio, "ours": ours, "baseline": baseline,
                "notes": f"{notes} {self.shape}; {step}{self.how}. {self.load}"}


def plain_row(rows: Rows, ddp: dict, fsdp: dict, kept: tuple[dict | None, dict | None] | None = None) -> dict:
    """``kept``: the figures of the step without recomputation (DDP's, FSDP's; None where not
    measured), for a row of the step with --gradient_checkpointing under both engines."""
    peak_fraction = fsdp["peak"] / ddp["peak"]
    whole_fraction = fsdp["whole_life"] / ddp["whole_life"]
    met = "met" if peak_fraction <= TARGET else "NOT met"
    whole_met = "met" if whole_fraction <= TARGET else "not met"
    notes = (
        f"ratio = DDP step peak / FSDP step peak, per rank (higher is better for ours): FSDP's step peak is "
        f"{peak_fraction:.2f}x DDP's, the issue's target (a plain FSDP step at most {TARGET}x DDP's per-rank peak) is "
        f"{met}. Step memory (peak - before) ratio DDP / FSDP {ddp['step'] / fsdp['step']:.2f}x; step time FSDP / DDP "
        f"{fsdp['time'] / ddp['time']:.2f}x. Build peak (VmHWM before the first step, imports included): "
        f"{mb(fsdp['build'])} under FSDP (built on the meta device, each rank filling only its shards, as a run from "
        f"scratch; a grown run's: the grown rows) and {mb(ddp['build'])} "
        f"under DDP (the whole model on every rank); counting it, the whole-life peak is "
        f"{mb(fsdp['whole_life'])} against {mb(ddp['whole_life'])}, {whole_fraction:.2f}x (target {whole_met} on "
        f"that count). Less each process's runtime (VmRSS after its imports and process group, before any model: "
        f"what GPU memory would not count), the step peak is {mb(fsdp['model_peak'])} under FSDP against "
        f"{mb(ddp['model_peak'])} under DDP, {fsdp['model_peak'] / ddp['model_peak']:.2f}x.")
    step = "plain step (forward, backward, fused AdamW over parameter_groups, zero_grad); "
    if kept is None:
        return rows.row("FSDP plain step memory", ddp["peak"] / fsdp["peak"], "FSDP: " + engine_figures(fsdp),
                        "DDP: " + engine_figures(ddp), notes, step=step)
    against = "".join(
        f" Against the same step keeping its activations ({engine}): step peak {mb(plain['peak'])} -> "
        f"{mb(recomputed['peak'])}, step time {recomputed['time'] / plain['time']:.2f}x."
        for engine, plain, recomputed in zip(("DDP", "FSDP"), kept, (ddp, fsdp)) if plain is not None)
    return rows.row("FSDP plain step memory", ddp["peak"] / fsdp["peak"], "FSDP: " + engine_figures(fsdp),
                    "DDP: " + engine_figures(ddp), notes + against,
                    detail=", activations recomputed under both engines",
                    step="the plain step with --gradient_checkpointing under both engines (ligo.tasks.lm.recomputing: "
                         "Hugging Face's activation checkpointing, each layer run again in its backward); " + step)


def grown_row(rows: Rows, figures: dict) -> dict:
    ddp, fsdp, scratch = figures["ddp", "grown"], figures["fsdp", "grown"], figures["fsdp", "plain"]
    notes = (
        f"ratio = DDP build peak / FSDP build peak, per rank, both grown by {GROWN_SCHEME} from {rows.small} (randomly "
        f"initialised): under FSDP each rank fills its shards one grown layer at a time, under DDP the model is grown "
        f"whole on every rank. The FSDP run from scratch peaks at {mb(scratch['build'])} building: growing costs a "
        f"rank {mb(fsdp['build'] - scratch['build'])} more (the small model, one grown layer, the embeddings and "
        f"head), against {mb(ddp['build'] - scratch['build'])} more under DDP. Step peaks as the plain rows': "
        f"{mb(fsdp['peak'])} (FSDP), {mb(ddp['peak'])} (DDP); loss of step {STEPS} from the same grown weights "
        f"{fsdp['loss']:.4f} (FSDP), {ddp['loss']:.4f} (DDP).")
    return rows.row("Grown start, build peak", ddp["build"] / fsdp["build"],
                    "FSDP, grown layer by layer: " + engine_figures(fsdp), "DDP, grown whole: " + engine_figures(ddp),
                    notes, detail=f", {GROWN_SCHEME}")


def operator_row(rows: Rows, engine: str, figures: dict) -> dict:
    plain, per_layer = figures[engine, "plain"], figures[engine, "operator_per_layer"]
    fraction = per_layer["peak"] / plain["peak"]
    met = "met" if fraction <= OPERATOR_TARGET else "NOT met"
    whole = figures.get((engine, "operator_whole"))
    whole_note = "" if whole is None else (
        f" Grown whole (--operator_growth whole, every grown weight alive through the step): step peak "
        f"{mb(whole['peak'])}, {whole['peak'] / plain['peak']:.2f}x the plain step's, {whole['time']:.2f} s a step "
        f"(per layer takes {per_layer['time'] / whole['time']:.2f}x its time: the recomputed forward of growth and "
        "model).")
    other = "ddp" if engine == "fsdp" else "fsdp"
    across = "" if (other, "operator_per_layer") not in figures else (
        f" The same operator step under {other.upper()}: step peak {mb(figures[other, 'operator_per_layer']['peak'])}.")
    options = ", ".join(f"{k}={v!r}" for k, v in OPTIONS.items())
    notes = (
        f"ratio = plain step peak / operator step peak, per rank, both under {engine.upper()}: the operator step "
        f"(grown per layer, --operator_growth per_layer) peaks at {fraction:.2f}x the plain step's, the issue's target "
        f"(at most {OPERATOR_TARGET}x the plain step of the same engine) is {met}.{whole_note}{across} The operator: "
        f"bench.operator_overhead's (LiGOOptions({options}), small model {rows.small}), GrownModel, AdamW over what it "
        "learns; under FSDP one unit (its parameters are stacked over the large layers), gathered for the step.")
    return rows.row(f"Operator step memory under {engine.upper()}", plain["peak"] / per_layer["peak"],
                    "operator, grown per layer: " + engine_figures(per_layer),
                    "plain step of the large model: " + engine_figures(plain), notes)


@exit_on_user_error
def main():
    from ligo.base.command_line import OneLineParser

    parser = OneLineParser(prog="python -m bench.fsdp_memory", description=__doc__.splitlines()[0])
    parser.add_argument("--bert_batch_size", type=int, default=BERT_BATCH_SIZE,
                        help=f"BERT: sequences of {SEQ_LEN} per rank (default {BERT_BATCH_SIZE})")
    parser.add_argument("--llama_batch_size", type=int, default=LLAMA_BATCH_SIZE,
                        help=f"Llama: sequences of {SEQ_LEN} per rank (default {LLAMA_BATCH_SIZE})")
    parser.add_argument("--only", choices=list(FAMILIES), help="measure one model only")
    parser.add_argument("--steps", nargs="+", choices=STEP_KINDS, default=list(STEP_KINDS),
                        help="the steps to measure (default: all; the operator rows need plain and operator_per_layer)")
    parser.add_argument("--malloc", choices=list(MALLOCS), default="runs",
                        help="runs (default): each engine's host memory as our runs treat it (DDP keeps freed "
                             "memory, FSDP returns it); kept or default: the same for both engines")
    args = parser.parse_args()
    for flag in ("bert_batch_size", "llama_batch_size"):
        if getattr(args, flag) < 1:
            raise UserError(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    batch = {"bert": args.bert_batch_size, "llama": args.llama_batch_size}
    steps = tuple(dict.fromkeys(args.steps))
    rows = run(*batch.values(), args.malloc, steps) if args.only is None else \
        measure(args.only, batch[args.only], args.malloc, steps)
    for row in rows:
        print(row)


if __name__ == "__main__":
    # The children: `child FAMILY ENGINE BATCH MALLOC OUTPUT`, one per rank, started by torchrun.
    if sys.argv[1:2] == ["child"] and len(sys.argv) == 8 and sys.argv[3] in ENGINES and sys.argv[4] in STEP_KINDS \
            and sys.argv[6] in MALLOCS:
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6], Path(sys.argv[7]))
    else:
        main()
