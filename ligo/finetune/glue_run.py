"""What run_glue.py does: check everything, fine-tune every task with every seed, write the
results, then fill the model's GLUE cells of the results table.

Whatever can be refused (arguments, model, tokenizer, every TSV file, the table, the
output folder) is checked before the first training step, and the table row is appended
only after every task has finished: a failed run leaves no row. Written to --output_dir:
``seeds/<task>-seed<N>.json`` as each run finishes, then ``glue_results.json`` (mean, std
and per-seed values of every metric, the arguments and the table path).
"""

from dataclasses import dataclass
from pathlib import Path

import torch
import transformers
from transformers import PreTrainedTokenizerBase

from ligo.base import host_memory
from ligo.base.atomic_write import write_json_atomic
from ligo.base.output_lock import claim_output_dir
from ligo.data.tokenizer import load_tokenizer
from ligo.finetune.glue.data import read_task, tokenize
from ligo.finetune.glue.finetune import finetune
from ligo.finetune.glue.model import load_classifier
from ligo.finetune.glue.tasks import GlueTask, get_tasks
from ligo.finetune.model import (
    check_finetune_head,
    check_max_seq_length,
    check_tokenizer_matches,
    resolve_model,
    tokenizer_name,
)
from ligo.finetune.outputs import check_output_dir, clear_output_dir, default_name, pick_device, stats
from ligo.finetune.table import MD_HEADER, add_results, check_table
from ligo.models.family import SEQUENCE_CLASSIFICATION

SEEDS_DIR = "seeds"
SUMMARY = "glue_results.json"
RUN_OUTPUTS = (SEEDS_DIR, SUMMARY)  # what --overwrite_output_dir removes; the table stays


@dataclass
class CheckedRun:
    """Everything a run needs, each part already checked."""
    device: torch.device
    tasks: list[GlueTask]
    model_path: str
    tokenizer: PreTrainedTokenizerBase
    table: Path
    leftovers: list[str]  # earlier results that --overwrite_output_dir removes
    data: dict  # task key -> TaskData


def run_glue(args):
    transformers.utils.logging.disable_progress_bar()  # one progress bar: ours
    host_memory.keep_freed_memory()  # no page faults for every step's tensors (ligo/base/host_memory.py)
    run = check_run(args)
    # One run at a time in a folder (ligo/base/output_lock.py), taken once the inputs are
    # checked: a refused input leaves nothing behind.
    lock = claim_output_dir(args.output_dir, "run_glue.py")
    try:
        output_dir = clear_output_dir(args.output_dir, run.leftovers)
        results = {task.key: run_task(task, run.data.pop(task.key), run.model_path, run.tokenizer, args, run.device,
                                      output_dir) for task in run.tasks}
        finish(args, run, output_dir, results)
    finally:
        lock.release()


def check_run(args) -> CheckedRun:
    device = pick_device(args)
    tasks = get_tasks(args.tasks)
    model_path, config = resolve_model(args.model_name_or_path)
    check_finetune_head(config, args.model_name_or_path, SEQUENCE_CLASSIFICATION, "run_glue.py")
    tokenizer_source = tokenizer_name(args.tokenizer_name, model_path)
    tokenizer = load_tokenizer(tokenizer_source)
    check_tokenizer_matches(config, tokenizer, model_path, tokenizer_source)
    check_max_seq_length(config, args.max_seq_length)
    table = Path(args.results_table or Path(args.output_dir) / "glue_table.md")
    check_table(table)
    leftovers = check_output_dir(args, RUN_OUTPUTS, "GLUE")
    load_classifier(model_path, tasks[0])  # a broken or foreign checkpoint is refused before anything is written
    data = {task.key: read_task(task, args.glue_dir) for task in tasks}
    return CheckedRun(device, tasks, model_path, tokenizer, table, leftovers, data)


def finish(args, run: CheckedRun, output_dir: Path, results: dict[str, list[dict]]):
    """The summary, then the table row: only once every task has finished."""
    columns = summarise(run.tasks, results)
    name = args.name or default_name(args.model_name_or_path)
    scores = {label: 100 * column["metrics"][column["headline"]]["mean"] for label, column in columns.items()}
    write_json_atomic(output_dir / SUMMARY, {"name": name, "model": run.model_path, "device": run.device.type,
                                             "columns": columns, "table": str(run.table), "args": vars(args)})
    row = add_results(run.table, name, "GLUE", scores)
    print(f"{MD_HEADER}\n| {' | '.join(row)} |\nin {run.table}")


def run_task(task: GlueTask, data, model_path: str, tokenizer, args, device, output_dir: Path) -> list[dict]:
    """Every seed of one task; each run's record is saved as soon as it finishes."""
    if data.skipped_rows:
        print(f"{task.folder}: skipped {data.skipped_rows} rows with missing columns (known in GLUE's QQP files)")
    train = tokenize(data.train, tokenizer, args.max_seq_length)
    evals = {label: tokenize(examples, tokenizer, args.max_seq_length) for label, examples in data.evals.items()}
    runs = []
    for seed in args.seeds:
        run = finetune(task, seed, model_path, tokenizer, train, evals, args, device)
        if not runs:
            print(f"{task.key}: newly initialised (expected when fine-tuning): {', '.join(run['new_weights'])}")
        write_json_atomic(output_dir / SEEDS_DIR / f"{task.key}-seed{seed}.json", run)
        scores = ", ".join(f"{label} {name} {value:.4f}" for label, metrics in run["eval"].items()
                           for name, value in metrics.items() if name != "examples")
        print(f"{task.key} seed {seed}: {scores} ({run['steps']} steps, {run['train_seconds']:.1f} s)")
        runs.append(run)
    return runs


def summarise(tasks: list[GlueTask], results: dict[str, list[dict]]) -> dict[str, dict]:
    """Per table column: its headline metric and mean/std/per-seed values of every metric."""
    columns = {}
    for task in tasks:
        runs = results[task.key]
        for column in task.columns:
            metrics = {name: stats([run["eval"][column.label][name] for run in runs]) for name in task.metrics}
            columns[column.label] = {"task": task.key, "headline": column.headline, "seeds": [r["seed"] for r in runs],
                                     "metrics": metrics}
    return columns
