"""Output safety of both entry scripts, run as users run them: a new run refuses an --output_dir
that holds a run unless --should_continue or --overwrite_output_dir is given, and resuming with
another model config or grow scheme than the checkpoint's is refused with both values named;
a refused run changes nothing in the folder."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from conftest import REPO, run
from tiny_world import ENV, build_world
from training_helpers import alive, crash, grow_command, lm_command, read_metrics, tiny_config

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


def test_a_second_run_into_a_folder_in_use_is_refused_naming_the_holder(finished, tmp_path, warm_python):
    # A requeued job started while the first still trains, both with --should_continue: the
    # second is refused; the lock dies with its holder, even by SIGKILL.
    world, _ = finished
    out = tmp_path / "out"
    first = subprocess.Popen(command(warm_python, world, "run_lm_distributed.py", out, "--max_steps", 100000,
                                     "--logging_steps", 0, "--ckpt_steps", 0),
                             env={**os.environ, **ENV}, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        lock = out / ".ligo.lock"
        deadline = time.monotonic() + 60
        while not (lock.is_file() and lock.read_text()):
            assert time.monotonic() < deadline and first.poll() is None, "the first run never took its folder"
            time.sleep(0.05)
        holder = json.loads(lock.read_text())
        second = run(command(warm_python, world, "run_lm_distributed.py", out, "--should_continue"), env=ENV,
                     check=False)
        refused(second, f"'{out}' is in use by another run (run_lm_distributed.py, process {holder['pid']} on "
                        f"{holder['host']}, started {holder['started']})")
    finally:
        crash(first)
    deadline = time.monotonic() + 10
    while alive(holder["pid"]):
        assert time.monotonic() < deadline, "the killed run's process outlived it by 10 s"
        time.sleep(0.05)
    run(command(warm_python, world, "run_lm_distributed.py", out, "--should_continue", "--max_steps", 2), env=ENV)
    assert not lock.exists()  # a run that ends removes it


def test_an_output_dir_that_cannot_be_created_and_a_finished_run_past_max_steps_are_one_line(finished, tmp_path,
                                                                                             warm_python):
    world, runs = finished
    (tmp_path / "a_file").write_text("x")
    refused(run(command(warm_python, world, "run_lm_distributed.py", tmp_path / "a_file" / "out"), env=ENV,
                check=False), f"cannot create --output_dir '{tmp_path / 'a_file' / 'out'}'")
    out = copy_of(runs, "run_lm_distributed.py", tmp_path)
    before = files_in(out)
    refused(run(command(warm_python, world, "run_lm_distributed.py", out, "--should_continue", "--max_steps", 1),
                env=ENV, check=False), "has trained 2 steps already, past --max_steps 1; raise --max_steps")
    assert files_in(out) == before
    done = run(command(warm_python, world, "run_lm_distributed.py", out, "--should_continue"), env=ENV)
    assert "is finished (2 of --max_steps 2 steps); nothing to train" in done.stdout
