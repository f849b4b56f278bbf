"""Mean ± standard deviation of the savings report over several seeds of one experiment.

    python -m ligo.report.seeds --report seed-17=runs/mini-seeds/seed-17/report \\
        --report seed-18=runs/mini-seeds/seed-18/report --output_dir results/mini-seeds --focus LiGO

Every ``--report`` is the ``--output_dir`` of one ``python -m ligo.report`` run, each against
its own seed's scratch run, all with the same methods. For each method: mean ± sample
standard deviation (ddof=1) of the FLOPs saved, the wall time saved (measured, and at
scratch's step time) and the final eval loss, over the seeds where the method reached the
target, with how many did; then every seed's values. With ``--focus NAME``, one sentence
saying whether NAME's mean FLOPs saving differs from the best other method's by more than
the spread of the per-seed paired differences (see ``focus_verdict`` and docs/reports.md).

Writes ``seeds.md`` and ``seeds.csv`` to ``--output_dir`` and prints the Markdown.
"""

import csv
import math
import statistics
from dataclasses import dataclass
from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import claim_output_dir
from ligo.report.savings import output_folder
from ligo.report.tables import AT_SCRATCH_SPEED, NOT_REACHED, SCRATCH, SPEED_MARK, pct

SAVINGS = "savings.csv"
# (savings.csv column, Markdown header) of every aggregated value.
METRICS = [("flops_saved_pct", "FLOPs saved"), ("time_saved_pct", "Wall time saved"),
           ("time_saved_at_scratch_speed_pct", AT_SCRATCH_SPEED), ("final_eval_loss", "Final eval loss")]
NEEDED = ["method", *(column for column, _ in METRICS), "speed_changed"]
CSV_COLUMNS = ["method", "seeds", "reached",
               *(f"{column}_{stat}" for column, _ in METRICS for stat in ("mean", "sd", "n")), "speed_changed_seeds"]


@dataclass
class Result:
    """One method in one seed's savings.csv; a value is None where not reached or not applicable."""
    reached: bool
    values: dict  # METRICS column -> float or None
    speed_changed: bool


# ---------------------------------------------------------------- loading

def parse_report_spec(spec: str) -> tuple:
    """``NAME=REPORT_DIR`` -> ``(name, report_dir)``."""
    name, sep, folder = (part.strip() for part in spec.partition("="))
    if not sep or not name or not folder:
        raise UserError(f"--report {spec!r} is not NAME=REPORT_DIR; e.g. --report seed-17=runs/seed-17/report")
    return name, folder


def _number(text: str, path, method, column):
    if text in ("", NOT_REACHED):
        return None
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{path}: {method}'s {column} is {text!r}, not a number; regenerate it with "
                        f"python -m ligo.report") from None


def load_savings(folder) -> dict:
    """``method -> Result`` from ``folder/savings.csv``, in the file's order."""
    path = Path(folder) / SAVINGS
    if not Path(folder).is_dir():
        raise UserError(f"report folder {folder} does not exist; pass the --output_dir of a python -m ligo.report run")
    if not path.is_file():
        raise UserError(f"{path} does not exist; pass the --output_dir of a python -m ligo.report run")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [column for column in NEEDED if column not in (reader.fieldnames or [])]
        if missing:
            raise UserError(f"{path} has no column {', '.join(missing)}: it was written by an older or another "
                            f"program; regenerate it with python -m ligo.report")
        results = {}
        for row in reader:
            method = row["method"]
            results[method] = Result(row["flops_saved_pct"] != NOT_REACHED,
                                     {column: _number(row[column], path, method, column) for column, _ in METRICS},
                                     row["speed_changed"] == "true")
    if not results:
        raise UserError(f"{path} has no method; regenerate it with python -m ligo.report")
    return results


def load_seeds(specs) -> dict:
    """``seed name -> {method -> Result}``; every seed must have the same methods."""
    seeds, folders = {}, {}
    for spec in specs:
        name, folder = parse_report_spec(spec)
        if name in seeds:
            raise UserError(f"seed name {name!r} is used twice (--report {spec!r}); give every --report its own name")
        resolved = Path(folder).resolve()
        if resolved in folders:
            raise UserError(f"--report {spec!r} is the folder of seed {folders[resolved]!r} again; one seed counted "
                            f"twice would shrink the spread: pass every seed's report once")
        folders[resolved] = name
        seeds[name] = load_savings(folder)
    first, methods = next(iter(seeds.items()))
    for name, results in seeds.items():
        if list(results) != list(methods):
            raise UserError(f"seed {name!r} has the methods {', '.join(results)} but seed {first!r} has "
                            f"{', '.join(methods)}; make every seed's report with the same --run names")
    return seeds


# ---------------------------------------------------------------- statistics

def mean_sd(values) -> tuple:
    """``(mean, sample sd with ddof=1)``; the sd is None under 2 values, both are None with none."""
    if not values:
        return None, None
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else None)


def values_of(seeds, method, column) -> list:
    return [results[method].values[column] for results in seeds.values()
            if results[method].values[column] is not None]


def aggregate(seeds) -> list[dict]:
    """One dict per method with the CSV_COLUMNS' values."""
    rows = []
    for method in next(iter(seeds.values())):
        row = {"method": method, "seeds": len(seeds),
               "reached": sum(results[method].reached for results in seeds.values()),
               "speed_changed_seeds": sum(results[method].speed_changed for results in seeds.values())}
        for column, _ in METRICS:
            values = values_of(seeds, method, column)
            row[f"{column}_mean"], row[f"{column}_sd"] = mean_sd(values)
            row[f"{column}_n"] = len(values)
        rows.append(row)
    return rows


def focus_verdict(seeds, aggregated, focus: str) -> str:
    """One sentence: does ``focus``'s mean FLOPs saving differ from the best other method's by more than the spread?

    The best other method is the grown method with the highest mean FLOPs saving. Over the n
    seeds where both reached the target, d = focus's saving minus the other's, same seed
    (pairing removes what the seeds share, e.g. a hard scratch run). The difference exceeds
    the spread when |mean d| > 2 sd(d) / sqrt(n): about a 95% interval on the mean difference.
    """
    by_name = {row["method"]: row for row in aggregated}
    if focus not in by_name or focus == SCRATCH:
        methods = ", ".join(m for m in by_name if m != SCRATCH)
        raise UserError(f"--focus {focus!r} is not one of the methods ({methods})")
    n_seeds = len(seeds)
    others = [row for row in aggregated if row["method"] not in (SCRATCH, focus) and row["flops_saved_pct_n"]]
    best = max(others, key=lambda row: row["flops_saved_pct_mean"], default=None)
    mine = by_name[focus]
    if not mine["flops_saved_pct_n"]:
        if best is None:
            return f"{focus} never reached the target in any of the {n_seeds} seeds, nor did any other grown method."
        return (f"{focus} never reached the target in any of the {n_seeds} seeds; the best other method by mean, "
                f"{best['method']}, saves {_mean_sd(best, 'flops_saved_pct')} of the FLOPs.")
    head = f"{focus} saves {_mean_sd(mine, 'flops_saved_pct')} of the training FLOPs (mean ± sd)"
    if best is None:
        return f"{head}; no other grown method reached the target in any seed."
    head += f", the best other method by mean, {best['method']}, {_mean_sd(best, 'flops_saved_pct')}"
    diffs = [results[focus].values["flops_saved_pct"] - results[best["method"]].values["flops_saved_pct"]
             for results in seeds.values()
             if results[focus].reached and results[best["method"]].reached]
    n = len(diffs)
    pair = f"{focus} − {best['method']}"
    if n < 2:
        return (f"{head}; the spread is unknown: {n} seed{'' if n == 1 else 's'} where both reached the target, "
                f"and the standard deviation of the per-seed differences {pair} needs at least 2.")
    mean_diff, sd_diff = statistics.mean(diffs), statistics.stdev(diffs)
    bound = 2 * sd_diff / math.sqrt(n)
    rule = (f"|mean difference| > 2 × sd of the per-seed differences / √n = 2 × {sd_diff:.2f} / √{n} = "
            f"{bound:.2f} points, about a 95% interval, over the n = {n} seeds where both reached the target")
    if abs(mean_diff) > bound:
        direction = "more" if mean_diff > 0 else "fewer"
        return (f"{head}; the mean per-seed difference {pair}, {mean_diff:+.2f} points, exceeds the spread (the "
                f"rule: {rule}): {focus} saves {direction} FLOPs than {best['method']} across these seeds.")
    return (f"{head}; the mean per-seed difference {pair}, {mean_diff:+.2f} points, is within the spread (the "
            f"rule for exceeding it: {rule}): these seeds do not tell {focus} and {best['method']} apart.")


# ---------------------------------------------------------------- formatting

def _format(value, column):
    if column == "final_eval_loss":
        return f"{value:.4f}"
    return pct(value)


def _mean_sd(row, column) -> str:
    """``mean ± sd``, with the count when not every seed has a value; 'not reached' or 'n/a' with none."""
    n, seeds = row[f"{column}_n"], row["seeds"]
    if not n:
        return NOT_REACHED if not row["reached"] else "n/a"
    sd = row[f"{column}_sd"]
    spread = "n/a" if sd is None else (f"{sd:.4f}" if column == "final_eval_loss" else f"{sd:.1f}")
    text = f"{_format(row[f'{column}_mean'], column)} ± {spread}"
    return text if n == seeds else f"{text} ({n} of {seeds} seeds)"


def _seed_cell(result: Result, column) -> str:
    value = result.values[column]
    if value is None:
        return NOT_REACHED if not result.reached else "n/a"
    mark = f" {SPEED_MARK}" if column == "time_saved_pct" and result.speed_changed else ""
    return _format(value, column) + mark


def markdown(seeds, aggregated) -> str:
    headers = [header for _, header in METRICS]
    lines = [f"Mean ± sample standard deviation (ddof=1) over {len(seeds)} seeds ({', '.join(seeds)}), each "
             f"against its own seed's scratch run. A saving is averaged over the seeds where the method reached "
             f"the target; the count is shown when that is not every seed.", "",
             "| " + " | ".join(["Method", "Seeds reaching target", *headers]) + " |", "|" + "---|" * (2 + len(headers))]
    for row in aggregated:
        time_mark = f" {SPEED_MARK}" if row["speed_changed_seeds"] else ""
        cells = [_mean_sd(row, column) + (time_mark if column == "time_saved_pct" else "") for column, _ in METRICS]
        lines.append("| " + " | ".join([row["method"], f"{row['reached']} of {row['seeds']}", *cells]) + " |")
    changed = [f"{method} in {seed}" for seed, results in seeds.items()
               for method, result in results.items() if result.speed_changed]
    if changed:
        lines += ["", f"{SPEED_MARK} The machine's speed changed between runs ({', '.join(changed)}: see that seed's "
                      f"savings.md); the measured wall-time saving there is not comparable: read the column "
                      f"\"{AT_SCRATCH_SPEED}\" instead."]
    lines += ["", "Per seed:", "",
              "| " + " | ".join(["Seed", "Method", *headers]) + " |", "|" + "---|" * (2 + len(headers))]
    for seed, results in seeds.items():
        for method, result in results.items():
            lines.append("| " + " | ".join([seed, method, *(_seed_cell(result, c) for c, _ in METRICS)]) + " |")
    return "\n".join(lines) + "\n"


def write_csv(path, aggregated):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in aggregated:
            writer.writerow({key: ("" if row[key] is None else row[key]) for key in CSV_COLUMNS})


# ---------------------------------------------------------------- main

def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m ligo.report.seeds", description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", action="append", required=True, metavar="NAME=REPORT_DIR",
                        help="one seed's python -m ligo.report --output_dir (holding savings.csv); repeatable")
    parser.add_argument("--output_dir", required=True, help="where seeds.md and seeds.csv are written")
    parser.add_argument("--focus", metavar="NAME", help="a method: add a sentence saying whether its mean FLOPs "
                                                        "saving differs from the best other method's by more than "
                                                        "the spread")
    return parser


@exit_on_user_error
def main(argv=None):
    args = build_parser().parse_args(argv)
    out = output_folder(args.output_dir, "seeds.md and seeds.csv")
    seeds = load_seeds(args.report)
    aggregated = aggregate(seeds)
    text = markdown(seeds, aggregated)
    if args.focus:
        text += "\n" + focus_verdict(seeds, aggregated, args.focus) + "\n"
    with claim_output_dir(out, "python -m ligo.report.seeds"):  # one writer at a time (ligo/base/output_lock.py)
        (out / "seeds.md").write_text(text, encoding="utf-8")
        write_csv(out / "seeds.csv", aggregated)
    print(text, end="")


if __name__ == "__main__":
    main()
