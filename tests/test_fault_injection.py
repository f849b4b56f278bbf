"""Crash at any moment, lose nothing: two-process runs, pretraining and operator training, are
killed with SIGKILL (LIGO_FAULT_INJECT) during a step, during evaluation, before the first
checkpoint, while a checkpoint is written and before it is published, and (the whole process
tree, from outside) at a random moment, and resumed with --should_continue each time; the final
model, the checkpoints and every metrics.jsonl value but wall-clock time equal an uninterrupted
run's exactly."""

import json
import os
import random
import subprocess
import time
from types import SimpleNamespace

import pytest
from conftest import REPO, run
from training_helpers import (
    comparable_metrics,
    config_text,
    crash,
    grow_command,
    lm_command,
    tensors_equal,
    tiny_config,
)
from transformers import AutoTokenizer

from ligo.training.checkpoint import list_checkpoints
from ligo.training.fault_injection import VARIABLE


@pytest.fixture(scope="module")
def setup(tmp_path_factory, bert_tokenized, bert_tokenizer_dir, warm_python):
    """Model configs, run settings and an uninterrupted pretraining run (also the operator's small model)."""
    root = tmp_path_factory.mktemp("crashes")
    vocab = len(AutoTokenizer.from_pretrained(str(bert_tokenizer_dir)))
    small = tiny_config(root / "small.json", "bert", vocab)
    large = tiny_config(root / "large.json", "bert", vocab, layers=3, hidden=96)
    pretrain = config_text(root / "pretrain.txt", "bert", bert_tokenized, bert_tokenizer_dir, max_steps=10,
                           gradient_accumulation_steps=2, logging_steps=2, ckpt_steps=3, num_workers=2)
    operator = config_text(root / "operator.txt", "bert", bert_tokenized, bert_tokenizer_dir, max_steps=6,
                           logging_steps=2, ckpt_steps=3, warmup_steps=0, learning_rate="1e-3")
    whole = root / "whole"
    run(lm_command(pretrain, small, whole, processes=2, python=warm_python))
    return SimpleNamespace(root=root, small=small, large=large, pretrain=pretrain, operator=operator, whole=whole,
                           python=warm_python)


def killed_by(fault: str, command) -> subprocess.CompletedProcess:
    """Run until the planned SIGKILL; torchrun then stops the other rank."""
    result = run(command, env={VARIABLE: fault}, check=False)
    assert result.returncode != 0 and "Signal 9 (SIGKILL)" in result.stderr, (fault, result.stderr[-3000:])
    return result


def latest_step(output_dir):
    checkpoints = list_checkpoints(output_dir)
    return checkpoints[-1][0] if checkpoints else None


def crash_at_random_moment(command, output_dir, seed: int) -> str:
    """Kill the whole run at a random moment after it has started resuming; says where it was."""
    delay = random.Random(seed).uniform(0.0, 1.5)
    log = output_dir.with_name(f"{output_dir.name}-crash.log")
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
    deadline = time.time() + 120
    while "resuming from" not in log.read_text():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.time() < deadline, "the run did not start within 2 minutes"
        time.sleep(0.02)
    time.sleep(delay)
    ended = process.poll() is not None
    crash(process)
    lines = (output_dir / "metrics.jsonl").read_text().count("\n")  # the last may be cut short: not parsed
    return (f"seed {seed}: {delay:.2f} s after resuming, {'after the run ended' if ended else 'mid-run'}; "
            f"latest checkpoint step {latest_step(output_dir)}, {lines} metrics lines")


def assert_same_run(whole, resumed, final_step: int, weights: str):
    name = f"checkpoints/checkpoint-{final_step:08d}"
    assert comparable_metrics(resumed) == comparable_metrics(whole)
    assert tensors_equal(whole / name / weights, resumed / name / weights)
    states = [json.loads((out / name / "trainer_state.json").read_text()) for out in (whole, resumed)]
    assert {**states[0], "train_seconds": 0} == {**states[1], "train_seconds": 0}
    assert [step for step, _ in list_checkpoints(resumed)] == [step for step, _ in list_checkpoints(whole)]
    assert not [p.name for p in (resumed / "checkpoints").iterdir() if p.name.startswith(".")]


def test_pretraining_killed_three_times_ends_as_if_never_interrupted(setup):
    out = setup.root / "pretrain-crashed"
    command = lm_command(setup.pretrain, setup.small, out, "--should_continue", processes=2, python=setup.python)
    # Rank 0 evaluating step 0, before the first checkpoint: nothing to resume, so the next
    # launch starts afresh.
    killed_by("kill:eval:0", command)
    assert latest_step(out) is None and (out / "train_log.txt").is_file()
    # Rank 1 in the middle of step 5; then rank 0 half-way through writing checkpoint 6, which
    # must not count.
    result = killed_by("kill:train_step:5:1", command)
    assert "holds no complete checkpoint" in result.stdout and "starting afresh" in result.stdout
    assert latest_step(out) == 3
    killed_by("kill:checkpoint_write:6", command)
    assert latest_step(out) == 3
    assert (out / "checkpoints/.partial-checkpoint-00000006/model.safetensors").is_file()
    result = run(command)
    assert "resuming from" in result.stdout and "checkpoint-00000003" in result.stdout
    assert_same_run(setup.whole, out, 10, "model.safetensors")


def test_operator_training_killed_before_publishing_a_checkpoint_and_at_random(setup):
    def command(out, *extra):
        return grow_command(setup.operator, setup.large, out, "--tune_width", "--tune_depth", "--source_model_path",
                            setup.whole, "--fuse_init_scheme", "stackbert_noisy", "rand", *extra, processes=2,
                            python=setup.python)

    whole, out = setup.root / "operator-whole", setup.root / "operator-crashed"
    run(command(whole))
    # Every file of checkpoint 3 written, trainer_state.json too, but not renamed into place: it
    # must not count.
    killed_by("kill:checkpoint_rename:3", command(out, "--should_continue"))
    assert latest_step(out) == 0 and (out / "checkpoints/.partial-checkpoint-00000003/trainer_state.json").is_file()
    where = crash_at_random_moment(command(out, "--should_continue"), out, seed=time.time_ns() % 2**32)
    print(f"random crash: {where}")
    result = run(command(out, "--should_continue"))
    assert "resuming from" in result.stdout, where
    assert_same_run(whole, out, 6, "ligo_operator.safetensors")
