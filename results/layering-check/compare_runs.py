"""Compares two checkouts' miniature results figure by figure, wall time aside.

    python results/layering-check/compare_runs.py BEFORE_ROOT AFTER_ROOT runs/mini results/mini

For each run folder under RUNS (every metrics.jsonl) and the report's savings.csv under RESULTS,
prints the number of values compared and every one that differs, to the last bit; exits 1 if
any does."""

import csv
import json
import sys
from pathlib import Path

# Wall-clock figures differ between any two runs; every other value must not.
TIME_KEYS = ("seconds", "time", "speed")


def timeless(record: dict) -> dict:
    return {key: value for key, value in record.items() if not any(word in key for word in TIME_KEYS)}


def compare(before: Path, after: Path, runs: str, results: str) -> int:
    differences, compared = [], 0
    for metrics in sorted((before / runs).rglob("metrics.jsonl")):
        relative = metrics.relative_to(before)
        old = [timeless(json.loads(line)) for line in metrics.read_text().splitlines()]
        new = [timeless(json.loads(line)) for line in (after / relative).read_text().splitlines()]
        compared += sum(len(row) for row in old)
        if old != new:
            first = next((i for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)))
            differences.append(f"{relative}: {len(old)} rows before, {len(new)} after, first difference at row {first}")
    with open(before / results / "savings.csv") as a, open(after / results / "savings.csv") as b:
        old, new = [timeless(row) for row in csv.DictReader(a)], [timeless(row) for row in csv.DictReader(b)]
    compared += sum(len(row) for row in old)
    for row_old, row_new in zip(old, new):
        for key in row_old:
            if row_old[key] != row_new.get(key):
                differences.append(f"savings.csv {row_old['method']} {key}: {row_old[key]} -> {row_new.get(key)}")
    if len(old) != len(new):
        differences.append(f"savings.csv: {len(old)} rows before, {len(new)} after")
    print(f"{runs} and {results}: {compared} values compared, {len(differences)} differ")
    for line in differences:
        print("  " + line)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(compare(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]))
