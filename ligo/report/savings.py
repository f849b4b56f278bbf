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

This module is the command line; the report's pieces are ``runs`` (loading the runs),
``targets`` (the crossing and the savings), ``tables`` (Markdown and CSV) and ``plots``.
"""

from pathlib import Path

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.base.output_lock import claim_output_dir
from ligo.report.plots import plot
from ligo.report.runs import TARGET_METRICS, choose_metric, final_cost, load_rows, load_run, parse_run_spec
from ligo.report.tables import SCRATCH, markdown, verdict, write_csv
from ligo.report.targets import check_target, summarize


def output_folder(path, contents: str) -> Path:
    """``--output_dir`` as a Path; a UserError when it is an existing file (``contents``: what it receives)."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"--output_dir '{out}' is a file; pass a folder (it receives {contents})")
    return out


# ---------------------------------------------------------------- main

def build_parser() -> OneLineParser:
    parser = OneLineParser(prog="python -m ligo.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scratch", required=True, metavar="RUN_DIR", help="the run trained from scratch")
    parser.add_argument("--run", action="append", required=True, metavar="NAME=RUN_DIR[+OPERATOR_DIR]",
                        help="a grown run, with the growth operator's run if its cost counts; repeatable")
    parser.add_argument("--small", metavar="[NAME=]DIR",
                        help="the small model's pretraining run (reported, not counted)")
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
