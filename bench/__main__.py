"""Run every benchmark and write the table ``bench/RESULTS.md``: ``python -m bench``.

``python -m bench --only data_path scaling`` runs some (by module name) and prints their table
without touching RESULTS.md, unless ``--output`` names a file for it."""

import datetime
import os
import platform
import subprocess
import time
from pathlib import Path

from bench import (
    checkpoint_io,
    data_path,
    evaluation,
    fsdp_memory,
    method_flops,
    operator_overhead,
    operator_vs_per_module,
    scaling,
    tokenize,
    train_throughput,
)
from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error

# One module per benchmark; each has ``run() -> list[dict]`` with the keys of COLUMNS, or, for
# a table of its own, a "table" key (the table's title) and its own columns.
BENCHMARKS = [tokenize, data_path, train_throughput, evaluation, checkpoint_io, operator_overhead,
              operator_vs_per_module, scaling, method_flops, fsdp_memory]
COLUMNS = {
    "benchmark": "benchmark",
    "ratio": "ratio (higher is better for ours)",
    "ours": "ours",
    "baseline": "baseline",
    "notes": "notes",
}
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    import torch
    import transformers

    return (
        f"{os.cpu_count()} cores, {cpu_model()}; Python {platform.python_version()}, "
        f"torch {torch.__version__}, transformers {transformers.__version__}"
    )


def commit() -> str:
    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        return git("rev-parse", "--short", "HEAD") + ("+dirty" if git("status", "--porcelain") else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def cell(value) -> str:
    if isinstance(value, float):
        value = f"{value:.2f}x"
    return str(value).replace("|", "\\|")


def table(columns: list[str], header: list[str], rows: list[dict]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(row.get(key, "")) for key in columns) + " |" for row in rows]


def own_tables(rows: list[dict]) -> list[str]:
    """The rows with a "table" key, one table per title, in order of appearance."""
    lines = []
    for title in dict.fromkeys(row["table"] for row in rows if "table" in row):
        members = [row for row in rows if row.get("table") == title]
        columns = [key for key in members[0] if key != "table"]
        lines += ["", f"## {title}", "", *table(columns, columns, members)]
    return lines


def markdown(rows: list[dict], load: float, seconds: dict[str, float]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m bench` on {datetime.date.today()}. "
        "Each ratio compares ours with a baseline run in the same script; how, is in its notes. "
        "Higher is better.",
        "",
        f"- machine: {machine()}; load average before the run: {load:.2f}",
        f"- commit: {commit()}",
        f"- run time: {sum(seconds.values()) / 60:.1f} min ("
        + ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items()) + ")",
        "",
    ]
    lines += table(list(COLUMNS), list(COLUMNS.values()), [row for row in rows if "table" not in row])
    return "\n".join(lines + own_tables(rows)) + "\n"


def short_name(module) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def parse_args():
    names = [short_name(module) for module in BENCHMARKS]
    parser = OneLineParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help=f"run only these: {', '.join(names)}")
    parser.add_argument("--output", type=Path, help=f"where to write the table (default: {RESULTS} for a full run, "
                                                     "nowhere for --only)")
    args = parser.parse_args()
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        raise UserError(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(names)}")
    return args


@exit_on_user_error
def main():
    args = parse_args()
    modules = [module for module in BENCHMARKS if not args.only or short_name(module) in args.only]
    output = args.output or (None if args.only else RESULTS)  # a partial run must not replace the full table
    load = os.getloadavg()[0]  # other work on the machine skews the timings
    rows, seconds = [], {}
    for module in modules:
        print(f"== {module.__name__}", flush=True)
        started = time.perf_counter()
        rows += module.run()
        seconds[short_name(module)] = time.perf_counter() - started
        print(f"   ({seconds[short_name(module)]:.0f} s)", flush=True)
    text = markdown(rows, load, seconds)
    if output:
        output.write_text(text)
        print(f"wrote {output}\n")
    print(text)


if __name__ == "__main__":
    main()
