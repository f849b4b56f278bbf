"""run_lm_distributed.py end to end: real processes (gloo), real data, real checkpoints."""

import json
import os
import subprocess
import time

import pytest
import torch
from conftest import REPO, run
from safetensors.torch import load_file
from training_helpers import assert_resumed_exactly, crash, lm_command, read_metrics, setup_run, tiny_config
from transformers import AutoModelForMaskedLM, AutoTokenizer

from ligo.training.checkpoint import list_checkpoints


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_two_process_run_trains_logs_and_checkpoints(tmp_path, request, family, warm_python):
    config, model_config = setup_run(tmp_path, request, family)
    out = tmp_path / "out"
    run(lm_command(config, model_config, out, processes=2, python=warm_python, warm_agent=True))
    metrics = read_metrics(out)
    assert [m["step"] for m in metrics] == [0, 3, 6, 9, 12]
    eval_losses = [m["eval_loss"] for m in metrics]
    assert all(b < a for a, b in zip(eval_losses, eval_losses[1:])), eval_losses
    assert eval_losses[-1] < eval_losses[0] - 0.3, eval_losses
    # two processes x 8 sequences of 64 tokens per step
    assert metrics[-1]["tokens"] == 12 * 2 * 8 * 64
    assert metrics[-1]["flops"] > metrics[1]["flops"] > 0
    assert all(later["train_seconds"] > earlier["train_seconds"] for earlier, later in zip(metrics[1:], metrics[2:]))
    assert [step for step, _ in list_checkpoints(out)] == [0, 4, 8, 12]
    assert (out / "train_log.txt").read_text().count("train_step=") == 5
    assert list((out / "runs").glob("*/events.out.tfevents.*"))
    final = out / "checkpoints/checkpoint-00000012"
    model = AutoModelForMaskedLM.from_pretrained(str(final))
    assert type(model).__name__ == ("BertForMaskedLM" if family == "bert" else "RobertaForMaskedLM")
    assert (final / "model.safetensors").is_file()
    assert sorted(k.split(".")[0] for k in load_file(str(final / "rng_state.safetensors"))) == ["rank0", "rank1"]
    tokenizer = AutoTokenizer.from_pretrained(str(final))
    ids = tokenizer("the history of the state", return_tensors="pt")
    with torch.no_grad():
        assert model(**ids).logits.shape[-1] == model.config.vocab_size


def _kill_after_checkpoint(command, out, step):
    """Start a run and SIGKILL it and every process it started once checkpoint `step` is complete
    (torchrun's workers run in sessions of their own: killing its process group would miss them)."""
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True, env={**os.environ})
    marker = out / f"checkpoints/checkpoint-{step:08d}/trainer_state.json"
    deadline = time.time() + 120
    while not marker.exists():
        assert process.poll() is None, "the run ended before its checkpoint"
        assert time.time() < deadline, "no checkpoint within 2 minutes"
        time.sleep(0.02)
    crash(process)


def test_resume_reproduces_the_uninterrupted_run_exactly(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "bert", gradient_accumulation_steps=2, logging_steps=2,
                                     ckpt_steps=3, max_steps=10, num_workers=2)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    run(lm_command(config, model_config, whole, processes=2, python=warm_python, warm_agent=True))
    _kill_after_checkpoint(lm_command(config, model_config, resumed, processes=2, python=warm_python), resumed, 3)
    result = run(lm_command(config, model_config, resumed, "--should_continue",
                            processes=2, python=warm_python, warm_agent=True))
    assert "resuming from" in result.stdout and "checkpoint-00000010" not in result.stdout
    assert_resumed_exactly(whole, resumed, 10, ["step", "epoch", "train_loss", "eval_loss", "flops", "tokens", "lr"])


def test_misspelled_config_key_is_named(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "bert")
    config.write_text(config.read_text() + "lerning_rate = 1e-3\n")
    result = run(lm_command(config, model_config, tmp_path / "out", python=warm_python), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"config file '{config}': unknown key 'lerning_rate' (did you mean 'learning_rate'?)" in result.stderr


def test_existing_run_is_not_overwritten_by_accident(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "bert", max_steps=2, logging_steps=1, ckpt_steps=0)
    out = tmp_path / "out"
    run(lm_command(config, model_config, out, python=warm_python))
    before = (out / "metrics.jsonl").read_text()
    result = run(lm_command(config, model_config, out, python=warm_python), check=False)
    assert result.returncode == 2 and "already holds a run" in result.stderr
    assert (out / "metrics.jsonl").read_text() == before
    run(lm_command(config, model_config, out, "--overwrite_output_dir", python=warm_python))
    assert len(read_metrics(out)) == 3


def test_resume_with_another_model_config_is_refused(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "bert", max_steps=2, logging_steps=1, ckpt_steps=1)
    out = tmp_path / "out"
    run(lm_command(config, model_config, out, python=warm_python))
    other = tiny_config(tmp_path / "other.json", "bert", 4000, layers=3)
    result = run(lm_command(config, other, out, "--should_continue", python=warm_python), check=False)
    assert result.returncode == 2
    assert f"was made with --config_name {model_config}, this run has --config_name {other}" in result.stderr


def test_evaluation_is_the_same_for_one_and_two_processes(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "roberta", max_steps=2, logging_steps=2, ckpt_steps=0)
    losses = []
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        run(lm_command(config, model_config, out, processes=processes, python=warm_python))
        losses.append(read_metrics(out)[0]["eval_loss"])  # step 0: the same initial model
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)


def test_bf16_autocast_trains_on_cpu(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "bert", max_steps=2, logging_steps=2, ckpt_steps=0)
    out = tmp_path / "out"
    run(lm_command(config, model_config, out, "--bf16", python=warm_python))
    metrics = read_metrics(out)
    assert metrics[-1]["step"] == 2 and metrics[-1]["train_loss"] > 0 and metrics[-1]["eval_loss"] > 0


def test_gradient_checkpointing_trains_the_numbers_of_the_run_without_it(tmp_path, request, warm_python):
    """--gradient_checkpointing runs each layer again in the backward with the random state it
    first ran with: a BERT run with dropout and token dropping (whose hooks on the layers stay
    outside the recomputation) trains the same numbers, bit for bit, and counts the same FLOPs."""
    config, model_config = setup_run(tmp_path, request, "bert", max_steps=4, logging_steps=2, ckpt_steps=4)
    large = tiny_config(tmp_path / "large.json", "bert", json.loads(model_config.read_text())["vocab_size"], layers=4,
                        hidden=64)
    flags = ["--token_drop", "--token_drop_rate", "0.5", "--token_drop_start", "1"]
    kept, recomputed = tmp_path / "kept", tmp_path / "recomputed"
    run(lm_command(config, large, kept, *flags, python=warm_python))
    result = run(lm_command(config, large, recomputed, *flags, "--gradient_checkpointing", python=warm_python))
    assert "incompatible with gradient checkpointing" not in result.stdout + result.stderr  # no cache to turn off
    keys = ["step", "train_loss", "eval_loss", "flops", "tokens"]
    a, b = ([[m[k] for k in keys] for m in read_metrics(d)] for d in (kept, recomputed))
    assert a == b and len(a) == 3
    a, b = (load_file(str(d / "checkpoints/checkpoint-00000004/model.safetensors")) for d in (kept, recomputed))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    start = load_file(str(kept / "checkpoints/checkpoint-00000000/model.safetensors"))
    assert not all(torch.equal(a[k], start[k]) for k in a)  # it trained


@pytest.mark.skipif(torch.cuda.is_available(), reason="with a GPU --fp16 works")
def test_fp16_without_a_gpu_is_a_clear_error(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "bert", max_steps=2)
    result = run(lm_command(config, model_config, tmp_path / "out", "--fp16", python=warm_python), check=False)
    assert result.returncode == 2 and "--fp16 needs a CUDA GPU; on CPU use --bf16" in result.stderr
