"""Run every benchmark and write the table ``bench/RESULTS.md``: ``python -m bench``."""

import datetime
import os
import platform
import subprocess
from pathlib import Path

from bench import operator_overhead, tokenize, train_throughput
from ligo.errors import exit_on_user_error

# One module per benchmark; each has ``run() -> list[dict]`` with the keys of COLUMNS.
BENCHMARKS = [tokenize, train_throughput, operator_overhead]
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


def markdown(rows: list[dict], load: float) -> str:
    def cell(value):
        if isinstance(value, float):
            value = f"{value:.2f}x"
        return str(value).replace("|", "\\|")

    lines = [
        "# Benchmarks",
        "",
        f"Written by `python -m bench` on {datetime.date.today()}. "
        "Each ratio compares ours with a baseline run in the same script; how, is in its notes. "
        "Higher is better.",
        "",
        f"- machine: {machine()}; load average before the run: {load:.2f}",
        f"- commit: {commit()}",
        "",
        "| " + " | ".join(COLUMNS.values()) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(cell(row.get(key, "")) for key in COLUMNS) + " |" for row in rows]
    return "\n".join(lines) + "\n"


@exit_on_user_error
def main():
    load = os.getloadavg()[0]  # other work on the machine skews the timings
    rows = []
    for module in BENCHMARKS:
        print(f"== {module.__name__}", flush=True)
        rows += module.run()
    RESULTS.write_text(markdown(rows, load))
    print(f"wrote {RESULTS}\n")
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
