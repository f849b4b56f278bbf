"""Checkpoint save and load: ours against a plain ``save_pretrained`` + ``torch.save``.

- ours, save: ``ligo.training.checkpoint.save_checkpoint`` as the trainer calls it: the model
  (``save_pretrained``, safetensors), the tokenizer, the AdamW and scheduler states, the RNG
  state, the arguments and the trainer state, into a temporary folder renamed into place.
- ours, load: what a resumed run reads: ``latest_checkpoint``, the saved arguments,
  ``load_model`` (``from_pretrained``), the optimizer and scheduler states
  (``load_training_objects``), the trainer and RNG states.
- baseline: ``model.save_pretrained(folder)`` and ``torch.save(optimizer.state_dict())``;
  loaded with ``from_pretrained`` and ``optimizer.load_state_dict(torch.load(...))``.

Both loads build their optimizer the same way (ligo.training.optim, as the trainer), so only the I/O
differs. The state: a randomly initialised model and AdamW after one step (its two moments
filled). Each size in one fresh process: one untimed save and load of each, then REPEATS of
each, alternating, each into a fresh folder of a temporary directory (not fsynced, so a load
reads the page cache: the figures are the CPU cost of the formats, not the disk's speed); the
medians are compared, and each load must give back the saved weights.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from ligo.base.errors import UserError

REPO = Path(__file__).resolve().parents[1]
TOKENIZER = REPO / "data/tokenizers/bert-sample-uncased"
# The mini Table 1's large model, and BERT-Base (its full vocabulary: a real checkpoint's size)
MODEL_CONFIGS = [REPO / "configs/bert-mini-4L-256H.json", REPO / "configs/bert-12L-768H.json"]
SEED = 0
REPEATS = 3
ARGS = SimpleNamespace(model_type="bert", learning_rate=1e-3, adam_epsilon=1e-6, weight_decay=0.1, max_steps=100,
                       warmup_steps=10, warmup_ratio=0.0, scheduler_type="linear", seed=SEED)


def check_data():
    for path in [TOKENIZER / "tokenizer.json", *MODEL_CONFIGS]:
        if not path.is_file():
            raise UserError(f"the benchmark's file '{path}' is missing; run `make mini` first")


def new_optimizer(model):
    """AdamW and its schedule as the trainer builds them."""
    import torch

    from ligo.training.optim import build_optimizer, build_scheduler, parameter_groups

    optimizer = build_optimizer(parameter_groups(model.named_parameters(), ARGS.weight_decay), ARGS.learning_rate,
                                ARGS.adam_epsilon, torch.device("cpu"))
    return optimizer, build_scheduler(optimizer, ARGS)


def training_state(config_path: Path):
    """A model, and AdamW and its schedule after one step (gradients made up: no data needed)."""
    import torch

    from ligo.models.loading import load_config, new_model

    model = new_model("bert", load_config("bert", str(config_path)), SEED)
    optimizer, scheduler = new_optimizer(model)
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e-3)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return model, optimizer, scheduler


# --- Ours ---------------------------------------------------------------------------------------


def ours_save(folder: Path, model, optimizer, scheduler, tokenizer):
    import dataclasses

    import torch

    from ligo.training import checkpoint
    from ligo.training.trainer import TrainerState

    checkpoint.save_checkpoint(folder, 1, model.save_pretrained, tokenizer,
                               {"optimizer": optimizer, "scheduler": scheduler},
                               [checkpoint.rng_state(torch.device("cpu"))], dataclasses.asdict(TrainerState(step=1)),
                               ARGS)


def ours_load(folder: Path):
    import torch

    from ligo.models.loading import load_model
    from ligo.training import checkpoint

    latest = checkpoint.latest_checkpoint(folder)
    checkpoint.load_saved_args(latest)
    model = load_model("bert", str(latest))
    optimizer, scheduler = new_optimizer(model)
    checkpoint.load_training_objects(latest, {"optimizer": optimizer, "scheduler": scheduler})
    checkpoint.load_trainer_state(latest)
    checkpoint.restore_rng_state(checkpoint.load_rng_state(latest, 0, 1), torch.device("cpu"))
    return model, optimizer


# --- The baseline -----------------------------------------------------------------------------


def baseline_save(folder: Path, model, optimizer, scheduler, tokenizer):
    import torch

    model.save_pretrained(str(folder))
    torch.save(optimizer.state_dict(), folder / "optimizer.pt")


def baseline_load(folder: Path):
    import torch
    from transformers import BertForMaskedLM

    model = BertForMaskedLM.from_pretrained(str(folder))
    optimizer, _ = new_optimizer(model)
    optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
    return model, optimizer


# --- The child process --------------------------------------------------------------------------


def same_state(saved, loaded) -> bool:
    import torch

    (model, optimizer), (model2, optimizer2) = saved, loaded
    weights = model2.state_dict()
    moments = [s["exp_avg"] for s in optimizer2.state.values()]
    return (all(torch.equal(t, weights[name]) for name, t in model.state_dict().items())
            and len(moments) == len(optimizer.state)
            and sum(float(m.abs().sum()) for m in moments) > 0)


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6


def timing_child(config_path: Path) -> dict:
    import torch

    from ligo.data.tokenizer import load_tokenizer

    tokenizer = load_tokenizer(str(TOKENIZER))
    model, optimizer, scheduler = training_state(config_path)
    variants = {"ours": (ours_save, ours_load), "baseline": (baseline_save, baseline_load)}
    times = {name: {"save": [], "load": []} for name in variants}
    mb = {}
    with tempfile.TemporaryDirectory(prefix="bench-ckpt-") as tmp:
        for repeat in range(1 + REPEATS):  # the first, untimed
            for name in list(variants) if repeat % 2 == 0 else list(variants)[::-1]:
                save, load = variants[name]
                folder = Path(tmp) / name
                folder.mkdir()
                start = time.perf_counter()
                save(folder, model, optimizer, scheduler, tokenizer)
                middle = time.perf_counter()
                loaded = load(folder)
                end = time.perf_counter()
                if repeat == 0 and not same_state((model, optimizer), loaded):
                    raise RuntimeError(f"{name}: the loaded checkpoint differs from the saved state")
                if repeat:
                    times[name]["save"].append(middle - start)
                    times[name]["load"].append(end - middle)
                mb[name] = folder_mb(folder)
                del loaded
                shutil.rmtree(folder)
    parameters = sum(p.numel() for p in model.parameters())
    return {"times": times, "mb": mb, "parameters": parameters, "threads": torch.get_num_threads()}


def in_fresh_process(config_path: Path) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.checkpoint_io", "timing", str(config_path)], cwd=REPO,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bench.checkpoint_io timing {config_path.name} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- Measuring --------------------------------------------------------------------------------


def row(config_path: Path, m: dict, load_before: float) -> dict:
    median = {name: {op: statistics.median(s) for op, s in ops.items()} for name, ops in m["times"].items()}
    total = {name: ops["save"] + ops["load"] for name, ops in median.items()}

    def figures(name):
        t = m["times"][name]
        return (f"save {median[name]['save']:.3f} s + load {median[name]['load']:.3f} s = {total[name]:.3f} s, "
                f"{m['mb'][name]:,.2f} MB (medians of {REPEATS}; saves {', '.join(f'{s:.3f}' for s in t['save'])} "
                f"s, loads {', '.join(f'{s:.3f}' for s in t['load'])} s)")

    alone = {op: median["baseline"][op] / median["ours"][op] for op in ("save", "load")}
    notes = (
        f"ratio = baseline (save + load) time / ours; save alone {alone['save']:.2f}x, "
        f"load alone {alone['load']:.2f}x. Ours: ligo.training.checkpoint.save_checkpoint "
        f"(atomic; model, tokenizer, AdamW, scheduler, RNG, args, trainer state) and what a resume loads; baseline: "
        f"save_pretrained + torch.save(optimizer.state_dict()) and their loads. {config_path.stem}, "
        f"{m['parameters'] / 1e6:.1f}M parameters, fp32, AdamW after one step; both loads rebuild AdamW the same "
        f"way. One fresh process, 1 untimed round, {REPEATS} alternating, each into a fresh folder (page cache, "
        f"no fsync), {m['threads']} torch threads. Load average {load_before:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after"
    )
    return {"benchmark": f"checkpoint save + load ({config_path.stem})", "ratio": total["baseline"] / total["ours"],
            "ours": figures("ours"), "baseline": figures("baseline"), "notes": notes}


def run() -> list[dict]:
    check_data()
    rows = []
    for config_path in MODEL_CONFIGS:
        print(f"checkpoint save + load, {config_path.stem}:", flush=True)
        load_before = os.getloadavg()[0]
        rows.append(row(config_path, in_fresh_process(config_path), load_before))
        print(f"  ours: {rows[-1]['ours']}\n  baseline: {rows[-1]['baseline']}", flush=True)
    return rows


if __name__ == "__main__":
    if sys.argv[1:2] == ["timing"] and len(sys.argv) == 3:
        print(json.dumps(timing_child(Path(sys.argv[2]))))
    else:
        for r in run():
            print(r)
