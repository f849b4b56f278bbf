"""The GLUE table, shaped like the paper's: one row per fine-tuned model, one column per
evaluation set with its headline metric (x100, one decimal, mean over seeds) and Avg, the
mean of the numbers shown in the row. A task that was not run shows '-' and does not count
in Avg. Kept as Markdown and as CSV beside it (same stem); a row is only ever added
whole, by rewriting the file and renaming it into place."""

import csv
import io
from pathlib import Path

from ligo.atomic_write import write_text_atomic
from ligo.errors import UserError
from ligo.finetune.glue.tasks import TABLE_COLUMNS

METRIC_NAMES = {"acc": "Acc", "f1": "F1", "mcc": "MCC", "pearson": "Pearson", "spearman": "Spearman"}
MODEL, AVG, MISSING = "Model", "Avg", "-"


def csv_path(md_path) -> Path:
    return Path(md_path).with_suffix(".csv")


def csv_header() -> list[str]:
    return [MODEL, *(column.label for column in TABLE_COLUMNS), AVG]


def _md_line(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _csv_line(cells) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


MD_HEADER = _md_line([MODEL, *(f"{c.label} ({METRIC_NAMES[c.headline]})" for c in TABLE_COLUMNS), AVG])
MD_RULE = _md_line(["---"] + ["---:"] * (len(TABLE_COLUMNS) + 1))
CSV_HEADER = _csv_line(csv_header())


def check_table(md_path):
    """Refuse, before any training, a table path this run could not append to."""
    md = Path(md_path)
    if md.suffix != ".md":
        raise UserError(f"--results_table '{md}' must end in .md (its .csv twin is written beside it)")
    for path, header in ((md, MD_HEADER), (csv_path(md), CSV_HEADER)):
        if path.is_dir():
            raise UserError(f"--results_table: '{path}' is a folder; pass a file path ending in .md")
        if path.exists() and path.read_text(encoding="utf-8").splitlines()[:1] != [header]:
            raise UserError(f"'{path}' is not a GLUE table with this project's columns (its header differs); "
                            "pass another --results_table or move that file away")


def table_row(name: str, scores: dict[str, float]) -> list[str]:
    """``scores`` maps a column label (``MNLI-m``) to its headline metric as a fraction."""
    shown = {label: round(100 * value, 1) for label, value in scores.items()}
    average = sum(shown.values()) / len(shown)
    cells = [f"{shown[column.label]:.1f}" if column.label in shown else MISSING for column in TABLE_COLUMNS]
    return [name, *cells, f"{average:.1f}"]


def append_row(md_path, name: str, scores: dict[str, float]) -> list[str]:
    row = table_row(name, scores)
    _append(Path(md_path), [MD_HEADER, MD_RULE], _md_line(row))
    _append(csv_path(md_path), [CSV_HEADER], _csv_line(row))
    return row


def _append(path: Path, header_lines: list[str], line: str):
    text = path.read_text(encoding="utf-8") if path.exists() else "".join(h + "\n" for h in header_lines)
    if not text.endswith("\n"):
        text += "\n"
    write_text_atomic(path, text + line + "\n")
