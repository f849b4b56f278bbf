"""Preemption: a signal (SIGTERM, SIGUSR1) stops a run after its current optimiser step with a
checkpoint of that step, ``preempted.json`` and exit code 75; ``--should_continue`` then ends as
if never stopped. Signals at random moments to a two-process run under torchrun, SIGUSR1 to one
process, the project's own launcher passing the signal on, a second signal and a grace time
that runs out (both stop at once, without a half checkpoint), and ``--preempt_signals none``."""

import json
import os
import random
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
from conftest import REPO, run
from training_helpers import (
    comparable_metrics,
    config_text,
    crash,
    lm_command,
    signal_every_process,
    tensors_equal,
    tiny_config,
)
from transformers import AutoTokenizer

from ligo.training.checkpoint import list_checkpoints
from ligo.training.fault_injection import VARIABLE
from ligo.training.preemption import EXIT_PREEMPTED, MARKER

MAX_STEPS = 10


@pytest.fixture(scope="module")
def setup(tmp_path_factory, bert_tokenized, bert_tokenizer_dir, warm_python):
    """Run settings whose checkpoints (every 4 steps) and logs (every 2) a stop falls between,
    and an uninterrupted two-process run to compare with."""
    root = tmp_path_factory.mktemp("preemption")
    vocab = len(AutoTokenizer.from_pretrained(str(bert_tokenizer_dir)))
    model = tiny_config(root / "tiny.json", "bert", vocab)
    config = config_text(root / "run.txt", "bert", bert_tokenized, bert_tokenizer_dir, max_steps=MAX_STEPS,
                         gradient_accumulation_steps=2, logging_steps=2, ckpt_steps=4, num_workers=2)
    whole = root / "whole"
    run(lm_command(config, model, whole, processes=2, python=warm_python))
    return SimpleNamespace(root=root, config=config, model=model, whole=whole, python=warm_python)


def start(command, log, env=None):
    with log.open("w") as out:
        return subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})


def wait_for(process, log, text, seconds=120):
    deadline = time.monotonic() + seconds
    while text not in log.read_text():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, f"'{text}' not seen in {seconds} s:\n{log.read_text()[-3000:]}"
        time.sleep(0.02)


def finish(process, log, seconds=60) -> int:
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        crash(process)
        pytest.fail(f"the run did not stop within {seconds} s of the signal:\n{log.read_text()[-3000:]}")


def latest_step(output_dir):
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1][0] if checkpoints else None


def assert_stopped_with_checkpoint(out, output: str, signal_name="SIGTERM"):
    marker = json.loads((out / MARKER).read_text())
    assert marker["signal"] == signal_name and marker["step"] == latest_step(out), (marker, output[-2000:])
    assert f"stopped by {signal_name} at step {marker['step']}: checkpoint written" in output, output[-3000:]
    assert not [p for p in (out / "checkpoints").iterdir() if p.name.startswith(".")]  # no half checkpoint
    return marker["step"]


def assert_same_end(whole, out):
    """The metrics, final weights and state of an uninterrupted run; every checkpoint it wrote."""
    final = f"checkpoints/checkpoint-{MAX_STEPS:08d}"
    assert comparable_metrics(out) == comparable_metrics(whole)
    assert tensors_equal(whole / final / "model.safetensors", out / final / "model.safetensors")
    states = [json.loads((o / final / "trainer_state.json").read_text()) for o in (whole, out)]
    assert {**states[0], "train_seconds": 0} == {**states[1], "train_seconds": 0}
    assert {s for s, _ in list_checkpoints(whole)} <= {s for s, _ in list_checkpoints(out)}
    assert not (out / MARKER).exists()


def test_sigterm_at_random_moments_to_a_two_process_run_ends_as_if_never_stopped(setup):
    """SIGTERM to every process of the run (torchrun's agent, both workers and their DataLoader
    workers), as SLURM preempts a job step; the agent passes it on too, so the workers get it twice."""
    out = setup.root / "preempted"
    command = lm_command(setup.config, setup.model, out, "--should_continue", processes=2, python=setup.python)
    rng, stops = random.Random(time.time_ns()), []
    for attempt in range(4):
        log = setup.root / f"preempted-{attempt}.log"
        process = start(command, log)
        wait_for(process, log, "starting:" if attempt == 0 else "resuming from")
        delay = rng.uniform(0.0, 1.0)
        time.sleep(delay)
        signal_every_process(process, signal.SIGTERM)
        code = finish(process, log)
        output = log.read_text()
        if latest_step(out) == MAX_STEPS and not (out / MARKER).exists():
            # The signal came after the last step: the run had finished (a signal during its exit
            # may still end it, as any process, with nothing left to save).
            stops.append(f"{delay:.2f} s: after the end, exit code {code}")
            break
        assert code != 0, output[-3000:]
        # torchrun, signalled itself, ends with its own error (its workers' 75 is not passed on):
        # preempted.json is what a requeue script tests
        step = assert_stopped_with_checkpoint(out, output)
        stops.append(f"{delay:.2f} s: after step {step}")
    print(f"stops: {stops}")
    if (out / MARKER).exists():
        run(command)
    assert_same_end(setup.whole, out)


@pytest.fixture(scope="module")
def single(setup):
    """One-process command lines on the warm interpreter."""
    def command(out, *extra):
        return lm_command(setup.config, setup.model, out, "--should_continue", *extra, python=setup.python)
    return command


def test_sigusr1_stops_one_process_with_exit_code_75_and_none_leaves_the_signal_its_default(setup, single):
    out, log = setup.root / "usr1", setup.root / "usr1.log"
    process = start(single(out, "--max_steps", 100000, "--logging_steps", 0, "--ckpt_steps", 0), log)
    wait_for(process, log, "training:")
    process.send_signal(signal.SIGUSR1)
    assert finish(process, log) == EXIT_PREEMPTED
    step = assert_stopped_with_checkpoint(out, log.read_text(), "SIGUSR1")
    assert "stopped by SIGUSR1 after step" in (out / "train_log.txt").read_text()
    # Resumed, the marker goes; with --preempt_signals none, SIGUSR1 kills as it always did.
    process = start(single(out, "--max_steps", 100000, "--logging_steps", 0, "--ckpt_steps", 0,
                           "--preempt_signals", "none"), log)
    wait_for(process, log, "resuming from")
    deadline = time.monotonic() + 60
    while (out / MARKER).exists():
        assert time.monotonic() < deadline, "preempted.json outlived the resumed run's start"
        time.sleep(0.02)
    process.send_signal(signal.SIGUSR1)
    assert finish(process, log) == -signal.SIGUSR1
    assert latest_step(out) == step and not (out / MARKER).exists()


@pytest.mark.parametrize("how", ["second signal", "grace time"])
def test_a_second_signal_or_the_grace_time_stops_at_once_without_a_half_checkpoint(setup, single, how):
    """The checkpoint write of step 4 hangs (a stalled file system); the run must still stop."""
    out, log = setup.root / how.replace(" ", "-"), setup.root / f"{how.replace(' ', '-')}.log"
    extra = ["--preempt_grace_seconds", 1] if how == "grace time" else []
    process = start(single(out, *extra), log, env={VARIABLE: "hang:checkpoint_write:4"})
    wait_for(process, log, "hanging at checkpoint_write, step 4")
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    if how == "second signal":
        process.send_signal(signal.SIGTERM)  # at once: the same signal delivered twice, counted once
        time.sleep(2.5)
        process.send_signal(signal.SIGTERM)
    assert finish(process, log, seconds=30) == EXIT_PREEMPTED
    output = log.read_text()
    assert time.monotonic() - sent < 15, output[-2000:]
    assert ("a second SIGTERM: stopping at once" if how == "second signal" else
            "--preempt_grace_seconds 1 ran out before the checkpoint was written") in output, output[-2000:]
    assert latest_step(out) == 0 and not (out / MARKER).exists()
    assert (out / "checkpoints/.partial-checkpoint-00000004").is_dir()  # never taken for a checkpoint
    resumed = run(single(out, "--max_steps", 5))
    assert "checkpoint-00000000" in resumed.stdout and latest_step(out) == 5
    assert not (out / "checkpoints/.partial-checkpoint-00000004").exists()


SPAWN = """import functools, sys
from ligo.tasks.lm import build_lm_task
from ligo.tasks.arguments import parse_args
from ligo.training.distributed import spawn
from ligo.training.session import run_session
spawn(functools.partial(run_session, build_task=build_lm_task), parse_args(sys.argv[1:]), 2)
"""


def test_our_launcher_passes_the_signal_to_the_processes_it_started(setup):
    """As run_lm_distributed.py starts one process per GPU: SIGTERM to the launcher alone (a
    `kill PID`); it passes the signal on, both ranks stop with a checkpoint, and it exits 75."""
    out, log = setup.root / "spawned", setup.root / "spawned.log"
    command = lm_command(setup.config, setup.model, out, "--max_steps", 100000, "--logging_steps", 0,
                         "--ckpt_steps", 0)
    command[1:2] = ["-c", SPAWN]  # python -c SPAWN ARGS... in place of python run_lm_distributed.py ARGS...
    process = start(command, log)
    wait_for(process, log, "training:", seconds=180)
    process.send_signal(signal.SIGTERM)
    assert finish(process, log) == EXIT_PREEMPTED
    assert "rank 1: SIGTERM received" in log.read_text()
    step = assert_stopped_with_checkpoint(out, log.read_text())
    assert step > 0
