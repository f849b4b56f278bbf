"""The GLUE tasks as the benchmark's download script lays them out: one folder per task
holding ``train.tsv`` and ``dev.tsv`` (MNLI: ``dev_matched.tsv`` and ``dev_mismatched.tsv``).

Columns are found by the names in each file's header row, so MNLI's train (12 columns) and
dev files (16 columns) need no separate indices; CoLA has no header and gets its names
here. Each table column is one evaluation file with its official metrics (as the GLUE
paper and Hugging Face's run_glue) and the headline metric the GLUE table shows: Matthews
correlation for CoLA, F1 for MRPC and QQP, Spearman correlation for STS-B, accuracy for
the rest.
"""

from dataclasses import dataclass

from ligo.base.errors import UserError


@dataclass(frozen=True)
class EvalColumn:
    label: str  # the table column, e.g. "MNLI-m"
    file: str  # the evaluation file in the task folder
    headline: str  # the metric shown in the table


@dataclass(frozen=True)
class GlueTask:
    key: str  # as given to --tasks
    folder: str
    text_a: str
    text_b: str | None
    label: str
    labels: tuple[str, ...] | None  # class names in label-id order; None: regression
    metrics: tuple[str, ...]
    columns: tuple[EvalColumn, ...]
    header: tuple[str, ...] | None = None  # column names of a file without a header row
    skip_short_rows: bool = False  # GLUE's own files have a few such rows

    @property
    def num_labels(self) -> int:
        return len(self.labels) if self.labels else 1

    @property
    def is_regression(self) -> bool:
        return self.labels is None


BINARY = ("0", "1")
ENTAILMENT = ("entailment", "not_entailment")


def _dev(label: str, headline: str) -> tuple[EvalColumn, ...]:
    return (EvalColumn(label, "dev.tsv", headline),)


TASKS = {task.key: task for task in [
    GlueTask("cola", "CoLA", "sentence", None, "label", BINARY, ("mcc",), _dev("CoLA", "mcc"),
             header=("source", "label", "author_label", "sentence")),
    GlueTask("sst2", "SST-2", "sentence", None, "label", BINARY, ("acc",), _dev("SST-2", "acc")),
    GlueTask("mrpc", "MRPC", "#1 String", "#2 String", "Quality", BINARY, ("f1", "acc"), _dev("MRPC", "f1")),
    GlueTask("stsb", "STS-B", "sentence1", "sentence2", "score", None, ("pearson", "spearman"),
             _dev("STS-B", "spearman")),
    # Older GLUE copies of QQP hold a few rows cut short by stray newlines; Hugging Face's
    # processors skipped them too.
    GlueTask("qqp", "QQP", "question1", "question2", "is_duplicate", BINARY, ("acc", "f1"), _dev("QQP", "f1"),
             skip_short_rows=True),
    GlueTask("mnli", "MNLI", "sentence1", "sentence2", "gold_label", ("contradiction", "entailment", "neutral"),
             ("acc",), (EvalColumn("MNLI-m", "dev_matched.tsv", "acc"),
                        EvalColumn("MNLI-mm", "dev_mismatched.tsv", "acc"))),
    GlueTask("qnli", "QNLI", "question", "sentence", "label", ENTAILMENT, ("acc",), _dev("QNLI", "acc")),
    GlueTask("rte", "RTE", "sentence1", "sentence2", "label", ENTAILMENT, ("acc",), _dev("RTE", "acc")),
]}

# The GLUE table's columns, in the benchmark's order.
TABLE_COLUMNS = tuple(column for task in TASKS.values() for column in task.columns)


def _normalise(name: str) -> str:
    return name.lower().replace("-", "").replace("_", "")


def get_tasks(names: list[str]) -> list[GlueTask]:
    """The tasks named on the command line: keys (sst2) or folder names (SST-2), any case."""
    by_name = {_normalise(name): task for task in TASKS.values() for name in (task.key, task.folder)}
    tasks = []
    for name in names:
        task = by_name.get(_normalise(name))
        if task is None:
            raise UserError(f"--tasks: unknown GLUE task '{name}'; choose from {' '.join(TASKS)}")
        if task in tasks:
            raise UserError(f"--tasks: '{name}' is given twice; name each task once")
        tasks.append(task)
    return tasks
