"""The numerics guard: a non-finite loss stops the run, naming the step and the last good
checkpoint, before anything is logged or saved after it; with --skip_nonfinite_steps the step
is skipped (weights and AdamW's moments untouched) on every rank, and counted."""

import math
from types import SimpleNamespace

import pytest
import torch
from conftest import run
from training_helpers import config_text, lm_command, read_metrics, tensors_equal, tiny_config
from transformers import AutoTokenizer

from ligo.base.errors import UserError
from ligo.training import fault_injection
from ligo.training.checkpoint import list_checkpoints
from ligo.training.trainer import NumericsGuard


@pytest.fixture(scope="module")
def setup(tmp_path_factory, bert_tokenized, bert_tokenizer_dir):
    root = tmp_path_factory.mktemp("numerics")
    vocab = len(AutoTokenizer.from_pretrained(str(bert_tokenizer_dir)))
    model_config = tiny_config(root / "tiny.json", "bert", vocab)

    def config(name, **overrides):
        return config_text(root / f"{name}.txt", "bert", bert_tokenized, bert_tokenizer_dir, num_workers=0, **overrides)

    return SimpleNamespace(root=root, model_config=model_config, config=config)


def test_a_nan_loss_on_rank_1_stops_both_ranks_naming_the_step_and_the_last_good_checkpoint(setup, warm_python):
    out = setup.root / "stop"
    config = setup.config("stop", max_steps=6, logging_steps=2, ckpt_steps=2)
    result = run(lm_command(config, setup.model_config, out, processes=2, python=warm_python, warm_agent=True),
                 env={fault_injection.VARIABLE: "nan:train_step:3:1"}, check=False)
    assert result.returncode != 0
    assert (f"error: non-finite loss at step 3; last good checkpoint: {out}/checkpoints/checkpoint-00000002; lower "
            "--learning_rate, use --bf16 instead of --fp16, or pass --skip_nonfinite_steps, and resume from it with "
            "--should_continue") in result.stderr, result.stderr[-3000:]
    assert "]: Traceback" not in result.stderr  # no rank's (torchrun's own report aside)
    # found at step 4's reduction, before step 4 was logged or saved
    assert [m["step"] for m in read_metrics(out)] == [0, 2]
    assert [step for step, _ in list_checkpoints(out)] == [0, 2]


def test_skip_nonfinite_steps_leaves_the_model_untouched_and_counts_the_step(setup, warm_python):
    out = setup.root / "skip"
    config = setup.config("skip", max_steps=5, logging_steps=5, ckpt_steps=1)
    run(lm_command(config, setup.model_config, out, "--skip_nonfinite_steps",
                   processes=2, python=warm_python, warm_agent=True),
        env={fault_injection.VARIABLE: "nan:train_step:3:1"})
    final = read_metrics(out)[-1]
    assert final["step"] == 5 and final["skipped_steps"] == 1 and math.isfinite(final["train_loss"])
    step = {n: out / f"checkpoints/checkpoint-{n:08d}" for n in range(6)}
    # Step 3's NaN (on rank 1 only) reached both ranks' gradients: neither applied it.
    assert tensors_equal(step[2] / "model.safetensors", step[3] / "model.safetensors")
    assert not tensors_equal(step[3] / "model.safetensors", step[4] / "model.safetensors")
    moments = [torch.load(step[n] / "optimizer.pt", weights_only=True)["state"] for n in (2, 3)]
    assert all(torch.equal(moments[0][i][k], moments[1][i][k]) for i in moments[0] for k in moments[0][i])
    last = torch.load(step[5] / "optimizer.pt", weights_only=True)["state"]
    assert all(torch.isfinite(t).all() for state in last.values() for t in state.values())


def test_the_guard_notes_the_first_non_finite_step_without_reading_the_device():
    guard = NumericsGuard(skip=False, fp16=False, device=torch.device("cpu"))
    finite, nan, inf = torch.tensor(2.5), torch.tensor(math.nan), torch.tensor(math.inf)
    assert guard.after_step(1, finite, finite) is finite
    assert guard.poll() == (False, 0)
    guard.after_step(2, finite, inf)  # finite loss, overflowing gradients: the weights would be lost too
    guard.after_step(3, nan, finite)
    assert guard.poll() == (True, 0) and guard.first_bad.item() == 2
    fp16 = NumericsGuard(skip=False, fp16=True, device=torch.device("cpu"))
    fp16.after_step(1, finite, inf)  # the loss scaler's business: it skips the step and lowers the scale
    assert fp16.poll() == (False, 0)


def test_the_guard_leaves_skipped_steps_out_of_the_loss_and_counts_them():
    guard = NumericsGuard(skip=True, fp16=False, device=torch.device("cpu"))
    assert guard.after_step(1, torch.tensor(math.nan), torch.tensor(math.nan)).item() == 0.0
    assert guard.after_step(2, torch.tensor(2.5), torch.tensor(1.0)).item() == 2.5
    assert guard.poll() == (False, 1) and guard.poll() == (False, 0)


def test_a_malformed_fault_plan_is_named(monkeypatch):
    monkeypatch.setenv(fault_injection.VARIABLE, "kill:checkpoint:3")
    with pytest.raises(UserError, match="LIGO_FAULT_INJECT='kill:checkpoint:3': expected ACTION:POINT:STEP"):
        fault_injection.at("eval", 3, 0)
    monkeypatch.setenv(fault_injection.VARIABLE, "nan:train_step:3:1")
    assert fault_injection.nan_at("train_step", 3, 1) and not fault_injection.nan_at("train_step", 3, 0)
    fault_injection.at("train_step", 3, 1)  # a NaN is not a crash
