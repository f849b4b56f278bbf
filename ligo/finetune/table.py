"""The results table, shaped like the paper's Table 1: one row per fine-tuned model; a column
per GLUE evaluation set with its headline metric and SQuAD v1.1 and v2.0 as F1/EM, then the
GLUE average and the SQuAD average (F1/EM over both versions). Numbers are percentages with
one decimal, means over seeds; a benchmark not run shows '-'. GLUE Avg is the mean of the GLUE
numbers shown in the row; SQuAD Avg needs both versions.

run_glue.py and run_squad.py each fill their own cells: of the model's row (its --name) whose
cells of that benchmark are still empty, else of a new row, so a model fine-tuned on both gets
one row and nothing is ever overwritten. Kept as Markdown and as CSV beside it (same stem, the
one read back); both are rewritten whole and renamed into place."""

import csv
import io
import statistics
from pathlib import Path

from ligo.base.atomic_write import write_text_atomic
from ligo.base.errors import UserError
from ligo.finetune.glue.tasks import TABLE_COLUMNS

METRIC_NAMES = {"acc": "Acc", "f1": "F1", "mcc": "MCC", "pearson": "Pearson", "spearman": "Spearman"}
MODEL, MISSING = "Model", "-"
GLUE_AVG = "GLUE Avg"
SQUAD_VERSIONS = ("1.1", "2.0")
GLUE_LABELS = tuple(column.label for column in TABLE_COLUMNS)
SQUAD_LABELS = tuple(f"SQuAD v{version} {metric}" for version in SQUAD_VERSIONS for metric in ("F1", "EM"))
SQUAD_AVG = ("SQuAD Avg F1", "SQuAD Avg EM")
BENCHMARKS = {"GLUE": GLUE_LABELS, "SQuAD": SQUAD_LABELS}
# Tables written before SQuAD joined: their rows are read and the new columns added.
LEGACY_CSV_HEADER = [MODEL, *GLUE_LABELS, "Avg"]


def csv_path(md_path) -> Path:
    return Path(md_path).with_suffix(".csv")


def csv_header() -> list[str]:
    return [MODEL, *GLUE_LABELS, *SQUAD_LABELS, GLUE_AVG, *SQUAD_AVG]


def _md_line(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _csv_line(cells) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(cells)
    return buffer.getvalue()


MD_HEADER = _md_line([MODEL, *(f"{c.label} ({METRIC_NAMES[c.headline]})" for c in TABLE_COLUMNS),
                      *(f"SQuAD v{version} (F1/EM)" for version in SQUAD_VERSIONS), GLUE_AVG, "SQuAD Avg (F1/EM)"])
MD_RULE = _md_line(["---"] + ["---:"] * (len(GLUE_LABELS) + len(SQUAD_VERSIONS) + 2))
CSV_HEADER = _csv_line(csv_header())


def check_table(md_path):
    """Refuse, before any training, a table path this run could not add to."""
    md = Path(md_path)
    if md.suffix != ".md":
        raise UserError(f"--results_table '{md}' must end in .md (its .csv twin is written beside it)")
    for path in (md, csv_path(md)):
        if path.is_dir():
            raise UserError(f"--results_table: '{path}' is a folder; pass a file path ending in .md")
    if md.exists() and not csv_path(md).exists():
        raise UserError(f"'{md}' has no '{csv_path(md).name}' beside it, which holds its rows; pass another "
                        "--results_table or move that file away")
    _read_rows(md)


def _read_rows(md: Path) -> list[dict[str, str]]:
    path = csv_path(md)
    if not path.exists():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header not in (csv_header(), LEGACY_CSV_HEADER):
            raise UserError(f"'{path}' is not a results table with this project's columns (its header differs); "
                            "pass another --results_table or move that file away")
        return [{label: cell for label, cell in zip(header, cells) if label in csv_header()} for cells in reader]


def _shown(value: float) -> str:
    return f"{value:.1f}"


def _numbers(row: dict, labels) -> list[float]:
    return [float(row[label]) for label in labels if row.get(label, MISSING) != MISSING]


def _complete(row: dict) -> dict[str, str]:
    """Every column, the averages recomputed from the numbers shown."""
    row = {label: row.get(label, MISSING) for label in [MODEL, *GLUE_LABELS, *SQUAD_LABELS]}
    glue = _numbers(row, GLUE_LABELS)
    row[GLUE_AVG] = _shown(statistics.fmean(glue)) if glue else MISSING
    for average, metric in zip(SQUAD_AVG, ("F1", "EM")):
        values = _numbers(row, [f"SQuAD v{version} {metric}" for version in SQUAD_VERSIONS])
        row[average] = _shown(statistics.fmean(values)) if len(values) == len(SQUAD_VERSIONS) else MISSING
    return row


def _md_cells(row: dict) -> list[str]:
    pairs = [f"{row[f'SQuAD v{v} F1']}/{row[f'SQuAD v{v} EM']}" if row[f"SQuAD v{v} F1"] != MISSING else MISSING
             for v in SQUAD_VERSIONS]
    average = f"{row[SQUAD_AVG[0]]}/{row[SQUAD_AVG[1]]}" if row[SQUAD_AVG[0]] != MISSING else MISSING
    return [row[MODEL], *(row[label] for label in GLUE_LABELS), *pairs, row[GLUE_AVG], average]


def add_results(md_path, name: str, benchmark: str, scores: dict[str, float]) -> list[str]:
    """Put ``scores`` (column label -> percentage) in ``name``'s row; returns that row as shown in
    the Markdown table."""
    labels = BENCHMARKS[benchmark]
    unknown = set(scores) - set(labels)
    if unknown:
        raise ValueError(f"not {benchmark} columns: {sorted(unknown)}")
    md = Path(md_path)
    rows = [_complete(row) for row in _read_rows(md)]
    free = [row for row in rows if row[MODEL] == name and all(row[label] == MISSING for label in labels)]
    if free:
        row = free[-1]
    else:
        row = _complete({MODEL: name})
        rows.append(row)
    row.update({label: _shown(value) for label, value in scores.items()})
    row.update(_complete(row))
    csv_lines = [CSV_HEADER, *(_csv_line([r[label] for label in csv_header()]) for r in rows)]
    write_text_atomic(csv_path(md), "".join(line + "\n" for line in csv_lines))
    write_text_atomic(md, "".join(line + "\n" for line in [MD_HEADER, MD_RULE,
                                                           *(_md_line(_md_cells(r)) for r in rows)]))
    return _md_cells(row)
