"""Preemption: a signal (SIGTERM, SIGUSR1) stops a run after its current optimiser step with a
checkpoint of that step, ``preempted.json`` and exit code 75; ``--should_continue`` then ends as
if never stopped. Signals at random moments to a two-process run under torchrun, SIGUSR1 to one
process, the project's own launcher passing the signal on, a second signal and a grace time
that runs out (both stop at once, without a half checkpoint), ``--preempt_signals none``, a
signal during a script's imports, and SIGUSR1 to the agent of docs/cluster.md's torchrun command."""

import contextlib
import functools
import itertools
import json
import os
import random
import re
import signal
import subprocess
import time
from types import SimpleNamespace

import pytest
import torch
from conftest import REPO, run
from training_helpers import (
    _warm_commands,
    comparable_metrics,
    config_text,
    crash,
    lm_command,
    signal_every_process,
    tensors_equal,
    tiny_config,
)
from transformers import AutoTokenizer

from ligo.training.checkpoint import checkpoint_dir, list_checkpoints
from ligo.training.distributed import Context
from ligo.training.fault_injection import VARIABLE
from ligo.training.preemption import EXIT_PREEMPTED, MARKER, REPEAT_SECONDS, in_data_worker
from ligo.training.sampling import training_batches

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
    assert (out / MARKER).is_file(), output[-3000:]
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
        time.sleep(REPEAT_SECONDS + 0.5)
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


def holds(pid: int, number: signal.Signals) -> bool:
    """Whether process ``pid`` blocks signal ``number`` (SigBlk in /proc): its script's first line ran."""
    with open(f"/proc/{pid}/status") as status:
        mask = next(line for line in status if line.startswith("SigBlk:")).split()[1]
    return bool(int(mask, 16) >> (number - 1) & 1)


def signal_during_imports(command, log, number) -> int:
    """Start ``command`` and send ``number`` to the process running the script as soon as the script
    holds it: while it imports (torch, on a plain python; the project, on the warm one), before
    the run's own handling exists. Returns the exit code."""
    process = start(command, log)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
        script = ([process.pid] + _warm_commands(process.args, [process.pid], forget=False))[-1]
        with contextlib.suppress(FileNotFoundError, StopIteration):
            if holds(script, number):
                break
        time.sleep(0.002)
    os.kill(script, number)
    return finish(process, log)


def test_a_signal_during_start_up_is_a_preemption_and_the_marker_always_says_so(setup, single):
    """SIGTERM or SIGUSR1 during the imports of a fresh run and of a resumed one (which finds an
    older preempted.json): exit 75 and a new marker naming the checkpoint to resume from; then the
    run ends as one never stopped."""
    out, log = setup.root / "start-up", setup.root / "start-up.log"
    whole = setup.root / "start-up-whole"
    run(single(whole))
    cold = lm_command(setup.config, setup.model, out, "--should_continue")  # a plain python: imports take seconds
    assert signal_during_imports(cold, log, signal.SIGTERM) == EXIT_PREEMPTED
    marker = json.loads((out / MARKER).read_text())
    assert (marker["step"], marker["signal"], marker["checkpoint"]) == (0, "SIGTERM", None), log.read_text()
    assert "rank 0: SIGTERM received during start-up" in log.read_text()
    assert "stopped by SIGTERM during start-up, before training from step 0: preempted.json left" in log.read_text()
    assert list_checkpoints(out) == []
    killed = run(single(out), env={VARIABLE: "kill:train_step:6"}, check=False)  # after checkpoint 4
    assert killed.returncode == -signal.SIGKILL and latest_step(out) == 4, killed.stderr[-3000:]
    for number in (signal.SIGUSR1, signal.SIGTERM):  # the second finds the first's marker
        assert signal_during_imports(single(out), log, number) == EXIT_PREEMPTED, log.read_text()[-3000:]
        marker = json.loads((out / MARKER).read_text())
        assert (marker["step"], marker["signal"], marker["checkpoint"]) == (4, number.name, str(checkpoint_dir(out, 4)))
        assert f"rank 0: {number.name} received during start-up" in log.read_text()
    run(single(out))
    final = f"checkpoints/checkpoint-{MAX_STEPS:08d}"
    assert comparable_metrics(out) == comparable_metrics(whole)
    assert tensors_equal(whole / final / "model.safetensors", out / final / "model.safetensors")
    assert not (out / MARKER).exists()


def documented_torchrun_signals() -> str:
    """The --signals_to_handle of docs/cluster.md's self-requeuing batch scripts (DDP's, FSDP's):
    the same in each."""
    scripts = re.findall(r"```bash\n(.*?)```", (REPO / "docs" / "cluster.md").read_text(), flags=re.S)
    requeuing = [text for text in scripts if "--signal=USR1@" in text]
    assert len(requeuing) >= 2, "docs/cluster.md lost a self-requeuing batch script"
    (found,) = {flag for text in requeuing for flag in re.findall(r"--signals_to_handle (\S+)", text)}
    return found


def test_sigusr1_to_the_agent_of_the_documented_torchrun_command_preempts(setup):
    """SLURM's --signal=USR1@T reaches torchrun's agent (srun's task); with the documented
    --signals_to_handle it passes SIGUSR1 to its workers, which stop with a checkpoint."""
    out, log = setup.root / "torchrun-usr1", setup.root / "torchrun-usr1.log"
    command = lm_command(setup.config, setup.model, out, "--should_continue", processes=2, python=setup.python)
    launcher = command.index("torch.distributed.run") + 1
    command[launcher:launcher] = ["--signals_to_handle", documented_torchrun_signals()]
    process = start(command, log)
    wait_for(process, log, "training:")
    process.send_signal(signal.SIGUSR1)  # the agent only
    code = finish(process, log)
    assert code != -signal.SIGUSR1, log.read_text()[-3000:]  # not killed by it, as without the flag
    assert_stopped_with_checkpoint(out, log.read_text(), "SIGUSR1")
    run(command)
    assert_same_end(setup.whole, out)


class Keys:
    """Eight items; an item is its key (epochs offset the keys)."""

    def __len__(self):
        return 8

    def __getitem__(self, key):
        return key


def signalled_on_start(signals, worker_id):
    """A worker that SIGTERMs itself before ``in_data_worker`` ignores the signals: the signal every
    process gets from SLURM, arriving while a DataLoader worker starts (torch's worker handler,
    installed by then, dies of a SIGTERM: the parent then fails with "DataLoader worker is killed")."""
    os.kill(os.getpid(), signal.SIGTERM)
    in_data_worker(signals, worker_id)


def test_a_signal_to_a_data_worker_before_it_ignores_the_signals_is_dropped():
    ctx = Context(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))
    signals = (signal.SIGTERM,)
    batches = training_batches(Keys(), torch.tensor, ctx, batch_size=2, shuffle=False, seed=0, num_workers=1,
                               worker_init_fn=functools.partial(signalled_on_start, signals), worker_signals=signals)
    assert [batch.tolist() for _, _, batch in itertools.islice(batches, 5)] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL and signal.SIGTERM not in signal.pthread_sigmask(
        signal.SIG_BLOCK, [])  # this process: as before
