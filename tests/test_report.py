"""The savings report on synthetic metrics.jsonl files with known crossings (no training)."""

import csv
import json
import subprocess
from pathlib import Path

import pytest
from training_helpers import refused_while_held

from ligo.base.errors import UserError
from ligo.report import savings as report
from ligo.report.runs import TOP1, Pace, eval_points, parse_run_spec, step_pace
from ligo.report.tables import COLUMNS, REACH_COLUMNS
from ligo.report.targets import cost_to_target

REPO = Path(__file__).resolve().parents[1]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def write_run(path: Path, points, extra_rows=()) -> str:
    """A run dir whose metrics.jsonl has one evaluated row per ``(flops, seconds, eval_loss)``."""
    path.mkdir(parents=True)
    rows = [{"step": 10 * i, "train_loss": None if i == 0 else 5.0, "flops": f, "train_seconds": s,
             "eval_loss": loss} for i, (f, s, loss) in enumerate(points)]
    rows += list(extra_rows)
    (path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.fixture
def runs(tmp_path):
    return {
        "scratch": write_run(tmp_path / "scratch", [(0, 0, 10), (100, 10, 6), (200, 20, 4)]),
        "grown": write_run(tmp_path / "grown", [(0, 0, 5), (50, 5, 4.5), (100, 10, 3.5)]),
        # no eval rows: only its cumulative cost matters
        "op": write_run(tmp_path / "op", [], [{"step": 5, "flops": 4, "train_seconds": 0.5},
                                               {"step": 10, "flops": 10, "train_seconds": 1}]),
        "never": write_run(tmp_path / "never", [(0, 0, 9), (100, 10, 5), (200, 20, 4.2)]),
        "below": write_run(tmp_path / "below", [(0, 0, 3.9), (100, 10, 3.0)]),
        "small": write_run(tmp_path / "small", [(0, 0, 9), (30, 3, 6)]),
    }


def make_report(runs, out, *extra):
    report.main(["--scratch", runs["scratch"], "--run", f"LiGO={runs['grown']}+{runs['op']}",
                 "--run", f"Never={runs['never']}", "--run", f"Below={runs['below']}+{runs['op']}",
                 "--small", runs["small"], "--output_dir", str(out), *extra])
    with open(out / "savings.csv", newline="") as f:
        return {row["method"]: row for row in csv.DictReader(f)}


def test_cost_to_target_interpolates_the_first_crossing():
    points = [(0, 0, 5), (50, 5, 4.5), (100, 10, 3.5), (150, 15, 4.5), (200, 20, 3.0)]
    assert cost_to_target(points, 4) == (75, 7.5)
    assert cost_to_target(points, 3.5) == (100, 10)
    assert cost_to_target(points, 5) == (0, 0)
    assert cost_to_target(points, 2.9) is None


def test_exact_savings_in_csv(runs, tmp_path, capsys):
    rows = make_report(runs, tmp_path / "out")
    scratch, ligo = rows["Scratch"], rows["LiGO"]
    assert float(scratch["flops_to_target"]) == 200 and float(scratch["seconds_to_target"]) == 20
    assert float(scratch["flops_saved_pct"]) == 0 and float(scratch["final_eval_loss"]) == 4
    # crossing at 75 FLOPs / 7.5 s, plus the operator's 10 FLOPs / 1 s
    assert float(ligo["flops_to_target"]) == pytest.approx(85)
    assert float(ligo["seconds_to_target"]) == pytest.approx(8.5)
    assert float(ligo["flops_saved_pct"]) == pytest.approx(57.5)
    assert float(ligo["time_saved_pct"]) == pytest.approx(57.5)
    assert (float(ligo["operator_flops"]), float(ligo["operator_seconds"])) == (10, 1)
    assert float(ligo["final_eval_loss"]) == 3.5
    assert "| LiGO | 85 | 57.5% | 8.5 s | 57.5% |" in capsys.readouterr().out


def test_not_reached_is_never_a_number(runs, tmp_path):
    rows = make_report(runs, tmp_path / "out")
    never = rows["Never"]
    for key in ("flops_to_target", "flops_saved_pct", "seconds_to_target", "time_saved_pct", "steps_to_target",
                "seconds_to_target_at_scratch_speed", "time_saved_at_scratch_speed_pct"):
        assert never[key] == "not reached"
    md = (tmp_path / "out" / "savings.md").read_text()
    # five reach columns: FLOPs, FLOPs saved, wall time, wall time saved, and saved at scratch's step time
    assert "| Never | not reached | not reached | not reached | not reached | not reached | 4.2000 |" in md


def test_run_starting_below_target_costs_only_its_operator(runs, tmp_path):
    below = make_report(runs, tmp_path / "out")["Below"]
    assert (float(below["flops_to_target"]), float(below["seconds_to_target"])) == (10, 1)
    assert float(below["flops_saved_pct"]) == pytest.approx(95)


def test_small_model_cost_reported_but_not_counted(runs, tmp_path):
    with_small = make_report(runs, tmp_path / "a")
    assert (float(with_small["LiGO"]["small_flops"]), float(with_small["LiGO"]["small_seconds"])) == (30, 3)
    assert with_small["Scratch"]["small_flops"] == ""
    assert float(with_small["LiGO"]["flops_to_target"]) == pytest.approx(85)
    assert "30 FLOPs / 3 s" in (tmp_path / "a" / "savings.md").read_text()


def test_focus_verdict(runs, tmp_path):
    make_report(runs, tmp_path / "a", "--focus", "LiGO")
    # Below saves 95% (it starts under the target), LiGO 57.5%
    assert ("LiGO saves 57.5% of the training FLOPs (57.5% of the wall time) against scratch; the best other "
            "method, Below, saves 95.0%: LiGO does not beat the baselines here.") in (
        tmp_path / "a" / "savings.md").read_text()
    make_report(runs, tmp_path / "b", "--focus", "Below")
    assert "the best other method, LiGO, saves 57.5%: Below beats the baselines here." in (
        tmp_path / "b" / "savings.md").read_text()
    make_report(runs, tmp_path / "c", "--focus", "Never")
    assert "Never never reached the target; Below saves 95.0% of the FLOPs: Never does not beat" in (
        tmp_path / "c" / "savings.md").read_text()


def test_focus_must_name_a_run(runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        make_report(runs, tmp_path / "out", "--focus", "LIGO")
    assert exit_info.value.code == 2
    assert "--focus 'LIGO' is not one of the --run names (LiGO, Never, Below)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_target_line_and_plots(runs, tmp_path):
    make_report(runs, tmp_path / "out")
    md = (tmp_path / "out" / "savings.md").read_text()
    assert "eval loss 4.0000" in md and runs["scratch"] in md
    for name in ("loss_vs_flops.png", "loss_vs_time.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert len(data) > 1000 and data[:8] == PNG_SIGNATURE


def test_missing_dir_and_file(runs, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        eval_points(tmp_path / "nowhere")
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(UserError, match=r"empty_run/metrics\.jsonl does not exist"):
        eval_points(tmp_path / "empty_run")


def test_malformed_line_names_file_and_line(runs, tmp_path):
    path = Path(runs["grown"]) / "metrics.jsonl"
    path.write_text(path.read_text() + '{"step": 40, "flops": \n')
    with pytest.raises(UserError, match=r"grown/metrics\.jsonl line 4 is not valid JSON"):
        eval_points(runs["grown"])


def test_no_eval_rows(runs):
    with pytest.raises(UserError, match="no row with an eval_loss"):
        eval_points(runs["op"])


@pytest.mark.parametrize("spec", ["LiGO", "=dir", "LiGO=", "LiGO=a+b+c", "LiGO=a+"])
def test_bad_run_spec(spec):
    with pytest.raises(UserError, match="NAME=RUN_DIR"):
        parse_run_spec(spec)


def test_run_spec_with_operator():
    assert parse_run_spec("LiGO=g+o") == ("LiGO", "g", "o")
    assert parse_run_spec("StackBERT=s") == ("StackBERT", "s", None)


def test_duplicate_names_exit_with_one_line(runs, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        report.main(["--scratch", runs["scratch"], "--run", f"A={runs['grown']}", "--run", f"A={runs['never']}",
                     "--output_dir", str(tmp_path / "out")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "'A' is used twice" in err and "\n" not in err


def test_command_line_end_to_end(runs, tmp_path, warm_python):
    out = tmp_path / "cli"
    result = subprocess.run([warm_python, "-m", "ligo.report", "--scratch", runs["scratch"],
                             "--run", f"LiGO={runs['grown']}+{runs['op']}", "--small", f"Small={runs['small']}",
                             "--output_dir", str(out)], cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "| LiGO | 85 | 57.5% | 8.5 s | 57.5% |" in result.stdout
    assert {p.name for p in out.iterdir()} == {"savings.md", "savings.csv", "loss_vs_flops.png", "loss_vs_time.png"}
    bad = subprocess.run([warm_python, "-m", "ligo.report", "--scratch", str(tmp_path / "nowhere"),
                          "--run", f"LiGO={runs['grown']}", "--output_dir", str(out)],
                         cwd=REPO, capture_output=True, text=True)
    assert bad.returncode == 2 and "nowhere does not exist" in bad.stderr


def test_a_report_into_a_folder_in_use_is_refused_naming_the_holder(runs, tmp_path, warm_python):
    """This test's process holds the folder, as a first report would while it writes; a second
    one, its own process, is refused in one line and writes nothing there."""
    out = tmp_path / "held"
    out.mkdir()
    refused_while_held(out, "python -m ligo.report", lambda: subprocess.run(
        [warm_python, "-m", "ligo.report", "--scratch", runs["scratch"], "--run", f"LiGO={runs['grown']}",
         "--output_dir", str(out)], cwd=REPO, capture_output=True, text=True))
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------- machine speed

def write_paced_run(path: Path, flops_per_step, seconds_per_step, losses: dict, every=10, last=None) -> str:
    """A run dir logging every ``every`` steps at a constant FLOPs and seconds per step, with an
    eval_loss at the steps that are keys of ``losses``."""
    path.mkdir(parents=True)
    last = max(losses) if last is None else last
    rows = [{"step": step, "flops": flops_per_step * step, "train_seconds": seconds_per_step * step,
             **({"eval_loss": losses[step]} if step in losses else {})} for step in range(0, last + 1, every)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


# Scratch: 10 FLOPs and 1 s per step, target 4 reached at step 40 (400 FLOPs, 40 s).
SCRATCH_LOSSES = {0: 10, 10: 8, 20: 6, 30: 5, 40: 4}
# Every other run crosses 4 halfway between step 20 (loss 5) and 30 (loss 3): at step 25.
GROWN_LOSSES = {0: 9, 10: 6, 20: 5, 30: 3}


@pytest.fixture
def paced(tmp_path):
    return {
        "scratch": write_paced_run(tmp_path / "scratch", 10, 1.0, SCRATCH_LOSSES),
        "slow": write_paced_run(tmp_path / "slow", 10, 2.0, GROWN_LOSSES),          # same shape, 2x slower steps
        "close": write_paced_run(tmp_path / "close", 10, 1.05, GROWN_LOSSES),       # same shape, 5% slower
        "wide": write_paced_run(tmp_path / "wide", 20, 1.5, GROWN_LOSSES),          # another shape
        # the operator: 6 FLOPs and 0.3 s per step for 10 steps, logged every 5
        "op": write_paced_run(tmp_path / "op", 6, 0.3, {}, every=5, last=10),
    }


def paced_report(paced, out, *extra):
    report.main(["--scratch", paced["scratch"], "--run", f"Slow={paced['slow']}", "--run", f"Close={paced['close']}",
                 "--run", f"Wide={paced['wide']}", "--run", f"SlowOp={paced['slow']}+{paced['op']}",
                 "--output_dir", str(out), *extra])
    with open(out / "savings.csv", newline="") as f:
        return {row["method"]: row for row in csv.DictReader(f)}


def test_step_pace_is_the_median_over_steps():
    rows = [{"step": 0, "flops": 0, "train_seconds": 0},
            {"step": 1, "flops": 10, "train_seconds": 10},    # a slow first step (warm-up)
            {"step": 1, "flops": 10, "train_seconds": 10.5},  # the same step again: no interval, skipped
            {"step": 2, "flops": 20, "train_seconds": 11.5},
            {"step": 3, "flops": 30, "train_seconds": 12.5},
            {"step": 5, "flops": 50, "train_seconds": 14.5}]  # 2 steps in 2 s
    # seconds per step over the intervals: 10, 1, 1, 1; the mean over all 5 steps: 14.5 / 5
    assert step_pace(rows) == Pace(10, 1, 2.9)
    assert step_pace(rows[:1]) is None


def test_cost_to_target_interpolates_every_cost():
    points = [(0, 0, 0, 9), (200, 40, 20, 5), (300, 60, 30, 3)]
    assert cost_to_target(points, 4) == (250, 50, 25)


def test_slower_machine_is_flagged_and_saving_at_scratch_speed_equals_flops_saving(paced, tmp_path):
    rows = paced_report(paced, tmp_path / "out")
    scratch, slow = rows["Scratch"], rows["Slow"]
    assert float(scratch["median_step_seconds"]) == 1 and scratch["speed_changed"] == "false"
    assert float(scratch["seconds_to_target_at_scratch_speed"]) == 40
    assert float(scratch["time_saved_at_scratch_speed_pct"]) == 0
    # crossing at step 25: 250 FLOPs (37.5% saved), 50 s measured (-25%: slower than scratch's 40 s)
    assert float(slow["steps_to_target"]) == 25
    assert float(slow["flops_saved_pct"]) == pytest.approx(37.5)
    assert float(slow["seconds_to_target"]) == pytest.approx(50)
    assert float(slow["time_saved_pct"]) == pytest.approx(-25)
    assert float(slow["median_step_seconds"]) == 2
    assert (slow["same_shape_as_scratch"], slow["speed_changed"]) == ("true", "true")
    # 25 steps at scratch's 1 s: 25 s of scratch's 40, the FLOPs saving exactly
    assert float(slow["seconds_to_target_at_scratch_speed"]) == pytest.approx(25)
    assert float(slow["time_saved_at_scratch_speed_pct"]) == pytest.approx(float(slow["flops_saved_pct"]))
    md = (tmp_path / "out" / "savings.md").read_text()
    assert "| Slow | 250 | 37.5% | 50 s | -25.0% † | 37.5% |" in md
    assert ("† The machine's speed changed between runs: at scratch's FLOPs per step, the median (mean) step time "
            "is Slow 2 s (2 s), SlowOp 2 s (2 s), against 1 s (1 s) for scratch (one of them more than 10% apart); the "
            "measured wall-time saving of these runs is not comparable") in md


def test_a_burst_of_load_inside_scratch_is_flagged_though_medians_agree(tmp_path):
    """Seen in make mini: scratch's 100-step windows took 15 s alone and 136 s next to another job;
    its median step time was the grown runs', its total 10x theirs."""
    scratch = tmp_path / "scratch"
    write_paced_run(scratch, 10, 1.0, SCRATCH_LOSSES)
    rows = [json.loads(line) for line in (scratch / "metrics.jsonl").read_text().splitlines()]
    for row in rows[1:]:
        row["train_seconds"] += 90  # the first 10 steps took 100 s
    (scratch / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    grown = write_paced_run(tmp_path / "grown", 10, 1.0, GROWN_LOSSES)
    report.main(["--scratch", str(scratch), "--run", f"Grown={grown}", "--output_dir", str(tmp_path / "out")])
    with open(tmp_path / "out" / "savings.csv", newline="") as f:
        row = {r["method"]: r for r in csv.DictReader(f)}["Grown"]
    assert float(row["median_step_seconds"]) == 1 and float(row["mean_step_seconds"]) == 1
    assert row["speed_changed"] == "true"
    # measured: 25 s against scratch's 130 s; at scratch's median step time: the FLOPs saving
    assert float(row["time_saved_pct"]) == pytest.approx(100 * (1 - 25 / 130))
    assert float(row["time_saved_at_scratch_speed_pct"]) == pytest.approx(37.5)


def test_run_within_ten_percent_is_not_flagged(paced, tmp_path):
    close = paced_report(paced, tmp_path / "out")["Close"]
    assert float(close["median_step_seconds"]) == pytest.approx(1.05)
    assert (close["same_shape_as_scratch"], close["speed_changed"]) == ("true", "false")
    # 25 steps x 1.05 s = 26.25 s measured (34.375% saved); 25 s at scratch's step time (37.5%)
    assert float(close["time_saved_pct"]) == pytest.approx(34.375)
    assert float(close["time_saved_at_scratch_speed_pct"]) == pytest.approx(37.5)
    assert "| Close | 250 | 37.5% | 26.25 s | 34.4% | 37.5% |" in (tmp_path / "out" / "savings.md").read_text()


def test_run_of_another_shape_gets_na_and_no_flag(paced, tmp_path):
    wide = paced_report(paced, tmp_path / "out")["Wide"]
    assert float(wide["median_step_seconds"]) == 1.5
    assert (wide["same_shape_as_scratch"], wide["speed_changed"]) == ("false", "false")
    assert wide["seconds_to_target_at_scratch_speed"] == "" and wide["time_saved_at_scratch_speed_pct"] == ""
    # measured: 500 FLOPs (-25%), 37.5 s (6.25% saved), no marker
    md = (tmp_path / "out" / "savings.md").read_text()
    assert "| Wide | 500 | -25.0% | 37.5 s | 6.2% | n/a |" in md
    assert "Wide 1.5 s" not in md


def test_operator_counts_at_its_own_measured_time(paced, tmp_path):
    slow_op = paced_report(paced, tmp_path / "out")["SlowOp"]
    assert float(slow_op["operator_median_step_seconds"]) == pytest.approx(0.3)
    # 25 steps at scratch's 1 s plus the operator's measured 3 s: 28 s of 40 (30% saved);
    # FLOPs: 250 + 60 = 310 of 400 (22.5%)
    assert float(slow_op["seconds_to_target_at_scratch_speed"]) == pytest.approx(28)
    assert float(slow_op["time_saved_at_scratch_speed_pct"]) == pytest.approx(30)
    assert float(slow_op["flops_saved_pct"]) == pytest.approx(22.5)
    md = (tmp_path / "out" / "savings.md").read_text()
    assert ("the run's steps to target times scratch's median step time (1 s), plus the operator's own measured "
            "training time") in md


def test_focus_verdict_on_a_flagged_run_stays_on_flops(paced, tmp_path):
    paced_report(paced, tmp_path / "out", "--focus", "Slow")
    assert ("Slow saves 37.5% of the training FLOPs (-25.0% of the wall time as measured, not comparable as the "
            "machine's speed changed; 37.5% at scratch's step time) against scratch; the best other method, Close, "
            "saves 37.5%: Slow does not beat the baselines here.") in (tmp_path / "out" / "savings.md").read_text()


# ---------------------------------------------------------------- accuracy targets (image classification, Table 2)

def write_image_run(path: Path, points, drop=None) -> str:
    """An image classification run dir: one evaluated row per ``(flops, seconds, top1)``, each with
    an eval_loss that falls as the accuracy rises, eval_top5 and eval_images (``drop``: a key left
    out of the last evaluated row)."""
    path.mkdir(parents=True)
    rows = [{"step": 10 * i, "epoch": i, "train_loss": 3.0, "images": 1000 * i, "flops": f, "train_seconds": s,
             "eval_loss": 5 - top1 / 25, "eval_top1": top1, "eval_top5": min(100, top1 + 15), "eval_images": 500}
            for i, (f, s, top1) in enumerate(points)]
    if drop:
        del rows[-1][drop]
    (path / "metrics.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


@pytest.fixture
def image_runs(tmp_path):
    return {
        # scratch ends at 80% top-1, reached at 200 FLOPs / 20 s
        "scratch": write_image_run(tmp_path / "image" / "scratch", [(0, 0, 10), (100, 10, 50), (200, 20, 80)]),
        # crosses 80% between 60% (50 FLOPs) and 90% (100 FLOPs), dips below afterwards: the first crossing counts
        "grown": write_image_run(tmp_path / "image" / "grown", [(0, 0, 20), (50, 5, 60), (100, 10, 90), (150, 15, 79),
                                                      (200, 20, 92)]),
    }


def image_report(image_runs, out, *extra, runs=None):
    report.main(["--scratch", image_runs["scratch"], "--run", f"Grown={image_runs['grown']}",
                 *(runs or []), "--output_dir", str(out), *extra])
    with open(out / "savings.csv", newline="") as f:
        return {row["method"]: row for row in csv.DictReader(f)}


def test_cost_to_target_interpolates_an_accuracy_crossing_upward():
    points = [(0, 0, 20), (50, 5, 60), (100, 10, 90), (150, 15, 70), (200, 20, 95)]
    # 80 is 2/3 of the way from 60 to 90: 50 + 2/3 * 50 FLOPs
    assert cost_to_target(points, 80, higher_is_better=True) == pytest.approx((250 / 3, 25 / 3))
    assert cost_to_target(points, 20, higher_is_better=True) == (0, 0)
    assert cost_to_target(points, 90, higher_is_better=True) == (100, 10)
    assert cost_to_target(points, 96, higher_is_better=True) is None


def test_accuracy_target_is_scratch_final_top1(image_runs, tmp_path, capsys):
    out = tmp_path / "out"
    rows = image_report(image_runs, out)  # --metric auto: scratch logged eval_top1
    scratch, grown = rows["Scratch"], rows["Grown"]
    assert (scratch["metric"], float(scratch["final_metric"])) == ("eval_top1", 80)
    assert (float(scratch["flops_to_target"]), float(scratch["seconds_to_target"])) == (200, 20)
    # 80% crossed 2/3 of the way from 60% (50 FLOPs, 5 s) to 90% (100 FLOPs, 10 s)
    assert float(grown["flops_to_target"]) == pytest.approx(250 / 3)
    assert float(grown["seconds_to_target"]) == pytest.approx(25 / 3)
    assert float(grown["steps_to_target"]) == pytest.approx(10 + 20 / 3)
    assert float(grown["flops_saved_pct"]) == pytest.approx(100 * (1 - (250 / 3) / 200))  # 58.33%
    assert float(grown["time_saved_pct"]) == pytest.approx(100 * (1 - (25 / 3) / 20))
    assert float(grown["final_metric"]) == 92
    assert float(grown["final_eval_loss"]) == pytest.approx(5 - 92 / 25)  # kept beside, in its old place
    md = (out / "savings.md").read_text()
    assert md.startswith(f"Target: eval top-1 accuracy 80.00%, the final top-1 of the scratch run "
                         f"{image_runs['scratch']}. ")
    assert "| Method | FLOPs to target | FLOPs saved | Wall time to target | Wall time saved" in md
    assert "| Final top-1 | Operator cost |" in md and "Final eval loss" not in md
    assert "| Grown | 83.33 | 58.3% | 8.333 s | 58.3% | n/a | 92.00% |" in md
    assert md in capsys.readouterr().out
    assert {p.name for p in out.iterdir()} == {"savings.md", "savings.csv", "accuracy_vs_flops.png",
                                               "accuracy_vs_time.png"}
    for name in ("accuracy_vs_flops.png", "accuracy_vs_time.png"):
        data = (out / name).read_bytes()
        assert len(data) > 1000 and data[:8] == PNG_SIGNATURE


def test_csv_keeps_its_columns_and_adds_the_metric_last(image_runs, tmp_path):
    image_report(image_runs, tmp_path / "out")
    with open(tmp_path / "out" / "savings.csv", newline="") as f:
        header = next(csv.reader(f))
    assert header == COLUMNS and header[5] == "final_eval_loss" and header[-2:] == ["final_metric", "metric"]


def test_metric_eval_loss_on_image_runs(image_runs, tmp_path):
    """--metric eval_loss makes Table 1's report of image runs: scratch's final loss 5 - 80/25 = 1.8."""
    out = tmp_path / "out"
    rows = image_report(image_runs, out, "--metric", "eval_loss")
    assert rows["Grown"]["metric"] == "eval_loss" and float(rows["Grown"]["final_metric"]) == pytest.approx(1.32)
    # loss 1.8 is reached exactly where top-1 80% is
    assert float(rows["Grown"]["flops_to_target"]) == pytest.approx(250 / 3)
    assert "Target: eval loss 1.8000 (perplexity" in (out / "savings.md").read_text()
    assert (out / "loss_vs_flops.png").is_file() and not (out / "accuracy_vs_flops.png").exists()


def test_metric_top5(image_runs, tmp_path):
    rows = image_report(image_runs, tmp_path / "out", "--metric", "eval_top5")
    # scratch ends at 95% top-5; Grown's top-5 goes 75% (50 FLOPs) -> 100% (100 FLOPs): 95% at 4/5 of the way
    assert float(rows["Scratch"]["final_metric"]) == 95 and rows["Scratch"]["metric"] == "eval_top5"
    assert float(rows["Grown"]["flops_to_target"]) == pytest.approx(90)
    assert "Target: eval top-5 accuracy 95.00%, the final top-5 of the scratch run" in (
        tmp_path / "out" / "savings.md").read_text()


def test_explicit_target_scratch_reaches(image_runs, tmp_path):
    rows = image_report(image_runs, tmp_path / "out", "--target", "70")
    # scratch: 70% is 2/3 of the way from 50% (100 FLOPs) to 80% (200); Grown: 1/3 of 60% -> 90% (50 -> 100)
    assert float(rows["Scratch"]["flops_to_target"]) == pytest.approx(500 / 3)
    assert float(rows["Grown"]["flops_to_target"]) == pytest.approx(200 / 3)
    assert float(rows["Grown"]["flops_saved_pct"]) == pytest.approx(60)
    assert float(rows["Scratch"]["final_metric"]) == 80  # the final value, not the target
    assert (f"Target: eval top-1 accuracy 70.00%, set by --target (the scratch run {image_runs['scratch']} ends at "
            f"80.00%). ") in (tmp_path / "out" / "savings.md").read_text()


def test_explicit_target_scratch_never_reaches_leaves_savings_undefined(image_runs, tmp_path):
    """Scratch tops out at 80%: at 85% it reads "not reached", and every saving is undefined
    (empty in the CSV, n/a in the table) while a run's own cost to target is still given."""
    out = tmp_path / "out"
    rows = image_report(image_runs, out, "--target", "85", "--focus", "Grown")
    scratch, grown = rows["Scratch"], rows["Grown"]
    for key in REACH_COLUMNS:
        assert scratch[key] == "not reached"
    # Grown: 85% is 5/6 of the way from 60% (50 FLOPs) to 90% (100 FLOPs)
    assert float(grown["flops_to_target"]) == pytest.approx(50 + 250 / 6)
    assert grown["flops_saved_pct"] == grown["time_saved_pct"] == grown["time_saved_at_scratch_speed_pct"] == ""
    md = (out / "savings.md").read_text()
    assert "| Scratch | not reached | not reached | not reached | not reached | not reached | 80.00% |" in md
    assert "| Grown | 91.67 | n/a | 9.167 s | n/a | n/a | 92.00% |" in md
    assert "The scratch run never reaches the target: no saving is defined (n/a)" in md
    assert "The scratch run never reached the target: no saving is defined, Grown cannot be ranked here." in md


def test_explicit_loss_target(runs, tmp_path):
    rows = make_report(runs, tmp_path / "out", "--target", "4.5")
    # scratch: 4.5 is 3/4 of the way from 6 (100) to 4 (200); LiGO reaches 4.5 at 50 FLOPs, plus 10 of the operator
    assert float(rows["Scratch"]["flops_to_target"]) == pytest.approx(175)
    assert float(rows["LiGO"]["flops_to_target"]) == pytest.approx(60)
    assert f"Target: eval loss 4.5000 (perplexity 90.02), set by --target (the scratch run {runs['scratch']} ends " \
           f"at 4.0000). " in (tmp_path / "out" / "savings.md").read_text()


@pytest.mark.parametrize("value, message", [
    ("nan", "--target nan is not a finite number"), ("inf", "--target inf is not a finite number"),
    ("0", "--target 0 is not an accuracy in (0, 100]"), ("101", "--target 101 is not an accuracy in (0, 100]"),
    ("0.81", None)])
def test_bad_accuracy_target_is_refused(image_runs, tmp_path, capsys, value, message):
    if message is None:  # a fraction is a valid (tiny) percent target: reached at once
        assert float(image_report(image_runs, tmp_path / "out", "--target", value)["Grown"]["flops_to_target"]) == 0
        return
    with pytest.raises(SystemExit) as exit_info:
        image_report(image_runs, tmp_path / "out", "--target", value)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_loss_target_must_be_finite(runs, tmp_path, capsys):
    with pytest.raises(SystemExit):
        make_report(runs, tmp_path / "out", "--target=-inf")  # "-inf" alone reads as an option
    assert "--target -inf is not a finite number" in capsys.readouterr().err


def test_run_lacking_the_metric_is_refused(image_runs, runs, tmp_path, capsys):
    # a language run (eval_loss only) beside image runs, the target on top-1 (auto)
    with pytest.raises(SystemExit):
        report.main(["--scratch", image_runs["scratch"], "--run", f"LM={runs['grown']}",
                     "--output_dir", str(tmp_path / "a")])
    assert (f"{Path(runs['grown']) / 'metrics.jsonl'} has no row with an eval_top1; evaluate it with --do_eval "
            f"(an image classification run logs eval_top1), or pass --metric eval_loss") in capsys.readouterr().err
    # a language scratch run asked for top-1
    with pytest.raises(SystemExit):
        report.main(["--scratch", runs["scratch"], "--run", f"LiGO={runs['grown']}", "--metric", "eval_top1",
                     "--output_dir", str(tmp_path / "b")])
    assert (f"{Path(runs['scratch']) / 'metrics.jsonl'} has no row with an eval_top1; evaluate it with --do_eval "
            in capsys.readouterr().err)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_an_evaluated_row_lacking_the_metric_is_refused(image_runs, tmp_path):
    """A row evaluated without top-1 would be skipped, and the crossing interpolated across the gap."""
    partial = write_image_run(tmp_path / "partial", [(0, 0, 20), (50, 5, 60), (100, 10, 90)], drop="eval_top1")
    with pytest.raises(UserError, match=r"partial/metrics\.jsonl: the evaluated row of step 20 has no eval_top1; "
                                        r"evaluate it with --do_eval"):
        eval_points(partial, metric=TOP1)
