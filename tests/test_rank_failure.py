"""No hangs, clear failures: when one rank raises or dies, every rank stops within seconds
(not --ddp_timeout) and the output names the rank that failed; a checkpoint that cannot be
written (no permission here; a real full disk in test_checkpoint_integrity.py) is one line naming
the path and the reason, and the checkpoint before it stays good."""

import errno
import os
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO, run
from training_helpers import alive, config_text, crash, failing_rank_worker, lm_command, process_tree, tiny_config
from transformers import AutoTokenizer

from ligo.base.errors import UserError
from ligo.training import checkpoint, distributed
from ligo.training.fault_injection import VARIABLE


@pytest.fixture(scope="module")
def setup(tmp_path_factory, bert_tokenized, bert_tokenizer_dir):
    root = tmp_path_factory.mktemp("failures")
    vocab = len(AutoTokenizer.from_pretrained(str(bert_tokenizer_dir)))
    model_config = tiny_config(root / "tiny.json", "bert", vocab)
    config = config_text(root / "run.txt", "bert", bert_tokenized, bert_tokenizer_dir, max_steps=6, logging_steps=2,
                         ckpt_steps=2, num_workers=0)
    return SimpleNamespace(root=root, config=config, model_config=model_config)


def run_until_failure(command, fault: str, marker: str, log) -> tuple[int, str, float]:
    """Run with ``fault`` injected; returns the exit code, the output and the seconds from
    ``marker`` (printed where the fault strikes) to the exit of the whole run."""
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                   env={**os.environ, VARIABLE: fault})
    seen = None
    deadline = time.time() + 180
    while process.poll() is None:
        if seen is None and marker in log.read_text():
            seen = time.time()
        if time.time() > (deadline if seen is None else seen + 60):
            crash(process)
            pytest.fail(f"the run did not end within 60 s of its failure ({fault}):\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    output = log.read_text()
    assert marker in output, output[-3000:]
    return process.returncode, output, time.time() - (seen or time.time())


def test_an_exception_on_rank_1_mid_step_stops_both_ranks(setup, warm_python):
    out = setup.root / "raise-in-step"
    # A timeout far longer than the test allows: the ranks must stop because they learn of the
    # failure, not because a collective times out.
    command = lm_command(setup.config, setup.model_config, out, "--ddp_timeout", 1800, processes=2,
                         python=warm_python)
    code, output, seconds = run_until_failure(command, "raise:train_step:3:1", "rank 1 of 2 failed",
                                              out.with_suffix(".log"))
    assert code != 0 and seconds < 30, (code, seconds)
    assert "rank 1 of 2 failed (traceback below): RuntimeError: fault injected by LIGO_FAULT_INJECT at train_step, " \
           "step 3, rank 1" in output
    assert "rank      : 1 (local_rank: 1)" in output  # torchrun's report names it too


def test_an_exception_on_rank_0_while_saving_reaches_rank_1(setup, warm_python):
    out = setup.root / "raise-in-save"
    command = lm_command(setup.config, setup.model_config, out, "--ddp_timeout", 1800, processes=2,
                         python=warm_python)
    code, output, seconds = run_until_failure(command, "raise:checkpoint_write:4", "rank 0 of 2 failed",
                                              out.with_suffix(".log"))
    assert code != 0 and seconds < 30, (code, seconds)
    assert "RuntimeError: fault injected by LIGO_FAULT_INJECT at checkpoint_write, step 4, rank 0" in output
    # rank 1 does not wait for rank 0 in its next collective: it is told, and says so
    assert "error: rank 0 failed while saving the checkpoint of step 4 (its error is above); rank 1 stops too" in output
    assert [step for step, _ in checkpoint.list_checkpoints(out)] == [0, 2]
    assert not list((out / "checkpoints").glob(".partial-*"))


@pytest.mark.parametrize("how, says", [("raise", "raised the exception above"), ("kill", "was killed by SIGKILL")])
def test_the_launcher_names_a_spawned_rank_that_fails(capfd, how, says):
    # The path of one process per local GPU, on CPU processes: rank 1 fails, rank 0 waits for it.
    started = time.time()
    with pytest.raises(SystemExit) as stopped:
        distributed.spawn(failing_rank_worker, SimpleNamespace(failing_rank=1, how=how, ddp_timeout=1800), 2)
    assert stopped.value.code == 1 and time.time() - started < 60
    err = capfd.readouterr().err
    assert f"error: rank 1 of 2 {says}; the other ranks were stopped" in err, err[-3000:]
    if how == "raise":
        assert "RuntimeError: rank fails on purpose" in err


class _Tokenizer:
    def save_pretrained(self, folder):
        Path(folder, "tokenizer.json").write_text("{}")


def _save(output_dir, step, save_weights):
    args = SimpleNamespace(seed=1)
    return checkpoint.save_checkpoint(output_dir, step, save_weights, _Tokenizer(), {}, [checkpoint.rng_state(
        torch.device("cpu"))], {"step": step}, args)


def test_a_permission_error_keeps_the_previous_checkpoint(tmp_path):
    good = _save(tmp_path, 1, lambda folder: (folder / "model.safetensors").write_bytes(b"weights"))

    def refused(folder):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(folder / "model.safetensors"))

    with pytest.raises(UserError) as err:
        _save(tmp_path, 2, refused)
    assert str(err.value).startswith(f"cannot write checkpoint '{tmp_path}/checkpoints/checkpoint-00000002': "
                                     f"Permission denied (EACCES) at '{tmp_path}/checkpoints/.partial-checkpoint-"
                                     f"00000002/model.safetensors'; the last good checkpoint, '{good}', is untouched")
    assert checkpoint.list_checkpoints(tmp_path) == [(1, good)]
    assert (good / "model.safetensors").read_bytes() == b"weights"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-00000001"]


def test_a_checkpoint_saved_again_is_replaced_whole(tmp_path):
    _save(tmp_path, 1, lambda folder: (folder / "model.safetensors").write_bytes(b"old"))
    final = _save(tmp_path, 1, lambda folder: (folder / "model.safetensors").write_bytes(b"new"))
    assert (final / "model.safetensors").read_bytes() == b"new"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["checkpoint-00000001"]


def being_killed(pid: int) -> bool:
    """Whether process ``pid`` is gone, or ending: SIGKILL pending or its exit begun (PF_EXITING in /proc)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        with open(f"/proc/{pid}/stat") as stat:
            flags = int(stat.read().rsplit(")", 1)[1].split()[6])
    except (FileNotFoundError, ProcessLookupError):
        return True
    pending = int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)
    return not alive(pid) or bool(pending >> 8 & 1) or bool(flags & 0x4)  # bit 8: SIGKILL; 0x4: PF_EXITING


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None


def test_workers_die_with_their_killed_torchrun_agent_and_the_run_resumes(setup, tmp_path, warm_python):
    # Plain python workers (not the warm interpreter): what a user's torchrun starts.
    out = tmp_path / "out"
    command = lm_command(setup.config, setup.model_config, out, "--max_steps", 100000, "--logging_steps", 0,
                         "--ckpt_steps", 0, "--num_workers", 1, processes=2)
    agent = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "PYTHON": os.environ.get("PYTHON", "python")})
    workers = []
    try:
        deadline = time.monotonic() + 120
        # both workers are training, each with its DataLoader worker
        while not (out / "checkpoints/checkpoint-00000000").is_dir() or len(process_tree(agent.pid)) < 5:
            assert time.monotonic() < deadline and agent.poll() is None, "the run never started"
            time.sleep(0.1)
        workers = [pid for pid in process_tree(agent.pid) if pid != agent.pid]
        agent.kill()  # the agent alone, as a node's OOM killer or a careless `kill -9` would
        agent.wait()
        # At once, by the kernel: a rank as its agent dies, a DataLoader worker as its rank does
        # (before, a DataLoader worker noticed its rank gone at its next poll, 5 s later). Killed at
        # once, that is: a loaded machine may take seconds to tear a rank down, and its DataLoader
        # worker is killed when that ends, so a worker whose rank is being killed counts as killed.
        def doomed(pid):
            return being_killed(pid) or parent_of(pid) in workers and being_killed(parent_of(pid))

        deadline = time.monotonic() + 3
        while not all(doomed(pid) for pid in workers):
            living = [p for p in workers if not doomed(p)]
            assert time.monotonic() < deadline, f"workers {living} outlived the agent"
            time.sleep(0.1)
        deadline = time.monotonic() + 60
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline, f"workers {[p for p in workers if alive(p)]} never ended"
            time.sleep(0.1)
    finally:
        crash(agent)
        for pid in workers:  # orphans, if the fix failed: never leave them to the rest of the suite
            if alive(pid):
                os.kill(pid, 9)
    resumed = run(lm_command(setup.config, setup.model_config, out, "--should_continue", "--max_steps", 2,
                             processes=2, python=warm_python))
    assert "resuming from" in resumed.stdout
