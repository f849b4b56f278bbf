"""The runs of a savings report: their ``metrics.jsonl`` rows, evaluated points and step pace,
their operator's whole cost and whether they use the small model; the metric a target is on."""

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import UserError
from ligo.training import checkpoint
from ligo.training.run_log import METRICS


@dataclass(frozen=True)
class Metric:
    """An evaluated row's key the target can be on, which way is better, and its wording."""
    key: str
    higher_is_better: bool
    name: str  # in the target sentence: "eval loss"
    short: str  # "the final {short} of the scratch run"
    header: str  # the Markdown column of every run's final value
    stem: str  # the plots' names: {stem}_vs_flops.png

    def text(self, value) -> str:
        return f"{value:.2f}%" if self.higher_is_better else f"{value:.4f}"


LOSS = Metric("eval_loss", False, "eval loss", "eval loss", "Final eval loss", "loss")
# Accuracies are logged in percent (0..100).
TOP1 = Metric("eval_top1", True, "eval top-1 accuracy", "top-1", "Final top-1", "accuracy")
TOP5 = Metric("eval_top5", True, "eval top-5 accuracy", "top-5", "Final top-5", "accuracy")
TARGET_METRICS = (LOSS, TOP1, TOP5)


@dataclass
class Pace:
    """A run's median cost of one training step (see ``step_pace``), and its mean step time."""
    flops_per_step: float
    seconds_per_step: float
    mean_seconds_per_step: float


@dataclass
class Run:
    name: str
    points: list  # (flops, seconds, step, value of the target's metric) of every evaluated row, in order
    pace: Pace | None = None
    operator: tuple | None = None  # (flops, seconds) of the operator's training, if any
    operator_pace: Pace | None = None
    uses_small: bool = True  # grown from, or taught by, the small model: its cost is shown beside
    final_loss: float | None = None  # the last eval_loss, kept in the CSV whatever the target's metric


def load_rows(run_dir) -> list[dict]:
    """All rows of ``run_dir/metrics.jsonl``; a UserError names a missing or malformed file."""
    path = Path(run_dir) / METRICS
    if not Path(run_dir).is_dir():
        what = "is a file, not a run's folder" if Path(run_dir).exists() else "does not exist"
        raise UserError(f"run directory {run_dir} {what}; pass the --output_dir of a finished run")
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass the --output_dir of a run that logged metrics")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path} line {number} is not valid JSON ({err.msg}); "
                            f"fix or delete that line") from None
        if not isinstance(row, dict):
            raise UserError(f"{path} line {number} is not a JSON object; fix or delete that line")
        for key in ("flops", "train_seconds", "step"):
            if not isinstance(row.get(key), (int, float)):
                raise UserError(f"{path} line {number} has no numeric '{key}'; "
                                "it was not written by this project's training scripts: pass the --output_dir of "
                                "a run_lm_distributed.py or run_grow_distributed.py run")
        rows.append(row)
    if not rows:
        raise UserError(f"{path} is empty: the run has logged no step yet; pass it once it has logged one, or "
                        "another run")
    return rows


def has_value(row, key) -> bool:
    """Whether ``row[key]`` is a number (a bool is an int to Python, not a logged value)."""
    return isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool)


def eval_points(run_dir, rows=None, metric: Metric = LOSS) -> list[tuple]:
    """``(flops, seconds, step, value)`` of every row of the run that has the metric's key
    (``rows``: the run's rows when already loaded). Every evaluated row must have it: one
    without it would be skipped silently and the crossing interpolated across the gap."""
    rows = load_rows(run_dir) if rows is None else rows
    path = Path(run_dir) / METRICS
    fix = ("train it with evaluation enabled (--do_eval)" if metric is LOSS else
           f"evaluate it with --do_eval (an image classification run logs {metric.key}), or pass --metric eval_loss")
    points = [(row["flops"], row["train_seconds"], row["step"], row[metric.key]) for row in rows
              if has_value(row, metric.key)]
    if not points:
        raise UserError(f"{path} has no row with an {metric.key}; {fix}")
    for row in rows:
        if not has_value(row, metric.key) and any(has_value(row, other.key) for other in TARGET_METRICS):
            raise UserError(f"{path}: the evaluated row of step {row['step']} has no {metric.key}; {fix}")
    return points


def choose_metric(requested: str, scratch_rows) -> Metric:
    """``--metric``'s Metric; ``auto``: top-1 when the scratch run logged it (an image run), else the loss."""
    if requested == "auto":
        return TOP1 if any(has_value(row, TOP1.key) for row in scratch_rows) else LOSS
    return next(metric for metric in TARGET_METRICS if metric.key == requested)


def final_cost(rows) -> tuple:
    """The cumulative ``(flops, seconds)`` of a run's last row: its whole training cost."""
    return rows[-1]["flops"], rows[-1]["train_seconds"]


def step_pace(rows) -> Pace | None:
    """Medians of Δflops/Δstep and Δtrain_seconds/Δstep over consecutive logged rows with Δstep > 0.

    The median rather than the total over steps: the first steps (allocation, warm-up) and a
    burst of load from another job are outliers that would pull a mean. The mean is kept too:
    a burst inside scratch's run (seen: 100 steps in 136 s against 15 s alone, next to another
    job) leaves the medians equal and the measured totals 10x apart. None when the run logged
    fewer than two distinct steps.
    """
    flops, seconds = [], []
    for before, after in zip(rows, rows[1:]):
        steps = after["step"] - before["step"]
        if steps > 0:
            flops.append((after["flops"] - before["flops"]) / steps)
            seconds.append((after["train_seconds"] - before["train_seconds"]) / steps)
    if not flops:
        return None
    steps = rows[-1]["step"] - rows[0]["step"]
    mean = (rows[-1]["train_seconds"] - rows[0]["train_seconds"]) / steps
    return Pace(statistics.median(flops), statistics.median(seconds), mean)


def uses_small_model(run_dir) -> bool:
    """Whether the run grew from the small model or was taught by it (its --grow_scheme); a run
    folder with no checkpoint (metrics written by other means) counts as one that did."""
    latest = checkpoint.latest_checkpoint(run_dir)
    if latest is None or not (latest / checkpoint.ARGS_FILE).is_file():
        return True
    return checkpoint.load_saved_args(latest).get("grow_scheme", "none") != "none"


def load_run(name, run_dir, operator_dir=None, metric: Metric = LOSS) -> Run:
    rows = load_rows(run_dir)
    op_rows = load_rows(operator_dir) if operator_dir else None
    losses = [row[LOSS.key] for row in rows if has_value(row, LOSS.key)]
    return Run(name, eval_points(run_dir, rows, metric), step_pace(rows),
               final_cost(op_rows) if op_rows else None, step_pace(op_rows) if op_rows else None,
               uses_small=uses_small_model(run_dir), final_loss=losses[-1] if losses else None)


def parse_run_spec(spec: str) -> tuple:
    """``NAME=RUN_DIR[+OPERATOR_DIR]`` -> ``(name, run_dir, operator_dir or None)``."""
    name, sep, dirs = spec.partition("=")
    name, dirs = name.strip(), dirs.strip()
    if not sep or not name or not dirs:
        raise UserError(f"--run {spec!r} is not NAME=RUN_DIR[+OPERATOR_DIR]; "
                        f"e.g. --run LiGO=runs/ligo-grown+runs/ligo-op")
    if "+" not in dirs or Path(dirs).is_dir():  # a directory whose name has a '+' is kept whole
        return name, dirs, None
    parts = dirs.split("+")
    if len(parts) != 2 or not all(parts):
        raise UserError(f"--run {spec!r} is not NAME=RUN_DIR[+OPERATOR_DIR]: give one run "
                        f"directory and at most one operator directory, joined by a single '+'")
    return name, parts[0], parts[1]
