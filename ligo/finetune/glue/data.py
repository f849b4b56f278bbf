"""A GLUE task's TSV files read into examples (malformed files refused with the file and
line named) and tokenised for ``DataCollatorWithPadding``.

Files are read with ``csv.QUOTE_NONE``: GLUE sentences hold stray quote characters that
must stay text. ``utf-8-sig`` drops the byte-order mark that MRPC's train.tsv starts with.
"""

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import UserError
from ligo.finetune.glue.tasks import GlueTask

TRAIN_FILE = "train.tsv"


@dataclass(slots=True)
class Example:
    text_a: str
    text_b: str | None
    label: int | float  # class id, or the score of a regression task


@dataclass
class TaskData:
    train: list[Example]
    evals: dict[str, list[Example]]  # table column label -> its evaluation examples
    skipped_rows: int  # short rows skipped where the task tolerates them (QQP)


def task_files(task: GlueTask, glue_dir) -> list[Path]:
    """The task's train and evaluation files; a UserError names the first one missing."""
    folder = Path(glue_dir) / task.folder
    names = [TRAIN_FILE] + [column.file for column in task.columns]
    if not folder.is_dir():
        raise UserError(f"GLUE task folder '{folder}' does not exist; put the GLUE benchmark's {task.folder} folder "
                        f"({', '.join(names)}) in --glue_dir or leave {task.key} out of --tasks")
    for name in names:
        if not (folder / name).is_file():
            raise UserError(f"'{folder / name}' is missing; the {task.folder} folder needs {', '.join(names)} "
                            "as the GLUE download lays them out")
    return [folder / name for name in names]


def read_task(task: GlueTask, glue_dir) -> TaskData:
    train_path, *eval_paths = task_files(task, glue_dir)
    train, skipped = read_split(task, train_path)
    evals = {}
    for column, path in zip(task.columns, eval_paths):
        evals[column.label], more = read_split(task, path)
        skipped += more
    return TaskData(train, evals, skipped)


def read_split(task: GlueTask, path: Path) -> tuple[list[Example], int]:
    """The examples of one file and the number of short rows skipped (tolerated tasks only)."""
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = list(task.header) if task.header else next(rows, None)
        if header is None:
            raise UserError(f"'{path}' is empty; replace it with the GLUE benchmark's {task.folder}/{path.name}")
        columns = _column_indices(task, header, path)
        examples, skipped = [], 0
        for row in rows:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                if task.skip_short_rows and len(row) < len(header):
                    skipped += 1
                    continue
                raise UserError(f"'{path}' line {rows.line_num} has {len(row)} tab-separated columns, expected "
                                f"{len(header)} ({', '.join(header)}); fix or remove that line")
            examples.append(_example(task, row, columns, path, rows.line_num))
    if not examples:
        raise UserError(f"'{path}' holds no examples; replace it with the GLUE benchmark's {task.folder}/{path.name}")
    return examples, skipped


def _column_indices(task: GlueTask, header: list[str], path: Path) -> tuple[int, int | None, int]:
    wanted = [task.text_a, task.text_b, task.label]
    missing = [name for name in wanted if name is not None and name not in header]
    if missing:
        raise UserError(f"'{path}' has no column '{missing[0]}' in its header ({', '.join(header)}); "
                        f"is it the GLUE benchmark's {task.folder}/{path.name}?")
    return tuple(header.index(name) if name is not None else None for name in wanted)


def _example(task: GlueTask, row: list[str], columns, path: Path, line: int) -> Example:
    a, b, label = columns
    return Example(row[a], row[b] if b is not None else None, _label(task, row[label], path, line))


def _label(task: GlueTask, value: str, path: Path, line: int) -> int | float:
    if task.is_regression:
        try:
            score = float(value)
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise UserError(f"'{path}' line {line}: score '{value}' is not a number; fix that line")
        return score
    if value not in task.labels:
        raise UserError(f"'{path}' line {line}: label '{value}' is not one of {', '.join(task.labels)}; "
                        "fix that line")
    return task.labels.index(value)


def tokenize(examples: list[Example], tokenizer, max_length: int) -> list[dict]:
    """One feature dict per example (unpadded; the collator pads each batch)."""
    pairs = examples[0].text_b is not None
    encoded = tokenizer([e.text_a for e in examples], [e.text_b for e in examples] if pairs else None,
                        truncation=True, max_length=max_length)
    keys = list(encoded.keys())
    return [{**{key: encoded[key][i] for key in keys}, "labels": e.label} for i, e in enumerate(examples)]
