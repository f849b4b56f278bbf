"""The savings report of the paper's Table 1 and Figure 2, from the runs' ``metrics.jsonl``.

    python -m ligo.report --scratch runs/scratch \\
        --run StackBERT=runs/stackbert --run LiGO=runs/ligo-grown+runs/ligo-op \\
        --small runs/small --output_dir runs/report

The target is the scratch run's final value of one evaluated metric (``--metric``): the
eval loss (lower is better; Table 1), or for image classification runs the eval top-1 or
top-5 accuracy (higher is better; Table 2), by default top-1 when scratch logged it;
``--target`` sets the value instead (e.g. 81 for Table 2's 81% top-1). For every run it
reports the cumulative training FLOPs and wall-clock seconds needed to first reach the
target (linearly interpolated between the two logged evaluations around the crossing), plus
the growth operator's training cost when ``+OPERATOR_DIR`` is given, and the savings against
the scratch run. The small model's pretraining cost is shown but, as in the paper, not counted.

Measured wall time is only comparable between runs made at the same machine speed. Every
run's median step time is therefore reported, a run with scratch's FLOPs per step (same
shape and batch) whose median step time is more than 10% from scratch's is flagged, and a
second wall-time saving counts the run's steps to target at scratch's median step time
(the operator, of another shape, at its own measured time). See docs/reports.md.

Writes ``savings.md``, ``savings.csv``, ``loss_vs_flops.png`` and ``loss_vs_time.png`` (for an
accuracy target ``accuracy_vs_flops.png`` and ``accuracy_vs_time.png``) to ``--output_dir``
and prints the Markdown table.
"""

import argparse
import csv
import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import claim_output_dir
from ligo.training import checkpoint
from ligo.training.evaluate import perplexity
from ligo.training.run_log import METRICS

SCRATCH = "Scratch"
NOT_REACHED = "not reached"
AT_SCRATCH_SPEED = "Wall time saved (scratch's step time)"
SPEED_MARK = "†"
# New columns go last, so that a reader indexing the older columns by position still works.
COLUMNS = ["method", "flops_to_target", "flops_saved_pct", "seconds_to_target", "time_saved_pct",
           "final_eval_loss", "operator_flops", "operator_seconds", "small_flops", "small_seconds",
           "steps_to_target", "seconds_to_target_at_scratch_speed", "time_saved_at_scratch_speed_pct",
           "median_step_seconds", "operator_median_step_seconds", "same_shape_as_scratch", "speed_changed",
           "mean_step_seconds", "final_metric", "metric"]
# The columns that are "not reached" in the CSV when the run never reaches the target.
REACH_COLUMNS = ["flops_to_target", "flops_saved_pct", "seconds_to_target", "time_saved_pct", "steps_to_target",
                 "seconds_to_target_at_scratch_speed", "time_saved_at_scratch_speed_pct"]
MD_HEADER = ["Method", "FLOPs to target", "FLOPs saved", "Wall time to target", "Wall time saved",
             AT_SCRATCH_SPEED, "Final eval loss", "Operator cost", "Small-model cost"]

# FLOPs are counted analytically from the batch shape, so runs of one model shape and batch
# log the same FLOPs per step up to float rounding.
SAME_SHAPE_RTOL = 1e-6
# A same-shape run whose median step time is further than this from scratch's (relative to
# scratch's) was timed on a machine running at another speed.
SPEED_TOLERANCE = 0.10


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


# ---------------------------------------------------------------- parsing and loading

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


def check_target(target: float, metric: Metric, given: bool):
    """A UserError for a target no run could sensibly reach: not finite, or an accuracy outside (0, 100]."""
    if not math.isfinite(target):
        if given:
            raise UserError(f"--target {target} is not a finite number; pass e.g. --target 81 for 81% top-1")
        raise UserError(f"the scratch run's final {metric.key} is {target}; pass the target with --target VALUE")
    if given and metric.higher_is_better and not 0 < target <= 100:
        raise UserError(f"--target {target:g} is not an accuracy in (0, 100]: {metric.key} is in percent; "
                        f"pass e.g. --target 81 for 81%")


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


def output_folder(path, contents: str) -> Path:
    """``--output_dir`` as a Path; a UserError when it is an existing file (``contents``: what it receives)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output_dir '{out}' is a file; pass a folder (it receives {contents})")
    return out


# ---------------------------------------------------------------- the crossing

def cost_to_target(points, target: float, higher_is_better: bool = False):
    """The costs at which a run's evaluated metric first reaches ``target``.

    ``points`` are tuples in logged order whose last item is the metric (e.g. the eval loss)
    and whose other items are cumulative costs, e.g. ``(flops, seconds, step, eval_loss)``;
    the result holds those costs. A loss reaches the target at or below it, an accuracy
    (``higher_is_better``) at or above it. At the first point that reaches it every cost is
    interpolated linearly, separately, between it and the point before (the metric crosses
    the target in between, from either side: the same fraction). A run whose first point
    already reaches the target reaches it at that point's costs (0 when the step-0
    evaluation is logged). Returns ``None`` when no point reaches the target.
    """
    for i, point in enumerate(points):
        value = point[-1]
        if value >= target if higher_is_better else value <= target:
            if i == 0:
                return tuple(point[:-1])
            prev = points[i - 1]
            frac = (prev[-1] - target) / (prev[-1] - value)
            return tuple(before + frac * (after - before) for before, after in zip(prev[:-1], point[:-1]))
    return None


def saved_pct(cost, scratch_cost):
    """Percent saved against the scratch run; None when undefined (not reached, zero cost)."""
    if cost is None or not scratch_cost:
        return None
    return 100.0 * (1.0 - cost / scratch_cost)


def same_shape(pace: Pace | None, scratch_pace: Pace | None) -> bool:
    """Whether a run has scratch's FLOPs per step, i.e. its model shape and batch."""
    if pace is None or scratch_pace is None:
        return False
    return abs(pace.flops_per_step - scratch_pace.flops_per_step) <= SAME_SHAPE_RTOL * abs(scratch_pace.flops_per_step)


def speed_changed(pace: Pace, scratch_pace: Pace) -> bool:
    """Whether a same-shape run's median or mean step time is more than SPEED_TOLERANCE from scratch's."""
    return any(abs(mine - theirs) > SPEED_TOLERANCE * theirs for mine, theirs in
               [(pace.seconds_per_step, scratch_pace.seconds_per_step),
                (pace.mean_seconds_per_step, scratch_pace.mean_seconds_per_step)])


def summarize(scratch: Run, runs: list[Run], small_cost, metric: Metric = LOSS, target=None) -> tuple:
    """The target (``target``, else scratch's final value of the metric) and one dict per
    method (scratch first) with the COLUMNS' values.

    A ``target`` scratch never reaches leaves every saving undefined (None): there is no
    scratch cost to compare with; the costs to target of the runs that reach it are kept."""
    target = scratch.points[-1][-1] if target is None else target
    scratch_reach = cost_to_target(scratch.points, target, metric.higher_is_better)
    scratch_flops, scratch_seconds, scratch_steps = scratch_reach or (None, None, None)
    scratch_step = scratch.pace.seconds_per_step if scratch.pace else None
    # Scratch's own steps at its own median step time: the same estimate as the runs', so that
    # a same-shape run's saving at scratch's step time equals its FLOPs saving.
    scratch_at_speed = scratch_steps * scratch_step if scratch_reach and scratch_step is not None else None
    rows = []
    for run in [scratch, *runs]:
        reach = cost_to_target(run.points, target, metric.higher_is_better)
        op_flops, op_seconds = run.operator or (0, 0)
        flops, seconds = (reach[0] + op_flops, reach[1] + op_seconds) if reach else (None, None)
        shaped = same_shape(run.pace, scratch.pace)
        # The operator has another shape than scratch: its own measured seconds are all there is.
        at_speed = reach[2] * scratch_step + op_seconds if reach and shaped else None
        is_grown = run is not scratch and run.uses_small
        rows.append({
            "method": run.name,
            "flops_to_target": flops,
            "flops_saved_pct": saved_pct(flops, scratch_flops),
            "seconds_to_target": seconds,
            "time_saved_pct": saved_pct(seconds, scratch_seconds),
            "final_eval_loss": run.final_loss,
            "operator_flops": run.operator[0] if run.operator else None,
            "operator_seconds": run.operator[1] if run.operator else None,
            "small_flops": small_cost[0] if small_cost and is_grown else None,
            "small_seconds": small_cost[1] if small_cost and is_grown else None,
            "steps_to_target": reach[2] if reach else None,
            "seconds_to_target_at_scratch_speed": at_speed,
            "time_saved_at_scratch_speed_pct": saved_pct(at_speed, scratch_at_speed),
            "median_step_seconds": run.pace.seconds_per_step if run.pace else None,
            "operator_median_step_seconds": run.operator_pace.seconds_per_step if run.operator_pace else None,
            "same_shape_as_scratch": shaped,
            "mean_step_seconds": run.pace.mean_seconds_per_step if run.pace else None,
            "speed_changed": shaped and speed_changed(run.pace, scratch.pace),
            "final_metric": run.points[-1][-1],
            "metric": metric.key,
            "reached": reach is not None,
        })
    return target, rows


# ---------------------------------------------------------------- formatting

def short_number(value, unit=""):
    return f"{value:.4g}{unit}"


def pct(value):
    return "n/a" if value is None else f"{value:.1f}%"


def _cost(flops, seconds):
    return "—" if flops is None else f"{short_number(flops)} FLOPs / {short_number(seconds, ' s')}"


def target_sentence(target, rows, scratch_dir, metric: Metric, given: bool) -> str:
    """The table's first line: the target, and where it comes from."""
    value = metric.text(target) + (f" (perplexity {perplexity(target):.2f})" if metric is LOSS else "")
    if given:
        return (f"Target: {metric.name} {value}, set by --target (the scratch run {scratch_dir} ends at "
                f"{metric.text(rows[0]['final_metric'])}). ")
    return f"Target: {metric.name} {value}, the final {metric.short} of the scratch run {scratch_dir}. "


def markdown(target, rows, scratch_dir, metric: Metric = LOSS, given: bool = False) -> str:
    def cells(row):
        if row["reached"]:
            time_saved = pct(row["time_saved_pct"]) + (f" {SPEED_MARK}" if row["speed_changed"] else "")
            reach = [short_number(row["flops_to_target"]), pct(row["flops_saved_pct"]),
                     short_number(row["seconds_to_target"], " s"), time_saved,
                     pct(row["time_saved_at_scratch_speed_pct"])]
        else:
            reach = [NOT_REACHED] * 5
        return [row["method"], *reach, metric.text(row["final_metric"]),
                _cost(row["operator_flops"], row["operator_seconds"]),
                _cost(row["small_flops"], row["small_seconds"])]

    header = [metric.header if column == LOSS.header else column for column in MD_HEADER]
    lines = [target_sentence(target, rows, scratch_dir, metric, given)
             + "Operator cost is included in the cost to target; small-model cost is not.", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    if not rows[0]["reached"]:
        lines += ["", "The scratch run never reaches the target: no saving is defined (n/a); the costs to target "
                      "are still given."]
    lines += ["", scratch_speed_note(rows)]
    changed = speed_note(rows)
    if changed:
        lines += ["", changed]
    return "\n".join(lines) + "\n"


def scratch_speed_note(rows) -> str:
    scratch_step = rows[0]["median_step_seconds"]
    if scratch_step is None:
        return (f"{AT_SCRATCH_SPEED}: n/a throughout, the scratch run logged fewer than two distinct steps "
                f"(no median step time).")
    return (f"{AT_SCRATCH_SPEED}: the run's steps to target times scratch's median step time "
            f"({short_number(scratch_step, ' s')}), plus the operator's own measured training time (an operator "
            f"run has another shape than scratch, so scratch's step time does not apply to it); n/a for a run with other FLOPs per step than scratch.")


def speed_note(rows) -> str:
    """A sentence naming the same-shape runs timed at another machine speed than scratch, or ''."""
    changed = [row for row in rows if row["speed_changed"]]
    if not changed:
        return ""
    def pace(row):
        return f"{short_number(row['median_step_seconds'], ' s')} ({short_number(row['mean_step_seconds'], ' s')})"

    names = ", ".join(f"{row['method']} {pace(row)}" for row in changed)
    return (f"{SPEED_MARK} The machine's speed changed between runs: at scratch's FLOPs per step, the median (mean) "
            f"step time is {names}, against {pace(rows[0])} for scratch (one of them more "
            f"than {SPEED_TOLERANCE:.0%} apart); the measured wall-time saving of "
            f"{'this run' if len(changed) == 1 else 'these runs'} is not comparable: read the column "
            f"\"{AT_SCRATCH_SPEED}\" instead.")


def verdict(rows, focus: str) -> str:
    """One sentence: does ``focus`` save more training FLOPs than every other grown method?"""
    by_name = {row["method"]: row for row in rows}
    if focus not in by_name or focus == SCRATCH:
        raise UserError(f"--focus {focus!r} is not one of the --run names ({', '.join(list(by_name)[1:])})")
    mine = by_name[focus]
    if not rows[0]["reached"]:
        return f"The scratch run never reached the target: no saving is defined, {focus} cannot be ranked here."
    others = [row for row in rows[1:] if row["method"] != focus and row["flops_saved_pct"] is not None]
    best = max(others, key=lambda row: row["flops_saved_pct"], default=None)
    if mine["flops_saved_pct"] is None:
        head = f"{focus} never reached the target"
        if best is None:
            return f"{head}, nor did any other grown method."
        return (f"{head}; {best['method']} saves {best['flops_saved_pct']:.1f}% of the FLOPs: "
                f"{focus} does not beat the baselines here.")
    time_saved = f"{pct(mine['time_saved_pct'])} of the wall time"
    if mine["speed_changed"]:
        time_saved += (f" as measured, not comparable as the machine's speed changed; "
                       f"{pct(mine['time_saved_at_scratch_speed_pct'])} at scratch's step time")
    head = f"{focus} saves {mine['flops_saved_pct']:.1f}% of the training FLOPs ({time_saved}) against scratch"
    if best is None:
        return f"{head}; no other grown method reached the target: {focus} beats the baselines here."
    beats = mine["flops_saved_pct"] > best["flops_saved_pct"]
    return (f"{head}; the best other method, {best['method']}, saves {best['flops_saved_pct']:.1f}%: "
            f"{focus} {'beats' if beats else 'does not beat'} the baselines here.")


def csv_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            out = {key: csv_cell(row[key]) for key in COLUMNS}
            if not row["reached"]:
                for key in REACH_COLUMNS:
                    out[key] = NOT_REACHED
            writer.writerow(out)


# ---------------------------------------------------------------- plotting

def plot(path, runs: list[Run], target, axis: int, xlabel: str, metric: Metric = LOSS):
    """The metric (eval loss, or accuracy) against cumulative cost (axis 0: FLOPs, 1: seconds),
    grown runs shifted by their operator's cost, with the target as a horizontal line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        shift = run.operator[axis] if run.operator else 0
        ax.plot([p[axis] + shift for p in run.points], [p[-1] for p in run.points], marker=".", label=run.name)
    label = f"target {target:.2f}%" if metric.higher_is_better else f"target {target:.3f}"
    ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{metric.name} (%)" if metric.higher_is_better else metric.name)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ligo.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratch", required=True, metavar="RUN_DIR", help="the run trained from scratch")
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR[+OPERATOR_DIR]",
                        help="a grown run, with the growth operator's run if its cost counts; repeatable")
    parser.add_argument("--small", metavar="[NAME=]DIR", help="the small model's pretraining run (reported, not counted)")
    parser.add_argument("--output_dir", required=True, help="where the table and the plots are written")
    parser.add_argument("--focus", metavar="NAME", help="a --run name: add a sentence saying whether it saves more "
                                                        "FLOPs than every other grown run")
    parser.add_argument("--metric", choices=["auto", *(metric.key for metric in TARGET_METRICS)], default="auto",
                        help="the evaluated metric of the target: eval_loss (lower is better), eval_top1 or "
                             "eval_top5 (accuracy in percent, higher is better); auto: eval_top1 when the scratch "
                             "run logged it, else eval_loss")
    parser.add_argument("--target", type=float, metavar="VALUE",
                        help="the target value instead of the scratch run's final one, e.g. 81 (Table 2: 81%% "
                             "top-1); scratch may then not reach it, leaving the savings n/a")
    return parser


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    out = output_folder(args.output_dir, "savings.md, savings.csv and the plots")
    metric = choose_metric(args.metric, load_rows(args.scratch))
    scratch = load_run(SCRATCH, args.scratch, metric=metric)
    given = args.target is not None
    check_target(args.target if given else scratch.points[-1][-1], metric, given)
    runs, names = [], {SCRATCH}
    for spec in args.run:
        name, run_dir, op_dir = parse_run_spec(spec)
        if name in names:
            raise UserError(f"method name {name!r} is used twice (--run {spec!r}); give every --run its own name"
                            + (f" ({SCRATCH!r} is the scratch run's)" if name == SCRATCH else ""))
        names.add(name)
        runs.append(load_run(name, run_dir, op_dir, metric))
    small_cost = final_cost(load_rows(args.small.rpartition("=")[2])) if args.small else None  # NAME= is optional

    target, rows = summarize(scratch, runs, small_cost, metric, args.target)
    table = markdown(target, rows, args.scratch, metric, given)
    if args.focus:
        table += "\n" + verdict(rows, args.focus) + "\n"
    with claim_output_dir(out, "python -m ligo.report"):  # one writer at a time (ligo/base/output_lock.py)
        (out / "savings.md").write_text(table, encoding="utf-8")
        write_csv(out / "savings.csv", rows)
        plot(out / f"{metric.stem}_vs_flops.png", [scratch, *runs], target, 0, "training FLOPs", metric)
        plot(out / f"{metric.stem}_vs_time.png", [scratch, *runs], target, 1, "wall-clock training seconds", metric)
    print(table, end="")


if __name__ == "__main__":
    main()
