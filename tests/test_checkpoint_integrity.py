"""Full disks and damaged checkpoints, under the real conditions: a real full file system (a small
tmpfs in a mount namespace of its own) and a real file-size limit (RLIMIT_FSIZE: the kernel's
EFBIG), a real flipped byte and a real cut-short file in a real checkpoint. Each ends in one line
(exit code 2, no traceback) naming the file and what to do; where the run had state, it then
resumes and ends bit-identical to a run never stopped (weights, every metrics.jsonl value but
wall-clock time, the trainer state)."""

import json
import os
import resource
import shutil
import subprocess
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import run
from tiny_world import ENV, build_world
from training_helpers import comparable_metrics, lm_command, tensors_equal
from transformers import AutoModelForSequenceClassification

from ligo.base.checksums import SUMS_FILE, write_checksums
from ligo.base.errors import UserError
from ligo.finetune.model import load_with_head
from ligo.growth.operator import WEIGHTS_FILE, LiGOOperator, LiGOOptions
from ligo.models.loading import load_config, load_model, new_model
from ligo.training import checkpoint
from ligo.training.run_log import RunLog

MAX_STEPS = 6  # checkpoints 0, 2, 4, 6; logs at 0, 2, 4, 6
PAGE = 4096


@pytest.fixture(scope="module")
def setup(tmp_path_factory, warm_python):
    """The tiny world and a 1-process run never stopped, to compare with."""
    root = tmp_path_factory.mktemp("integrity")
    world = build_world(root / "world")
    whole = root / "whole"

    def command(out, *extra, python=warm_python):
        return lm_command(world.run_config, world.small_config, out, "--max_steps", MAX_STEPS, *extra, python=python)

    run(command(whole), env=ENV)
    return SimpleNamespace(root=root, world=world, whole=whole, command=command, python=warm_python)


def one_line(result) -> str:
    """The run's last line, which must be its only word on the failure: exit code 2, no traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert lines[-1].startswith("error: "), lines[-1]
    return lines[-1]


def assert_ends_as_never_stopped(whole: Path, resumed: Path):
    final = f"checkpoints/checkpoint-{MAX_STEPS:08d}"
    assert comparable_metrics(resumed) == comparable_metrics(whole)
    assert tensors_equal(whole / final / "model.safetensors", resumed / final / "model.safetensors")
    states = [json.loads((out / final / "trainer_state.json").read_text()) for out in (whole, resumed)]
    assert {**states[0], "train_seconds": 0} == {**states[1], "train_seconds": 0}
    assert [step for step, _ in checkpoint.list_checkpoints(resumed)] == [0, 2, 4, 6]
    assert not [p.name for p in (resumed / "checkpoints").iterdir() if p.name.startswith(".")]


def pages(path: Path) -> int:
    return -(-path.stat().st_size // PAGE) * PAGE


# -- a full disk ----------------------------------------------------------------------------------

@pytest.fixture
def small_disk(tmp_path):
    """A 64 MB tmpfs in a mount namespace of its own (nothing leaks: it goes with the namespace's
    one process), reached from outside through that process's /proc/<pid>/root, so that the runs
    can use the warm interpreter. None, with a warning, where no such namespace can be made."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if shutil.which("unshare") is None:
        warnings.warn("no unshare (util-linux) here: the full-disk test fills a file-size limit instead of a tmpfs",
                      stacklevel=2)
        yield None
        return
    holder = subprocess.Popen(["unshare", "-rm", "sh", "-c",
                               f"mount -t tmpfs -o size=64m tmpfs '{mount_point}' && echo mounted && exec cat"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        if holder.stdout.readline().strip() == "mounted":
            yield Path(f"/proc/{holder.pid}/root") / str(mount_point).lstrip("/")
        else:
            warnings.warn(f"no tmpfs in a user and mount namespace here ({holder.stderr.read().strip()}): the "
                          "full-disk test fills a file-size limit instead", stacklevel=2)
            yield None
    finally:
        holder.stdin.close()  # cat ends, and the namespace with its tmpfs
        holder.wait(timeout=10)


def fill_leaving(disk: Path, free: int) -> Path:
    """A file that fills ``disk`` but for ``free`` bytes."""
    filler = disk / "filler"
    stat = os.statvfs(disk)
    with filler.open("wb") as f:
        os.posix_fallocate(f.fileno(), 0, stat.f_bavail * stat.f_frsize - free)
    return filler


def test_a_full_disk_mid_run_is_one_line_and_the_run_resumes_exactly_once_space_is_freed(setup, small_disk,
                                                                                         tmp_path):
    # Room for everything the run writes before its checkpoint of step 4, and for half of that
    # checkpoint's first file, the model's weights (safetensors reports the failed write as its own error).
    whole = setup.whole
    weights = whole / "checkpoints/checkpoint-00000004/model.safetensors"
    if small_disk is None:  # the same write, of the first checkpoint, past a file-size limit
        out = tmp_path / "out"
        failed = run(limited_to(weights.stat().st_size // 2, setup.command(out)), env=ENV, check=False)
        assert one_line(failed) == (
            f"error: cannot write checkpoint '{out}/checkpoints/checkpoint-00000000': File too large (EFBIG); no "
            "checkpoint was written before: free disk space or fix the permissions, then run again with "
            "--should_continue")
        assert "starting afresh" in run(setup.command(out, "--should_continue"), env=ENV).stdout
        assert_ends_as_never_stopped(whole, out)
        return
    before = [p for p in whole.rglob("*") if p.is_file() and "checkpoint-00000004" not in str(p)
              and "checkpoint-00000006" not in str(p)]
    filler = fill_leaving(small_disk, sum(map(pages, before)) + PAGE + weights.stat().st_size // 2)  # + the lock
    out = small_disk / "out"
    failed = run(setup.command(out), env=ENV, check=False)
    line = one_line(failed)
    assert line == (f"error: cannot write checkpoint '{out}/checkpoints/checkpoint-00000004': No space left on device "
                    f"(ENOSPC); the last good checkpoint, '{out}/checkpoints/checkpoint-00000002', is untouched: free "
                    "disk space or fix the permissions, then run again with --should_continue"), line
    print(line)
    assert [step for step, _ in checkpoint.list_checkpoints(out)] == [0, 2]
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-00000000", "checkpoint-00000002"]
    filler.unlink()  # the user frees disk space
    resumed = run(setup.command(out, "--should_continue"), env=ENV)
    assert f"resuming from {out}/checkpoints/checkpoint-00000002" in resumed.stdout
    assert_ends_as_never_stopped(whole, out)


def limited_to(size: int, command: list) -> list:
    """``command`` (``... python SCRIPT ARGS``: lm_command's) with every file its Python processes
    write limited to ``size`` bytes (RLIMIT_FSIZE): a write past it fails with EFBIG (Python ignores
    SIGXFSZ). Set by each process itself: the warm interpreter runs it in a process of its own, not
    in a child of this one or of torchrun."""
    script = next(i for i, arg in enumerate(command) if str(arg).endswith(".py"))
    code = (f"import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_FSIZE, ({size}, {size})); "
            "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')")
    return [*command[:script], "-c", code, *map(str, command[script:])]


def test_a_file_size_limit_at_the_optimizer_state_is_one_line_and_the_run_resumes_exactly(setup, tmp_path):
    # A limit between the size of the weights and of the optimiser state (AdamW's two moments, only
    # after the first step): the checkpoint of step 2 fails in torch.save, which reports a failed
    # write as 'unexpected pos' unless it writes through a Python file.
    final = setup.whole / f"checkpoints/checkpoint-{MAX_STEPS:08d}"
    weights, optimizer = (final / "model.safetensors").stat().st_size, (final / "optimizer.pt").stat().st_size
    assert weights < optimizer
    out = tmp_path / "out"
    failed = run(limited_to((weights + optimizer) // 2, setup.command(out)), env=ENV, check=False)
    line = one_line(failed)
    assert line == (f"error: cannot write checkpoint '{out}/checkpoints/checkpoint-00000002': File too large (EFBIG) "
                    f"at '{out}/checkpoints/.partial-checkpoint-00000002/optimizer.pt'; the last good checkpoint, "
                    f"'{out}/checkpoints/checkpoint-00000000', is untouched: free disk space or fix the permissions, "
                    "then run again with --should_continue"), line
    print(line)
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["checkpoint-00000000"]
    resumed = run(setup.command(out, "--should_continue"), env=ENV)
    assert f"resuming from {out}/checkpoints/checkpoint-00000000" in resumed.stdout
    assert_ends_as_never_stopped(setup.whole, out)


def test_a_file_size_limit_at_the_run_log_is_one_line(setup, tmp_path):
    # The arguments, the first line of train_log.txt, are longer than 1000 bytes; the lock file and
    # the events file's header are not.
    out = tmp_path / "out"
    line = one_line(run(limited_to(1000, setup.command(out)), env=ENV, check=False))
    assert line == (f"error: cannot write '{out}/train_log.txt': File too large (EFBIG); no checkpoint was written "
                    "before: free disk space or fix the permissions, then run again with --should_continue"), line
    print(line)


def test_a_file_size_limit_in_a_two_process_run_is_one_line_on_each_rank(setup, tmp_path):
    out = tmp_path / "out"
    command = lm_command(setup.world.run_config, setup.world.small_config, out, "--max_steps", MAX_STEPS, processes=2,
                         python=setup.python)
    weights = (setup.whole / "checkpoints/checkpoint-00000002/model.safetensors").stat().st_size
    failed = run(limited_to(weights + 1000, command), env=ENV, check=False)
    lines = failed.stderr.splitlines()
    assert failed.returncode != 0
    assert (f"error: cannot write checkpoint '{out}/checkpoints/checkpoint-00000002': File too large (EFBIG) at "
            f"'{out}/checkpoints/.partial-checkpoint-00000002/optimizer.pt'; the last good checkpoint, "
            f"'{out}/checkpoints/checkpoint-00000000', is untouched: free disk space or fix the permissions, then run "
            "again with --should_continue") in lines, failed.stderr[-3000:]
    assert ("error: rank 0 failed while saving the checkpoint of step 2 (its error is above); rank 1 stops too"
            in lines), failed.stderr[-3000:]
    # torchrun's own report of a failed worker is a traceback of torchrun's; none of ours
    assert not [line for line in lines if "/ligo/" in line or line.startswith("[rank")], failed.stderr[-3000:]


def test_the_events_file_and_metrics_jsonl_past_a_file_size_limit_are_one_line(tmp_path):
    # In this process (Python ignores SIGXFSZ here too): the limit is set, the log written, the limit
    # raised back. The events file is the first to pass 600 bytes; metrics.jsonl the first to pass 1500.
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    metrics = {"step": 0, "lr": 0.1, "train_loss": 1.0, "train_ppl": 2.7, "train_seconds": 1.0, "flops": 1}
    cases = [("events", 600, {f"metric_{i}": float(i) for i in range(40)}, "runs/"),
             ("metrics", 1500, {"note": "x" * 2000}, "metrics.jsonl")]
    for name, size, more, written in cases:
        log = RunLog(tmp_path / name, None)
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, hard))
        try:
            with pytest.raises(UserError) as refused:
                log.record({**metrics, **more})
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        assert str(refused.value).startswith(f"cannot write '{tmp_path / name / written}"), str(refused.value)
        assert "': File too large (EFBIG); no checkpoint was written before" in str(refused.value), str(refused.value)


# -- damaged checkpoints --------------------------------------------------------------------------

def flip_a_byte(path: Path, offset: int):
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_a_flipped_byte_is_refused_naming_the_file_and_the_checkpoint_before_it_which_resumes_exactly(setup,
                                                                                                        tmp_path):
    out = Path(shutil.copytree(setup.whole, tmp_path / "out"))
    last, before = out / "checkpoints/checkpoint-00000006", out / "checkpoints/checkpoint-00000004"
    weights = last / "model.safetensors"
    flip_a_byte(weights, weights.stat().st_size - 100)  # in a tensor: the file still loads, wrong
    refused = run(setup.command(out, "--should_continue"), env=ENV, check=False)
    line = one_line(refused)
    assert line == (f"error: checkpoint file '{weights}' does not match the checksum recorded when it was written "
                    f"({SUMS_FILE}): it is damaged; delete '{last}' to resume from '{before}', the checkpoint before "
                    "it"), line
    print(line)
    shutil.rmtree(last)
    resumed = run(setup.command(out, "--should_continue"), env=ENV)
    assert f"resuming from {before}" in resumed.stdout
    assert_ends_as_never_stopped(setup.whole, out)


def test_a_cut_short_model_in_a_checkpoint_without_checksums_gets_the_same_advice_and_an_older_one_resumes(setup,
                                                                                                          tmp_path):
    # Checkpoints written before checksums: none of them has checksums.sha256.
    out = Path(shutil.copytree(setup.whole, tmp_path / "out"))
    for _, folder in checkpoint.list_checkpoints(out):
        (folder / SUMS_FILE).unlink()
    last, before = out / "checkpoints/checkpoint-00000006", out / "checkpoints/checkpoint-00000004"
    weights = last / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    refused = run(setup.command(out, "--should_continue"), env=ENV, check=False)
    line = one_line(refused)
    assert line.startswith(f"error: checkpoint file '{weights}' cannot be loaded safely (SafetensorError: Error "
                           "while deserializing header: incomplete metadata, file not fully covered); it is damaged "
                           f"or was not written by this program: delete '{last}' to resume from '{before}', the "
                           "checkpoint before it"), line
    print(line)
    shutil.rmtree(last)
    resumed = run(setup.command(out, "--should_continue"), env=ENV)
    warning = (f"warning: checkpoint '{before}' has no {SUMS_FILE} (it was written before checkpoints carried "
               "checksums): its files cannot be verified; resuming from it")
    assert warning in resumed.stdout.splitlines(), resumed.stdout
    print(warning)
    assert_ends_as_never_stopped(setup.whole, out)


def test_a_missing_or_added_file_and_the_only_checkpoint_damaged(setup, tmp_path):
    out = Path(shutil.copytree(setup.whole, tmp_path / "out"))
    folders = [folder for _, folder in checkpoint.list_checkpoints(out)]
    (folders[-1] / "scheduler.pt").unlink()
    with pytest.raises(UserError, match=f"checkpoint file '{folders[-1]}/scheduler.pt' is missing .*; delete "
                                        f"'{folders[-1]}' to resume from '{folders[-2]}'"):
        checkpoint.verify_checkpoint(folders[-1])
    (folders[-2] / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match=f"'{folders[-2]}/notes.txt' was not written with checkpoint "
                                        f"'{folders[-2]}' .*: move it out if you put it there, or delete"):
        checkpoint.verify_checkpoint(folders[-2])
    flip_a_byte(folders[0] / checkpoint.STATE_FILE, 5)  # recorded before it was written
    with pytest.raises(UserError, match="there is no earlier checkpoint: start afresh with --overwrite_output_dir"):
        checkpoint.verify_checkpoint(folders[0])
    checkpoint.verify_checkpoint(folders[1])  # untouched: passes


def test_a_model_loaded_from_a_damaged_checkpoint_folder_is_refused(setup, tmp_path):
    # What growing (--source_model_path) and pretraining from a model load: the checksums are checked.
    model = Path(shutil.copytree(setup.whole / "checkpoints/checkpoint-00000002", tmp_path / "model"))
    assert isinstance(load_model("bert", str(model)), torch.nn.Module)
    flip_a_byte(model / "model.safetensors", (model / "model.safetensors").stat().st_size - 100)
    with pytest.raises(UserError, match=f"model file '{model}/model.safetensors' does not match the checksum "
                                        "recorded when it was written .*; pass another checkpoint folder"):
        load_model("bert", str(model))
    write_checksums(model)  # recorded anew, the flipped byte loads: the checksum was what refused it
    load_model("bert", str(model))


def test_a_model_for_fine_tuning_and_an_operator_are_checked_too(setup, tmp_path):
    # run_glue.py / run_squad.py load a checkpoint with a new head; --pretrained_ligo_path an operator.
    model = Path(shutil.copytree(setup.whole / "checkpoints/checkpoint-00000002", tmp_path / "model"))
    flip_a_byte(model / "model.safetensors", (model / "model.safetensors").stat().st_size - 100)
    with pytest.raises(UserError, match=f"model file '{model}/model.safetensors' does not match the checksum"):
        load_with_head(str(model), AutoModelForSequenceClassification, "a sequence classifier", num_labels=2)
    small_config = load_config("bert", str(setup.world.small_config))
    large_config = load_config("bert", str(setup.world.large_config))
    small = new_model("bert", small_config, seed=0)
    operator = tmp_path / "operator"
    operator.mkdir()
    LiGOOperator(small.state_dict(), small_config, large_config, LiGOOptions()).save(operator)
    write_checksums(operator)
    LiGOOperator.load(operator)
    flip_a_byte(operator / WEIGHTS_FILE, (operator / WEIGHTS_FILE).stat().st_size - 100)
    with pytest.raises(UserError, match=f"the LiGO operator file '{operator / WEIGHTS_FILE}' is damaged \\(checked "
                                        f"against {SUMS_FILE}\\): pass an earlier checkpoint of its run"):
        LiGOOperator.load(operator)
