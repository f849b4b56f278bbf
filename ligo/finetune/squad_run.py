"""What run_squad.py does: check everything, fine-tune every SQuAD version with every seed,
score the dev file with the official metrics, write the results, then fill the model's SQuAD
cells of the results table.

Whatever can be refused (arguments, model, tokenizer, every JSON file, the table, the output
folder) is checked before the first training step, and the table is written only after every
version has finished: a failed run leaves no row. Written to --output_dir:
``seeds/v<version>-seed<N>.json`` (the scores, steps and times) and
``seeds/v<version>-seed<N>.predictions.json`` (``{question id: answer}``, what the official
evaluation scripts read; for v2.0 also ``.null_odds.json``, their --na-prob-file) as each run
finishes, then ``squad_results.json`` (mean, std and per-seed values of every metric).
"""

import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from torch.utils.data import DataLoader
from tqdm import tqdm
from transformers import AutoModelForQuestionAnswering, DataCollatorWithPadding, PreTrainedTokenizerBase, set_seed

from ligo.base import host_memory
from ligo.base.atomic_write import write_json_atomic
from ligo.base.autocast import autocast_for
from ligo.base.output_lock import claim_output_dir
from ligo.data.tokenizer import load_tokenizer
from ligo.finetune.model import (
    check_finetune_head,
    check_max_seq_length,
    check_tokenizer_matches,
    load_with_head,
    resolve_model,
    tokenizer_name,
)
from ligo.finetune.outputs import check_output_dir, clear_output_dir, default_name, pick_device, stats
from ligo.finetune.squad.data import SquadSplit, check_files, read_split
from ligo.finetune.squad.features import eval_features, train_features
from ligo.finetune.squad.metrics import squad_v1, squad_v2
from ligo.finetune.squad.postprocess import predict_answers
from ligo.finetune.table import MD_HEADER, add_results, check_table
from ligo.finetune.train import train_model
from ligo.models.family import QUESTION_ANSWERING

SEEDS_DIR = "seeds"
SUMMARY = "squad_results.json"
RUN_OUTPUTS = (SEEDS_DIR, SUMMARY)  # what --overwrite_output_dir removes; the table stays
# The table's two numbers of each version: the official scripts' F1 and EM.
HEADLINE = {"1.1": ("f1", "exact_match"), "2.0": ("f1", "exact")}


@dataclass
class CheckedRun:
    """Everything a run needs, each part already checked."""
    device: torch.device
    versions: list[str]
    model_path: str
    tokenizer: PreTrainedTokenizerBase
    table: Path
    leftovers: list[str]  # earlier results that --overwrite_output_dir removes
    data: dict  # version -> (train SquadSplit, dev SquadSplit)


def run_squad(args):
    transformers.utils.logging.disable_progress_bar()  # one progress bar: ours
    host_memory.keep_freed_memory()  # no page faults for every step's tensors (ligo/base/host_memory.py)
    run = check_run(args)
    # One run at a time in a folder (ligo/base/output_lock.py), taken once the inputs are
    # checked: a refused input leaves nothing behind.
    lock = claim_output_dir(args.output_dir, "run_squad.py")
    try:
        output_dir = clear_output_dir(args.output_dir, run.leftovers)
        results = {version: run_version(version, run, args, output_dir) for version in run.versions}
        finish(args, run, output_dir, results)
    finally:
        lock.release()


def load_qa_model(path: str):
    return load_with_head(path, AutoModelForQuestionAnswering, "a question-answering model")


def check_run(args) -> CheckedRun:
    device = pick_device(args)
    check_files(args.squad_dir, args.versions)
    model_path, config = resolve_model(args.model_name_or_path)
    check_finetune_head(config, args.model_name_or_path, QUESTION_ANSWERING, "run_squad.py")
    tokenizer_source = tokenizer_name(args.tokenizer_name, model_path)
    tokenizer = load_tokenizer(tokenizer_source)
    check_tokenizer_matches(config, tokenizer, model_path, tokenizer_source)
    check_max_seq_length(config, args.max_seq_length)
    table = Path(args.results_table or Path(args.output_dir) / "squad_table.md")
    check_table(table)
    leftovers = check_output_dir(args, RUN_OUTPUTS, "SQuAD")
    load_qa_model(model_path)  # a broken or foreign checkpoint is refused before anything is written
    data = {version: (read_split(args.squad_dir, version, "train"), read_split(args.squad_dir, version, "dev"))
            for version in args.versions}
    return CheckedRun(device, list(args.versions), model_path, tokenizer, table, leftovers, data)


def run_version(version: str, run: CheckedRun, args, output_dir: Path) -> list[dict]:
    """Every seed of one version; each run's record is saved as soon as it finishes."""
    train, dev = run.data[version]
    features = train_features(train.examples, run.tokenizer, args.max_seq_length, args.doc_stride)
    inputs, windows = eval_features(dev.examples, run.tokenizer, args.max_seq_length, args.doc_stride)
    print(f"SQuAD v{version}: {len(train.examples)} training questions in {len(features)} windows, "
          f"{len(dev.examples)} dev questions in {len(inputs)}")
    runs = []
    for seed in args.seeds:
        record, answers, null_odds = finetune(version, seed, run, features, inputs, windows, dev, args)
        if not runs:
            new = ", ".join(record["new_weights"])
            print(f"SQuAD v{version}: newly initialised (expected when fine-tuning): {new}")
        stem = output_dir / SEEDS_DIR / f"v{version}-seed{seed}"
        write_json_atomic(stem.with_name(stem.name + ".predictions.json"), answers)
        if null_odds:
            write_json_atomic(stem.with_name(stem.name + ".null_odds.json"), null_odds)
        write_json_atomic(stem.with_name(stem.name + ".json"), record)
        f1, em = (record["eval"][name] for name in HEADLINE[version])
        print(f"SQuAD v{version} seed {seed}: F1 {f1:.2f}, EM {em:.2f} ({record['steps']} steps, "
              f"{record['seconds_per_epoch']:.1f} s an epoch)")
        runs.append(record)
    return runs


def finetune(version: str, seed: int, run: CheckedRun, features, inputs, windows, dev: SquadSplit, args):
    """One run: its record (scores in percent), its answers and, for v2.0, each question's null odds."""
    set_seed(seed)  # python, numpy and torch (CPU and CUDA) generators: the head's init, dropout, order
    model, new_weights = load_qa_model(run.model_path)
    model.to(run.device)
    collate = DataCollatorWithPadding(run.tokenizer)
    autocast = autocast_for(args, run.device)
    start = time.perf_counter()
    steps, train_loss = train_model(model, features, collate, args, run.device, autocast, seed,
                                    f"SQuAD v{version} seed {seed}")
    seconds = time.perf_counter() - start
    start_logits, end_logits = predict_logits(model, inputs, collate, args.per_device_eval_batch_size, run.device,
                                              autocast)
    answers, null_odds = predict_answers(dev.examples, windows, start_logits, end_logits, n_best=args.n_best_size,
                                         max_answer_length=args.max_answer_length, with_null=version == "2.0",
                                         null_threshold=args.null_score_diff_threshold)
    scores = squad_v1(dev.dataset, answers) if version == "1.1" else squad_v2(dev.dataset, answers, null_odds)
    epochs = steps / math.ceil(len(features) / args.per_device_train_batch_size)
    record = {"version": version, "seed": seed, "model": run.model_path, "train_questions":
              len(run.data[version][0].examples), "train_windows": len(features), "dev_questions": len(dev.examples),
              "steps": steps, "train_loss": train_loss, "train_seconds": round(seconds, 3),
              "seconds_per_epoch": round(seconds / epochs, 3), "new_weights": new_weights, "eval": scores}
    return record, answers, null_odds


@torch.no_grad()
def predict_logits(model, inputs, collate, batch_size: int, device, autocast) -> tuple[list, list]:
    """Each window's start and end scores over its own tokens (padding cut off)."""
    model.eval()
    starts, ends = [], []
    for batch in tqdm(DataLoader(inputs, batch_size=batch_size, collate_fn=collate), desc="evaluating",
                      unit="batch", leave=False):
        lengths = batch["attention_mask"].sum(dim=1).tolist()
        batch = {name: tensor.to(device, non_blocking=True) for name, tensor in batch.items()}
        with autocast():
            output = model(**batch)
        for row, length in enumerate(lengths):
            starts.append(output.start_logits[row, :length].float().cpu().numpy())
            ends.append(output.end_logits[row, :length].float().cpu().numpy())
    return starts, ends


def summarise(results: dict[str, list[dict]]) -> dict[str, dict]:
    """Per version: mean/std/per-seed values of every metric and the time per epoch."""
    summary = {}
    for version, runs in results.items():
        metrics = {name: stats([run["eval"][name] for run in runs]) for name in runs[0]["eval"]
                   if isinstance(runs[0]["eval"][name], float)}
        summary[version] = {"seeds": [run["seed"] for run in runs], "metrics": metrics,
                            "seconds_per_epoch": stats([run["seconds_per_epoch"] for run in runs])}
    return summary


def finish(args, run: CheckedRun, output_dir: Path, results: dict[str, list[dict]]):
    """The summary, then the table's cells: only once every version has finished."""
    summary = summarise(results)
    name = args.name or default_name(args.model_name_or_path)
    scores = {}
    for version, column in summary.items():
        f1, em = HEADLINE[version]
        scores[f"SQuAD v{version} F1"] = column["metrics"][f1]["mean"]
        scores[f"SQuAD v{version} EM"] = column["metrics"][em]["mean"]
    write_json_atomic(output_dir / SUMMARY, {"name": name, "model": run.model_path, "device": run.device.type,
                                             "versions": summary, "table": str(run.table), "args": vars(args)})
    row = add_results(run.table, name, "SQuAD", scores)
    print(f"{MD_HEADER}\n| {' | '.join(row)} |\nin {run.table}")

