"""Seeds aggregation on real per-seed reports: ligo.report.savings run on synthetic metrics.jsonl files."""

import csv
import math
import subprocess
from pathlib import Path

import pytest
from test_report import SCRATCH_LOSSES, write_paced_run

from ligo.base.errors import UserError
from ligo.report import savings as report
from ligo.report import seeds as report_seeds

REPO = Path(__file__).resolve().parents[1]

# Steps at which each method reaches the target (scratch: step 40), per seed; None: never.
# FLOPs saved = 1 - step / 40, so A: 50, 60, 45 %; B: 40, 30, 35 %; C: 55, 55, 50 %; D: 25, 20 %, not reached.
CROSSINGS = {"seed-1": {"A": 20, "B": 24, "C": 18, "D": 30},
             "seed-2": {"A": 16, "B": 28, "C": 18, "D": 32},
             "seed-3": {"A": 22, "B": 26, "C": 20, "D": None}}
SLOW = ("seed-3", "B")  # timed at 2 s a step against scratch's 1 s: flagged, measured saving -30%


def seed_report(folder: Path, crossings: dict, slow=()) -> str:
    """ligo.report.savings's output folder for one seed: scratch at 10 FLOPs and 1 s a step, every method
    at scratch's FLOPs per step, its eval loss at exactly the target (4) at its crossing step."""
    scratch = write_paced_run(folder / "scratch", 10, 1.0, SCRATCH_LOSSES)
    args = ["--scratch", scratch]
    for method, step in crossings.items():
        losses = {0: 5, 40: 4.5} if step is None else {0: 5, step: 4, 40: 3.5}
        run = write_paced_run(folder / method, 10, 2.0 if method in slow else 1.0, losses, every=2)
        args += ["--run", f"{method}={run}"]
    report.main([*args, "--output_dir", str(folder / "report")])
    return str(folder / "report")


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    base = tmp_path_factory.mktemp("seeds")
    return {seed: seed_report(base / seed, crossings, slow=[SLOW[1]] if seed == SLOW[0] else [])
            for seed, crossings in CROSSINGS.items()}


def aggregate(reports, out: Path, *extra, seeds=None) -> tuple:
    specs = [arg for seed in (seeds or reports) for arg in ("--report", f"{seed}={reports[seed]}")]
    report_seeds.main([*specs, "--output_dir", str(out), *extra])
    with open(out / "seeds.csv", newline="") as f:
        rows = {row["method"]: row for row in csv.DictReader(f)}
    return rows, (out / "seeds.md").read_text()


def test_means_and_sample_sds(reports, tmp_path, capsys):
    rows, md = aggregate(reports, tmp_path / "out")
    a = rows["A"]
    assert (a["seeds"], a["reached"], a["flops_saved_pct_n"]) == ("3", "3", "3")
    assert float(a["flops_saved_pct_mean"]) == pytest.approx(155 / 3)
    # deviations -5/3, 25/3, -20/3: squares sum to 350/3, over n - 1 = 2
    assert float(a["flops_saved_pct_sd"]) == pytest.approx(math.sqrt(175 / 3))
    assert float(a["final_eval_loss_mean"]) == 3.5 and float(a["final_eval_loss_sd"]) == 0
    b = rows["B"]
    assert float(b["flops_saved_pct_mean"]) == pytest.approx(35) and float(b["flops_saved_pct_sd"]) == pytest.approx(5)
    # measured: 40, 30 and -30 % (52 s of 40 in seed-3); at scratch's step time: the FLOPs saving
    assert float(b["time_saved_pct_mean"]) == pytest.approx(40 / 3)
    assert float(b["time_saved_pct_sd"]) == pytest.approx(math.sqrt(4300 / 3))
    assert float(b["time_saved_at_scratch_speed_pct_mean"]) == pytest.approx(35)
    assert b["speed_changed_seeds"] == "1"
    assert float(rows["Scratch"]["flops_saved_pct_sd"]) == 0
    assert "| A | 3 of 3 | 51.7% ± 7.6 | 51.7% ± 7.6 | 51.7% ± 7.6 | 3.5000 ± 0.0000 |" in md
    assert "| B | 3 of 3 | 35.0% ± 5.0 | 13.3% ± 37.9 † | 35.0% ± 5.0 | 3.5000 ± 0.0000 |" in md
    assert "| seed-3 | B | 35.0% | -30.0% † | 35.0% | 3.5000 |" in md
    assert "† The machine's speed changed between runs (B in seed-3" in md
    assert md == capsys.readouterr().out


def test_method_not_reaching_in_one_seed(reports, tmp_path):
    rows, md = aggregate(reports, tmp_path / "out")
    d = rows["D"]
    assert (d["reached"], d["flops_saved_pct_n"], d["final_eval_loss_n"]) == ("2", "2", "3")
    assert float(d["flops_saved_pct_mean"]) == pytest.approx(22.5)
    assert float(d["flops_saved_pct_sd"]) == pytest.approx(math.sqrt(12.5))
    assert "| D | 2 of 3 | 22.5% ± 3.5 (2 of 3 seeds) | 22.5% ± 3.5 (2 of 3 seeds) |" in md
    assert "| seed-3 | D | not reached | not reached | not reached | 4.5000 |" in md


def test_verdict_within_the_spread(reports, tmp_path):
    _, md = aggregate(reports, tmp_path / "out", "--focus", "A")
    # best other by mean: C (160/3). A - C per seed: -5, 5, -5; sd 10/sqrt(3) = 5.77; bound 2 * 5.77 / sqrt(3) = 6.67
    assert ("A saves 51.7% ± 7.6 of the training FLOPs (mean ± sd), the best other method by mean, C, 53.3% ± 2.9; "
            "the mean per-seed difference A − C, -1.67 points, is within the spread (the rule for exceeding it: "
            "|mean difference| > 2 × sd of the per-seed differences / √n = 2 × 5.77 / √3 = 6.67 points, about a "
            "95% interval, over the n = 3 seeds where both reached the target): these seeds do not tell A and C "
            "apart.") in md


def test_verdict_beyond_the_spread(reports, tmp_path):
    _, md = aggregate(reports, tmp_path / "out", "--focus", "B")
    # B - C per seed: -15, -25, -15: mean -18.33, sd 5.77, bound 6.67
    assert ("the mean per-seed difference B − C, -18.33 points, exceeds the spread (the rule: |mean difference| > "
            "2 × sd of the per-seed differences / √n = 2 × 5.77 / √3 = 6.67 points") in md
    assert "B saves fewer FLOPs than C across these seeds." in md
    # D reached in 2 seeds: paired over those, D - C: -30, -35; sd 3.54, bound 2 * 3.54 / sqrt(2) = 5
    _, md = aggregate(reports, tmp_path / "d", "--focus", "D")
    assert "D saves 22.5% ± 3.5 (2 of 3 seeds) of the training FLOPs" in md
    assert "-32.50 points, exceeds the spread" in md and "/ √2 = 5.00 points" in md and "n = 2 seeds" in md


def test_one_seed_has_no_spread(reports, tmp_path):
    rows, md = aggregate(reports, tmp_path / "out", "--focus", "A", seeds=["seed-1"])
    assert rows["A"]["flops_saved_pct_sd"] == ""
    assert "| A | 1 of 1 | 50.0% ± n/a |" in md
    assert "the spread is unknown: 1 seed where both reached the target" in md


def test_mismatched_methods_exit_with_one_line(reports, tmp_path, capsys):
    other = seed_report(tmp_path / "other", {"A": 20, "B": 24})
    with pytest.raises(SystemExit) as exit_info:
        report_seeds.main(["--report", f"seed-1={reports['seed-1']}", "--report", f"seed-9={other}",
                           "--output_dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert ("seed 'seed-9' has the methods Scratch, A, B but seed 'seed-1' has Scratch, A, B, C, D; make every "
            "seed's report with the same --run names") in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_missing_savings_and_duplicates(reports, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match=r"empty/savings\.csv does not exist; pass the --output_dir of a python -m "
                                        r"ligo\.report run"):
        report_seeds.load_seeds([f"seed-1={reports['seed-1']}", f"seed-2={tmp_path / 'empty'}"])
    with pytest.raises(UserError, match="report folder .*nowhere does not exist"):
        report_seeds.load_seeds([f"seed-1={tmp_path / 'nowhere'}"])
    with pytest.raises(UserError, match="seed name 'seed-1' is used twice"):
        report_seeds.load_seeds([f"seed-1={reports['seed-1']}", f"seed-1={reports['seed-2']}"])
    with pytest.raises(UserError, match="is the folder of seed 'seed-1' again"):
        report_seeds.load_seeds([f"seed-1={reports['seed-1']}", f"seed-2={reports['seed-1']}"])
    with pytest.raises(UserError, match="is not NAME=REPORT_DIR"):
        report_seeds.parse_report_spec(reports["seed-1"])


def test_focus_must_name_a_method(reports, tmp_path, capsys):
    with pytest.raises(SystemExit):
        aggregate(reports, tmp_path / "out", "--focus", "E")
    assert "--focus 'E' is not one of the methods (A, B, C, D)" in capsys.readouterr().err


def test_command_line(reports, tmp_path, warm_python):
    out = tmp_path / "cli"
    result = subprocess.run([warm_python, "-m", "ligo.report.seeds", *(a for seed, folder in reports.items()
                                                                          for a in ("--report", f"{seed}={folder}")),
                             "--output_dir", str(out), "--focus", "A"], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "| A | 3 of 3 | 51.7% ± 7.6 |" in result.stdout and "do not tell A and C apart" in result.stdout
    assert {p.name for p in out.iterdir()} == {"seeds.md", "seeds.csv"}
