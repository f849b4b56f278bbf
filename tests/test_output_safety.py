"""Output safety of both entry scripts, run as users run them: a new run refuses an --output_dir
that holds a run unless --should_continue or --overwrite_output_dir is given, and resuming with
another model config or grow scheme than the checkpoint's is refused with both values named;
a refused run changes nothing in the folder."""

import shutil
from pathlib import Path

import pytest
from conftest import run
from tiny_world import ENV, build_world
from training_helpers import grow_command, lm_command, read_metrics, tiny_config

SCRIPTS = ["run_lm_distributed.py", "run_grow_distributed.py"]


def command(python, world, script: str, output_dir: Path, *extra, config=None) -> list:
    """``python``: the warm interpreter (tests/warm_python.py); every run here is one process."""
    if script == "run_lm_distributed.py":
        return lm_command(world.run_config, config or world.small_config, output_dir, *extra, python=python)
    return grow_command(world.run_config, config or world.large_config, output_dir, "--tune_depth", "--tune_width",
                        "--source_model_path", world.small_model, *extra, python=python)


@pytest.fixture(scope="module")
def finished(tmp_path_factory, warm_python):
    """The world and a finished 2-step run of each script: script -> its output_dir."""
    world = build_world(tmp_path_factory.mktemp("world"))
    runs = {}
    for script in SCRIPTS:
        runs[script] = tmp_path_factory.mktemp("runs") / script.split("_")[1]
        run(command(warm_python, world, script, runs[script]), env=ENV)
    return world, runs


def copy_of(runs, script, tmp_path) -> Path:
    """A copy of the finished run, so that each test starts from the same folder."""
    return Path(shutil.copytree(runs[script], tmp_path / "out"))


def files_in(folder: Path) -> dict:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def refused(result, *expected: str):
    last = [line for line in result.stderr.splitlines() if line.strip()][-1]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    for text in expected:
        assert text in last, last


@pytest.mark.parametrize("script", SCRIPTS)
def test_a_new_run_refuses_a_folder_holding_a_run(script, finished, tmp_path, warm_python):
    world, runs = finished
    out = copy_of(runs, script, tmp_path)
    before = files_in(out)
    refused(run(command(warm_python, world, script, out), env=ENV, check=False),
            f"--output_dir '{out}' already holds a run (checkpoints, runs, metrics.jsonl, train_log.txt)",
            "pass --should_continue to resume it, --overwrite_output_dir to start afresh")
    assert files_in(out) == before


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("flag", ["--config_name", "--grow_scheme"])
def test_resuming_with_another_model_config_or_grow_scheme_is_refused(script, flag, finished, tmp_path, warm_python):
    world, runs = finished
    out = copy_of(runs, script, tmp_path)
    before = files_in(out)
    saved, other = (world.small_config if script == "run_lm_distributed.py" else world.large_config), None
    if flag == "--config_name":
        other = tiny_config(tmp_path / "bert-3L-64H.json", "bert", world.vocab, layers=3)
        result = run(command(warm_python, world, script, out, "--should_continue", config=other), env=ENV, check=False)
    else:
        saved, other = "none", "stackbert"
        result = run(command(warm_python, world, script, out, "--should_continue", "--grow_scheme", other), env=ENV,
                     check=False)
    refused(result, f"checkpoint '{out / 'checkpoints' / 'checkpoint-00000002'}' was made with {flag} {saved}, "
                    f"this run has {flag} {other}", "use the same value or another --output_dir")
    assert files_in(out) == before


@pytest.mark.parametrize("script", SCRIPTS)
def test_should_continue_resumes_and_overwrite_starts_afresh(script, finished, tmp_path, warm_python):
    world, runs = finished
    out = copy_of(runs, script, tmp_path)
    resumed = run(command(warm_python, world, script, out, "--should_continue", "--max_steps", 4), env=ENV)
    assert f"resuming from {out / 'checkpoints' / 'checkpoint-00000002'}" in resumed.stdout
    assert [m["step"] for m in read_metrics(out)] == [0, 2, 4]
    fresh = run(command(warm_python, world, script, out, "--overwrite_output_dir"), env=ENV)
    assert "starting:" in fresh.stdout
    assert [m["step"] for m in read_metrics(out)] == [0, 2]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-00000000", "checkpoint-00000002"]


def test_a_new_run_refuses_a_non_empty_folder_that_holds_no_run(finished, tmp_path, warm_python):
    world, _ = finished
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.tex").write_text("\\chapter{Growth}\n")
    refused(run(command(warm_python, world, "run_lm_distributed.py", out), env=ENV, check=False),
            f"--output_dir '{out}'", "--overwrite_output_dir")
