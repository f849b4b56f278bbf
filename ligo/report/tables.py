"""``savings.md`` and ``savings.csv``: the Markdown table with its notes and ``--focus`` sentence, and the CSV."""

import csv

from ligo.base.errors import UserError
from ligo.report.runs import LOSS, Metric
from ligo.report.targets import SPEED_TOLERANCE
from ligo.training.evaluate import perplexity

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
            f"run has another shape than scratch, so scratch's step time does not apply to it); n/a for a run with "
            f"other FLOPs per step than scratch.")


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
