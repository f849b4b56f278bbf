"""The savings report of the paper's Table 1 and Figure 2, from the runs' ``metrics.jsonl``.

    python -m ligo.report --scratch runs/scratch \\
        --run StackBERT=runs/stackbert --run LiGO=runs/ligo-grown+runs/ligo-op \\
        --small runs/small --output_dir runs/report

The target is the scratch run's final eval loss. For every run it reports the cumulative
training FLOPs and wall-clock seconds needed to first reach the target (linearly
interpolated between the two logged evaluations around the crossing), plus the growth
operator's training cost when ``+OPERATOR_DIR`` is given, and the savings against the
scratch run. The small model's pretraining cost is shown but, as in the paper, not counted.

Writes ``savings.md``, ``savings.csv``, ``loss_vs_flops.png`` and ``loss_vs_time.png`` to
``--output_dir`` and prints the Markdown table.
"""

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path

from ligo.errors import UserError, exit_on_user_error
from ligo.run_log import METRICS

SCRATCH = "Scratch"
NOT_REACHED = "not reached"
COLUMNS = ["method", "flops_to_target", "flops_saved_pct", "seconds_to_target", "time_saved_pct",
           "final_eval_loss", "operator_flops", "operator_seconds", "small_flops", "small_seconds"]
MD_HEADER = ["Method", "FLOPs to target", "FLOPs saved", "Wall time to target", "Wall time saved",
             "Final eval loss", "Operator cost", "Small-model cost"]


@dataclass
class Run:
    name: str
    points: list  # (flops, seconds, eval_loss) of every evaluated row, in order
    operator: tuple | None = None  # (flops, seconds) of the operator's training, if any


# ---------------------------------------------------------------- parsing and loading

def load_rows(run_dir) -> list[dict]:
    """All rows of ``run_dir/metrics.jsonl``; a UserError names a missing or malformed file."""
    path = Path(run_dir) / METRICS
    if not Path(run_dir).is_dir():
        raise UserError(f"run directory {run_dir} does not exist; pass the --output_dir of a finished run")
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
        for key in ("flops", "train_seconds"):
            if not isinstance(row.get(key), (int, float)):
                raise UserError(f"{path} line {number} has no numeric '{key}'; "
                                "it was not written by this project's training scripts: pass the --output_dir of "
                                "a run_lm_distributed.py or run_grow_distributed.py run")
        rows.append(row)
    if not rows:
        raise UserError(f"{path} is empty: the run has logged no step yet; pass it once it has logged one, or "
                        "another run")
    return rows


def eval_points(run_dir) -> list[tuple]:
    """``(flops, seconds, eval_loss)`` of every row of the run that has an eval_loss."""
    points = [(row["flops"], row["train_seconds"], row["eval_loss"]) for row in load_rows(run_dir)
              if isinstance(row.get("eval_loss"), (int, float))]
    if not points:
        raise UserError(f"{Path(run_dir) / METRICS} has no row with an eval_loss; "
                        f"train it with evaluation enabled")
    return points


def final_cost(run_dir) -> tuple:
    """The cumulative ``(flops, seconds)`` of a run's last row: its whole training cost."""
    last = load_rows(run_dir)[-1]
    return last["flops"], last["train_seconds"]


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


# ---------------------------------------------------------------- the crossing

def cost_to_target(points, target: float):
    """The ``(flops, seconds)`` at which a run's eval loss first reaches ``target``.

    ``points`` are ``(flops, seconds, eval_loss)`` in logged order. At the first point with
    ``eval_loss <= target`` the cost is interpolated linearly, in FLOPs and in seconds
    separately, between it and the point before (the loss goes from above the target to at
    or below it in between). A run whose first point already is at or below the target
    reaches it at that point's cost (0 when the step-0 evaluation is logged). Returns
    ``None`` when no point reaches the target.
    """
    for i, (flops, seconds, loss) in enumerate(points):
        if loss <= target:
            if i == 0:
                return flops, seconds
            prev_flops, prev_seconds, prev_loss = points[i - 1]
            frac = (prev_loss - target) / (prev_loss - loss)
            return (prev_flops + frac * (flops - prev_flops),
                    prev_seconds + frac * (seconds - prev_seconds))
    return None


def saved_pct(cost, scratch_cost):
    """Percent saved against the scratch run; None when undefined (not reached, zero cost)."""
    if cost is None or not scratch_cost:
        return None
    return 100.0 * (1.0 - cost / scratch_cost)


def summarize(scratch: Run, runs: list[Run], small_cost) -> tuple:
    """The target loss and one dict per method (scratch first) with the COLUMNS' values."""
    target = scratch.points[-1][2]
    scratch_reach = cost_to_target(scratch.points, target)
    rows = []
    for run in [scratch, *runs]:
        reach = cost_to_target(run.points, target)
        op_flops, op_seconds = run.operator or (0, 0)
        flops, seconds = (reach[0] + op_flops, reach[1] + op_seconds) if reach else (None, None)
        is_grown = run is not scratch
        rows.append({
            "method": run.name,
            "flops_to_target": flops,
            "flops_saved_pct": saved_pct(flops, scratch_reach[0]),
            "seconds_to_target": seconds,
            "time_saved_pct": saved_pct(seconds, scratch_reach[1]),
            "final_eval_loss": run.points[-1][2],
            "operator_flops": run.operator[0] if run.operator else None,
            "operator_seconds": run.operator[1] if run.operator else None,
            "small_flops": small_cost[0] if small_cost and is_grown else None,
            "small_seconds": small_cost[1] if small_cost and is_grown else None,
            "reached": reach is not None,
        })
    return target, rows


# ---------------------------------------------------------------- formatting

def _num(value, unit=""):
    return f"{value:.4g}{unit}"


def _cost(flops, seconds):
    return "—" if flops is None else f"{_num(flops)} FLOPs / {_num(seconds, ' s')}"


def markdown(target, rows, scratch_dir) -> str:
    def cells(row):
        if row["reached"]:
            reach = [_num(row["flops_to_target"]),
                     "n/a" if row["flops_saved_pct"] is None else f"{row['flops_saved_pct']:.1f}%",
                     _num(row["seconds_to_target"], " s"),
                     "n/a" if row["time_saved_pct"] is None else f"{row['time_saved_pct']:.1f}%"]
        else:
            reach = [NOT_REACHED] * 4
        return [row["method"], *reach, f"{row['final_eval_loss']:.4f}",
                _cost(row["operator_flops"], row["operator_seconds"]),
                _cost(row["small_flops"], row["small_seconds"])]

    lines = [f"Target: eval loss {target:.4f}, the final eval loss of the scratch run {scratch_dir}. "
             f"Operator cost is included in the cost to target; small-model cost is not.", "",
             "| " + " | ".join(MD_HEADER) + " |", "|" + "---|" * len(MD_HEADER)]
    lines += ["| " + " | ".join(cells(row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def verdict(rows, focus: str) -> str:
    """One sentence: does ``focus`` save more training FLOPs than every other grown method?"""
    by_name = {row["method"]: row for row in rows}
    if focus not in by_name or focus == SCRATCH:
        raise UserError(f"--focus {focus!r} is not one of the --run names ({', '.join(list(by_name)[1:])})")
    mine = by_name[focus]
    others = [row for row in rows[1:] if row["method"] != focus and row["flops_saved_pct"] is not None]
    best = max(others, key=lambda row: row["flops_saved_pct"], default=None)
    if mine["flops_saved_pct"] is None:
        head = f"{focus} never reached the target"
        if best is None:
            return f"{head}, nor did any other grown method."
        return (f"{head}; {best['method']} saves {best['flops_saved_pct']:.1f}% of the FLOPs: "
                f"{focus} does not beat the baselines here.")
    time_saved = "n/a" if mine["time_saved_pct"] is None else f"{mine['time_saved_pct']:.1f}%"
    head = (f"{focus} saves {mine['flops_saved_pct']:.1f}% of the training FLOPs ({time_saved} of the wall time) "
            f"against scratch")
    if best is None:
        return f"{head}; no other grown method reached the target: {focus} beats the baselines here."
    beats = mine["flops_saved_pct"] > best["flops_saved_pct"]
    return (f"{head}; the best other method, {best['method']}, saves {best['flops_saved_pct']:.1f}%: "
            f"{focus} {'beats' if beats else 'does not beat'} the baselines here.")


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            out = {key: ("" if row[key] is None else row[key]) for key in COLUMNS}
            if not row["reached"]:
                for key in ("flops_to_target", "flops_saved_pct", "seconds_to_target", "time_saved_pct"):
                    out[key] = NOT_REACHED
            writer.writerow(out)


# ---------------------------------------------------------------- plotting

def plot(path, runs: list[Run], target, axis: int, xlabel: str):
    """Eval loss against cumulative cost (axis 0: FLOPs, 1: seconds), grown runs shifted by
    their operator's cost, with the target as a horizontal line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        shift = run.operator[axis] if run.operator else 0
        ax.plot([p[axis] + shift for p in run.points], [p[2] for p in run.points], marker=".", label=run.name)
    ax.axhline(target, color="gray", linestyle="--", linewidth=1, label=f"target {target:.3f}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("eval loss")
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
    return parser


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    out = Path(args.output_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output_dir '{out}' is a file; pass a folder (it receives savings.md, savings.csv and "
                        "the plots)")
    scratch = Run(SCRATCH, eval_points(args.scratch))
    runs, names = [], {SCRATCH}
    for spec in args.run:
        name, run_dir, op_dir = parse_run_spec(spec)
        if name in names:
            raise UserError(f"method name {name!r} is used twice (--run {spec!r}); give every --run its own name"
                            + (f" ({SCRATCH!r} is the scratch run's)" if name == SCRATCH else ""))
        names.add(name)
        runs.append(Run(name, eval_points(run_dir), final_cost(op_dir) if op_dir else None))
    small_cost = final_cost(args.small.rpartition("=")[2]) if args.small else None  # NAME= is optional

    target, rows = summarize(scratch, runs, small_cost)
    table = markdown(target, rows, args.scratch)
    if args.focus:
        table += "\n" + verdict(rows, args.focus) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "savings.md").write_text(table, encoding="utf-8")
    write_csv(out / "savings.csv", rows)
    plot(out / "loss_vs_flops.png", [scratch, *runs], target, 0, "training FLOPs")
    plot(out / "loss_vs_time.png", [scratch, *runs], target, 1, "wall-clock training seconds")
    print(table, end="")


if __name__ == "__main__":
    main()
