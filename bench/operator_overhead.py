"""LiGO operator overhead: one operator training step against one plain step of the large model.

- ours: one LiGO operator training step, as run_grow_distributed.py takes it: the batch
  through ``GrownModel`` (the operator grows the large model's parameters, the unmodified
  Hugging Face model runs on them with ``functional_call``), ``loss.backward()``, an AdamW
  step over the operator's trainable parameters (depth coefficients and width blocks), and
  ``zero_grad``. The paper's settings: ``LiGOOptions(depth_scheme="stackbert_noisy",
  width_scheme="rand", tie=True, tune_depth=True, tune_width=True)``.
- baseline: one plain training step of the same large model (``BertForMaskedLM`` /
  ``GPT2LMHeadModel``) built from the same large config, forward, backward, AdamW over all its
  parameters, ``zero_grad``.

Three pairs (FAMILIES), each with the vocabulary cut to VOCAB_SIZE: BERT-Small -> BERT-Base
shapes (configs/bert-6L-512H.json -> configs/bert-12L-768H.json: FFN 4x, 64-dim heads, their
dropout), on BATCH_SIZE x SEQ_LEN random tokens with 15% of them as labels; and GPT2-Base ->
GPT2-Medium shapes (configs/gpt2-12L-768H.json -> configs/gpt2-24L-1024H.json), causal LM on
GPT2_BATCH_SIZE x SEQ_LEN random tokens (a Medium step is ~4x a Base one); and DeiT-S -> DeiT-B
(configs/vit-12L-384H.json -> configs/vit-12L-768H.json, the paper's Table 2, width only) on
VIT_BATCH_SIZE random 224-pixel images with random classes; and SmolLM2-135M -> SmolLM2-360M
shapes (LLAMA_SMALL -> LLAMA_LARGE, built here: 30 -> 32 layers, 576 -> 960 hidden, 9 -> 15 query
heads in 3 -> 5 key/value groups of head size 64, SwiGLU FFN 1536 -> 2560, tied embeddings),
causal LM on LLAMA_BATCH_SIZE x SEQ_LEN random tokens. The small model is
randomly initialised (the speed does not depend on its values); both in train mode, the same
batch for both.

- Time: one fresh process builds both and alternates their steps (P O, O P, ...), WARMUP
  steps each untimed (the first under FlopCounterMode, to count each step's matmul FLOPs),
  then STEPS timed steps each; the median is compared. It also times each step's phases and,
  separately, the operator's own forward (``operator()``) and backward (from dense gradients
  on every grown tensor), to show where the extra time goes.
- Both, as our training runs (ligo/training/session.py), keep freed host memory for the next step
  (``ligo.base.host_memory.keep_freed_memory``): glibc's default would page-fault every large
  tensor in again each step, which costs the operator step, whose grown weights are such
  tensors, far more than the plain one.
- Memory: each variant in its own fresh process, which builds only what its step needs (the
  operator process never builds a real large model: ``GrownModel`` keeps it on the meta
  device). CPU resident set size: ``VmRSS`` just before the first step (after ``gc.collect()``
  and ``malloc_trim``), and the peak ``VmHWM`` after MEMORY_STEPS steps (the first allocates
  AdamW's state). ``VmHWM`` is this process's own high-water mark; ``getrusage().ru_maxrss``
  is not used, because a child started by ``subprocess`` (vfork + exec) inherits its
  parent's peak in it.
"""

import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.host_memory import keep_freed_memory

REPO = Path(__file__).resolve().parents[1]
# family -> (small config, large config, the pair's name)
FAMILIES = {
    "bert": (REPO / "configs/bert-6L-512H.json", REPO / "configs/bert-12L-768H.json", "BERT 6L-512H -> 12L-768H"),
    "gpt2": (REPO / "configs/gpt2-12L-768H.json", REPO / "configs/gpt2-24L-1024H.json",
             "GPT-2 12L-768H -> 24L-1024H"),
    "vit": (REPO / "configs/vit-12L-384H.json", REPO / "configs/vit-12L-768H.json", "DeiT-S -> DeiT-B"),
    "llama": ("LLAMA_SMALL", "LLAMA_LARGE", "SmolLM2-135M -> SmolLM2-360M"),  # configs built here, not files
}
# SmolLM2-135M's and SmolLM2-360M's shapes (their config.json: rms_norm_eps 1e-5, rope_theta 100000,
# tied embeddings), random weights, the vocabulary cut to VOCAB_SIZE as the other pairs.
LLAMA_COMMON = dict(head_dim=64, hidden_act="silu", rms_norm_eps=1e-5, rope_theta=100000.0,
                    max_position_embeddings=8192, tie_word_embeddings=True, attention_bias=False, mlp_bias=False)
LLAMA_SMALL = dict(num_hidden_layers=30, hidden_size=576, num_attention_heads=9, num_key_value_heads=3,
                   intermediate_size=1536, **LLAMA_COMMON)
LLAMA_LARGE = dict(num_hidden_layers=32, hidden_size=960, num_attention_heads=15, num_key_value_heads=5,
                   intermediate_size=2560, **LLAMA_COMMON)
LLAMA_CONFIGS = {"LLAMA_SMALL": LLAMA_SMALL, "LLAMA_LARGE": LLAMA_LARGE}
VOCAB_SIZE = 2000
# Half the paper's 64 sequences per GPU: the operator's cost is fixed per step, so the ratio
# depends on the batch (the notes project it to others); a plain step takes ~15 s on 2 cores.
BATCH_SIZE = 32
GPT2_BATCH_SIZE = 8  # GPT2-Medium: a plain step of 8 x 128 takes about as long as BERT-Base's of 32
VIT_BATCH_SIZE = 16  # DeiT-B: 16 images of 224 pixels (197 tokens each), about as long as BERT-Base's 32
LLAMA_BATCH_SIZE = 4  # SmolLM2-360M shapes (~315M parameters without the embeddings): 4 x 128 on 2 cores
SEQ_LEN = 128
MLM_PROBABILITY = 0.15
SEED = 0
LEARNING_RATE = 2e-4
WEIGHT_DECAY = 0.01
WARMUP = 1  # untimed steps of each, the first under FlopCounterMode
STEPS = 3  # timed steps of each, alternating
OPERATOR_REPEATS = 2  # separate timings of operator() forward and backward
MEMORY_STEPS = 2
PAPER_BATCH = 64  # sequences of 128 per GPU in the paper's BERT recipe (configs/bert_wiki.txt)
VIT_PAPER_BATCH = 128  # images per GPU in DeiT's recipe: 1024 over 8 GPUs
OPTIONS = dict(depth_scheme="stackbert_noisy", width_scheme="rand", tie=True, tune_depth=True, tune_width=True)


# --- The two steps ----------------------------------------------------------------------


def llama_config(name: str):
    from ligo.models.families import check_config, family_of

    config = family_of("llama").config_class(**LLAMA_CONFIGS[name], vocab_size=VOCAB_SIZE)
    check_config(config, name)  # as load_config does: head counts the layout holds, no biases
    return config


def configs(family: str = "bert"):
    from ligo.models.loading import load_config

    small_config, large_config, _ = FAMILIES[family]
    if family == "llama":
        small, large = llama_config(small_config), llama_config(large_config)
    else:
        small, large = load_config(family, str(small_config)), load_config(family, str(large_config))
    if family == "vit":
        return small, large
    small.vocab_size = large.vocab_size = VOCAB_SIZE
    if family in ("gpt2", "llama"):
        small.bos_token_id = small.eos_token_id = large.bos_token_id = large.eos_token_id = 0
    return small, large


def make_batch(batch_size: int, family: str = "bert") -> dict:
    import torch

    generator = torch.Generator().manual_seed(SEED)
    if family == "vit":  # random images and classes; hard labels: Hugging Face's own loss in both steps
        return {"pixel_values": torch.randn(batch_size, 3, 224, 224, generator=generator),
                "labels": torch.randint(0, 1000, (batch_size,), generator=generator)}
    input_ids = torch.randint(5, VOCAB_SIZE, (batch_size, SEQ_LEN), generator=generator)
    if family in ("gpt2", "llama"):  # causal LM: every token is a label (the model shifts them)
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": input_ids}
    masked = torch.rand(batch_size, SEQ_LEN, generator=generator) < MLM_PROBABILITY
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids),
            "token_type_ids": torch.zeros_like(input_ids), "labels": torch.where(masked, input_ids, -100)}


def build_plain(large):
    """THE BASELINE: the large model itself and AdamW over all its parameters."""
    import torch

    from ligo.models.loading import new_model

    model = new_model(large.model_type, large, SEED).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    return model, optimizer


def build_operator(small, large):
    """OURS: the LiGO operator, the large model as its function, AdamW over what it learns."""
    import torch

    from ligo.growth.grown_model import GrownModel
    from ligo.growth.operator import LiGOOperator, LiGOOptions
    from ligo.models.loading import new_model

    small_model = new_model(small.model_type, small, SEED)
    operator = LiGOOperator(small_model.state_dict(), small, large, LiGOOptions(**OPTIONS), seed=SEED)
    del small_model  # the operator holds its own copy of the small weights
    model = GrownModel(operator, large).train()
    if any(not p.is_meta for p in model.large.parameters()):
        raise RuntimeError("GrownModel built a real large model")
    optimizer = torch.optim.AdamW([p for p in operator.parameters() if p.requires_grad], lr=LEARNING_RATE,
                                  weight_decay=WEIGHT_DECAY)
    return model, optimizer


def pretraining_class(family: str) -> str:
    from ligo.models.families import family_of

    return family_of(family).pretraining_class.__name__


class Laps:
    """A step's phases timed in turn: ``lap()`` ends one; ``seconds()`` lists them."""

    def __init__(self):
        self.marks = [time.perf_counter()]

    def lap(self):
        self.marks.append(time.perf_counter())

    def seconds(self) -> list[float]:
        return [b - a for a, b in zip(self.marks, self.marks[1:])]


def optimizer_step(optimizer, laps: Laps) -> list[float]:
    """The step's last phase, AdamW's update with zero_grad; the seconds of every phase."""
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    laps.lap()
    return laps.seconds()


def train_step(model, optimizer, batch) -> list[float]:
    """One step; the seconds of its forward, backward and optimizer step (with zero_grad)."""
    laps = Laps()
    loss = model(**batch).loss
    laps.lap()
    loss.backward()
    laps.lap()
    return optimizer_step(optimizer, laps)


def proc_status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


# --- The child processes ----------------------------------------------------------------


def timing_child(family: str, batch_size: int) -> dict:
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    keep_freed_memory()  # as our training runs do (ligo/training/session.py), for both steps
    torch.manual_seed(SEED)
    small, large = configs(family)
    batch = make_batch(batch_size, family)
    variants = {"plain": build_plain(large), "operator": build_operator(small, large)}
    flops, phases = {}, {name: [] for name in variants}
    for warmup in range(WARMUP):
        for name, (model, optimizer) in variants.items():
            if warmup == 0:
                with FlopCounterMode(display=False) as counter:
                    train_step(model, optimizer, batch)
                flops[name] = counter.get_total_flops()
            else:
                train_step(model, optimizer, batch)
    for step in range(STEPS):
        order = list(variants) if step % 2 == 0 else list(variants)[::-1]
        for name in order:
            phases[name].append(train_step(*variants[name], batch))

    # The operator alone: growing the parameters, and back-propagating dense gradients of them.
    operator = variants["operator"][0].operator
    alone = {"forward": [], "backward": []}
    grads = None
    for _ in range(OPERATOR_REPEATS):
        start = time.perf_counter()
        grown = [t for t in operator().values() if t.requires_grad]
        middle = time.perf_counter()
        grads = grads or [torch.randn_like(t) for t in grown]
        middle_after_setup = time.perf_counter()
        torch.autograd.backward(grown, grads)
        end = time.perf_counter()
        operator.zero_grad(set_to_none=True)
        alone["forward"].append(middle - start)
        alone["backward"].append(end - middle_after_setup)
        del grown
    return {"phases": phases, "alone": alone, "flops": flops, "threads": torch.get_num_threads()}


def release_freed_memory():
    """Hand freed heap memory back to the OS, so that VmRSS counts live memory only."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def memory_child(family: str, variant: str, batch_size: int) -> dict:
    import torch

    keep_freed_memory()  # as our training runs do (ligo/training/session.py), for both steps
    torch.manual_seed(SEED)
    small, large = configs(family)
    batch = make_batch(batch_size, family)
    model, optimizer = build_plain(large) if variant == "plain" else build_operator(small, large)
    release_freed_memory()  # e.g. the small model, whose weights the operator copied
    before = proc_status_kb("VmRSS")
    seconds = [sum(train_step(model, optimizer, batch)) for _ in range(MEMORY_STEPS)]
    return {"before_kb": before, "peak_kb": proc_status_kb("VmHWM"), "seconds": seconds}


def in_fresh_process(*args) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.operator_overhead", *args], cwd=REPO,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bench.operator_overhead {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Measuring --------------------------------------------------------------------------


def run(batch_size: int = BATCH_SIZE, gpt2_batch_size: int = GPT2_BATCH_SIZE,
        vit_batch_size: int = VIT_BATCH_SIZE, llama_batch_size: int = LLAMA_BATCH_SIZE) -> list[dict]:
    return (measure("bert", batch_size) + measure("gpt2", gpt2_batch_size) + measure("vit", vit_batch_size)
            + measure("llama", llama_batch_size))


def config_label(config) -> str:
    """A config file's stem, or the shape of a config built here."""
    if isinstance(config, Path):
        return config.stem
    fields = LLAMA_CONFIGS[config]
    return (f"{fields['num_hidden_layers']}L-{fields['hidden_size']}H ({fields['num_attention_heads']}/"
            f"{fields['num_key_value_heads']} heads, FFN {fields['intermediate_size']})")


def measure(family: str, batch_size: int) -> list[dict]:
    small_config, large_config, pair_name = FAMILIES[family]
    for path in (small_config, large_config):
        if isinstance(path, Path) and not path.is_file():
            raise RuntimeError(f"the benchmark's model config '{path}' is missing")
    load_before = os.getloadavg()[0]
    per_item = "x197 tokens (224-pixel images)" if family == "vit" else f"x{SEQ_LEN}"
    items = "images" if family == "vit" else f"sequences of {SEQ_LEN}"
    paper_batch = VIT_PAPER_BATCH if family == "vit" else PAPER_BATCH
    vocab = "" if family == "vit" else f", vocab {VOCAB_SIZE}"
    shape = f"{config_label(small_config)} -> {config_label(large_config)}{vocab}, batch {batch_size}{per_item}"
    print(f"LiGO operator overhead, {shape}:", flush=True)
    timing = in_fresh_process("timing", family, str(batch_size))
    memory = {name: in_fresh_process("memory", family, name, str(batch_size)) for name in ("plain", "operator")}
    load_after = os.getloadavg()[0]

    phases = timing["phases"]
    steps = {name: [sum(p) for p in ps] for name, ps in phases.items()}
    median = {name: statistics.median(s) for name, s in steps.items()}
    phase = {name: [statistics.median(p[i] for p in ps) for i in range(3)] for name, ps in phases.items()}
    alone = {k: statistics.median(v) for k, v in timing["alone"].items()}
    gflop = {name: f / 1e9 for name, f in timing["flops"].items()}
    for name in steps:
        print(f"  {name}: median {median[name]:.2f} s/step; steps {', '.join(f'{s:.2f}' for s in steps[name])} s; "
              f"forward/backward/optimizer {' / '.join(f'{p:.2f}' for p in phase[name])} s", flush=True)
    print(f"  operator() alone: forward {alone['forward']:.2f} s, backward {alone['backward']:.2f} s", flush=True)

    # Where the extra time goes. The operator step's model forward and backward are the plain
    # step's; the operator adds its own forward and backward and a smaller AdamW (30M, not 88M).
    extra = median["operator"] - median["plain"]
    share = {k: v / median["operator"] for k, v in alone.items()}
    # A linear extrapolation in the batch: the plain forward + backward scale with the tokens,
    # the operator's own cost and the optimizers do not.
    fb, opt = phase["plain"][0] + phase["plain"][1], phase["plain"][2]
    fixed = median["operator"] - fb  # the operator step less the model's forward and backward

    def ratio_at(sequences):
        k = sequences / batch_size
        return (opt + fb * k) / (fixed + fb * k)

    def sequences_for(slowdown):
        return batch_size * (fixed - slowdown * opt) / (fb * (slowdown - 1))

    def timing_figures(name):
        p = phase[name]
        return (f"{median[name]:.2f} s/step (median of {STEPS}; steps {', '.join(f'{s:.2f}' for s in steps[name])} s; "
                f"median forward {p[0]:.2f} / backward {p[1]:.2f} / optimizer {p[2]:.2f} s; "
                f"{gflop[name]:.0f} GFLOP of matmuls a step)")

    time_notes = (
        f"ratio = plain step time / operator step time (higher is better for ours; 1/ratio = the operator step's "
        f"slowdown, {median['operator'] / median['plain']:.2f}x; targets: slowdown <= 1.3x, later 1.15x, i.e. "
        f"ratio >= 0.77, 0.87). {shape} ({pair_name} shapes, dropout as the configs), train mode, "
        f"LiGOOptions({', '.join(f'{k}={v!r}' for k, v in OPTIONS.items())}); ours: GrownModel forward, backward, "
        f"AdamW on the operator's trainable parameters, zero_grad; baseline: {pretraining_class(family)} from the "
        f"same config, "
        f"AdamW on all its parameters; the same batch, one fresh process, {WARMUP} warm-up steps each, {STEPS} "
        f"timed each alternating, {timing['threads']} torch threads, fp32 on CPU. "
        f"Where the extra {extra:.2f} s goes: the operator itself, timed alone, forward (operator()) "
        f"{alone['forward']:.2f} s ({share['forward']:.0%} of the operator step) and backward "
        f"{alone['backward']:.2f} s ({share['backward']:.0%}); it adds {gflop['operator'] - gflop['plain']:.0f} "
        f"GFLOP of matmuls to the model's {gflop['plain']:.0f}: a fixed cost a step, independent of the batch, "
        f"while the model's cost grows with it. Linear extrapolation (not measured): ratio "
        f"{ratio_at(paper_batch):.2f} at {paper_batch}{per_item} a step"
        f"{' (the paper batch per GPU)' if family in ('bert', 'vit') else ''}; slowdown 1.3x from "
        f"~{sequences_for(1.3):.0f} {items}, 1.15x from ~{sequences_for(1.15):.0f}. "
        f"Load average {load_before:.2f} before, {load_after:.2f} after"
    )

    step_mb = {name: (m["peak_kb"] - m["before_kb"]) / 1024 for name, m in memory.items()}

    def memory_figures(name):
        m = memory[name]
        return (f"{step_mb[name]:,.0f} MB for the steps (peak {m['peak_kb'] / 1024:,.0f} MB - "
                f"{m['before_kb'] / 1024:,.0f} MB before the first step); peak {m['peak_kb'] / 1024:,.0f} MB")

    memory_notes = (
        f"ratio = plain step memory / operator step memory (higher is better for ours; 1/ratio = the operator "
        f"step's, {step_mb['operator'] / step_mb['plain']:.2f}x; target <= 1.3x, i.e. ratio >= 0.77). CPU resident "
        f"set size (RSS), each variant alone in a fresh process: VmRSS just before the first step (after "
        f"gc.collect() and malloc_trim), peak VmHWM after {MEMORY_STEPS} steps (the first allocates AdamW's "
        f"state); step memory = peak - before. Peak / peak: "
        f"{memory['plain']['peak_kb'] / memory['operator']['peak_kb']:.2f}x. The operator process never builds a "
        f"real large model: the small weights and width blocks live in the operator, the grown parameters exist "
        f"once per step. {shape}, as the time row"
    )
    pair = f"{pair_name}, batch {batch_size}{per_item}"
    return [
        {"benchmark": f"LiGO operator step time ({pair})", "ratio": median["plain"] / median["operator"],
         "ours": timing_figures("operator"), "baseline": timing_figures("plain"), "notes": time_notes},
        {"benchmark": f"LiGO operator step memory ({pair})", "ratio": step_mb["plain"] / step_mb["operator"],
         "ours": memory_figures("operator"), "baseline": memory_figures("plain"), "notes": memory_notes},
    ]


@exit_on_user_error
def main():
    parser = OneLineParser(prog="python -m bench.operator_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--batch_size", type=int, default=BATCH_SIZE,
                        help=f"BERT: sequences of {SEQ_LEN} a step (default {BATCH_SIZE}; the paper's is {PAPER_BATCH} "
                             "per GPU)")
    parser.add_argument("--gpt2_batch_size", type=int, default=GPT2_BATCH_SIZE,
                        help=f"GPT-2: sequences of {SEQ_LEN} a step (default {GPT2_BATCH_SIZE})")
    parser.add_argument("--vit_batch_size", type=int, default=VIT_BATCH_SIZE,
                        help=f"ViT: images of 224 pixels a step (default {VIT_BATCH_SIZE})")
    parser.add_argument("--llama_batch_size", type=int, default=LLAMA_BATCH_SIZE,
                        help=f"Llama: sequences of {SEQ_LEN} a step (default {LLAMA_BATCH_SIZE})")
    parser.add_argument("--only", choices=list(FAMILIES), help="measure one pair only")
    args = parser.parse_args()
    for flag in ("batch_size", "gpt2_batch_size", "vit_batch_size", "llama_batch_size"):
        if getattr(args, flag) < 1:
            raise UserError(f"--{flag} must be at least 1, got {getattr(args, flag)}")
    batch = {"bert": args.batch_size, "gpt2": args.gpt2_batch_size, "vit": args.vit_batch_size,
             "llama": args.llama_batch_size}
    rows = run(*batch.values()) if args.only is None else measure(args.only, batch[args.only])
    for row in rows:
        print(row)


if __name__ == "__main__":
    # The children: `timing BATCH` and `memory VARIANT BATCH`, each a fresh process.
    if sys.argv[1:2] == ["timing"] and len(sys.argv) == 4:
        print(json.dumps(timing_child(sys.argv[2], int(sys.argv[3]))))
    elif sys.argv[1:2] == ["memory"] and len(sys.argv) == 5 and sys.argv[3] in ("plain", "operator"):
        print(json.dumps(memory_child(sys.argv[2], sys.argv[3], int(sys.argv[4]))))
    else:
        main()
