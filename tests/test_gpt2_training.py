"""GPT-2 through the entry scripts, end to end on the embedded sample with the project's own GPT-2
tokenizer: causal-LM pretraining in two gloo processes, exact resume after SIGKILL, evaluation
independent of the number of processes, the LiGO operator in two processes, the grown model's
first evaluation equal to the operator's last, a baseline, MSLT, KI and layer dropping."""

import math

import pytest
from conftest import run
from test_pretraining import _kill_after_checkpoint
from training_helpers import assert_resumed_exactly, growth_pipeline, lm_command, read_metrics, setup_run, tensors_equal
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2LMHeadModel

from ligo.training.checkpoint import list_checkpoints

KEYS = ["step", "epoch", "train_loss", "eval_loss", "flops", "tokens", "lr"]


def test_evaluation_scores_every_token_and_is_the_same_for_one_and_two_processes(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "gpt2", max_steps=2, logging_steps=2, ckpt_steps=0)
    first = []
    for processes in (1, 2):
        out = tmp_path / f"p{processes}"
        run(lm_command(config, model_config, out, processes=processes, python=warm_python))
        first.append(read_metrics(out)[0])
    assert first[0]["eval_loss"] == pytest.approx(first[1]["eval_loss"], rel=1e-6)
    # Every token of each evaluation block after its <|endoftext|>: 62 a block.
    from ligo.data.dataset import BlockDataset
    from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
    tokenizer_dir = str(request.getfixturevalue("gpt2_tokenizer_dir"))
    text = request.getfixturevalue("gpt2_tokenized") / "en.valid.raw"
    blocks = BlockDataset(text, tokenizer_tag(tokenizer_dir), load_tokenizer(tokenizer_dir), 62,
                          start_token="eos_token",
                          end_token=None, separator_token="eos_token")
    assert first[0]["eval_tokens"] == first[1]["eval_tokens"] == len(blocks) * 62


def test_two_process_run_trains_checkpoints_and_resumes_after_sigkill_exactly(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "gpt2", logging_steps=2, ckpt_steps=3, max_steps=8)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    result = run(lm_command(config, model_config, whole, processes=2, python=warm_python, warm_agent=True))
    assert "gpt2 2L-64H" in result.stdout
    metrics = read_metrics(whole)
    assert [m["step"] for m in metrics] == [0, 2, 4, 6, 8]
    losses = [m["eval_loss"] for m in metrics]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    vocab = len(AutoTokenizer.from_pretrained(str(request.getfixturevalue("gpt2_tokenizer_dir"))))
    assert losses[0] == pytest.approx(math.log(vocab), abs=0.5)  # a random model: about uniform
    assert metrics[-1]["eval_ppl"] == pytest.approx(math.exp(losses[-1]), rel=1e-9)
    # Two processes x 8 blocks of 62 tokens after one <|endoftext|>: 63 a sequence.
    assert metrics[-1]["tokens"] == 8 * 2 * 8 * 63
    assert [step for step, _ in list_checkpoints(whole)] == [0, 3, 6, 8]
    model = GPT2LMHeadModel.from_pretrained(str(whole / "checkpoints/checkpoint-00000008"))
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()  # tied, as GPT-2
    # Killed after its checkpoint 3 and resumed: the same metrics and weights.
    _kill_after_checkpoint(lm_command(config, model_config, resumed, processes=2, python=warm_python), resumed, 3)
    result = run(lm_command(config, model_config, resumed, "--should_continue",
                            processes=2, python=warm_python, warm_agent=True))
    assert "resuming from" in result.stdout
    assert_resumed_exactly(whole, resumed, 8, KEYS)


@pytest.fixture(scope="module")
def gpt2_growth(tmp_path_factory, gpt2_tokenized, gpt2_tokenizer_dir, warm_python):
    """A small GPT-2 pretrained, a LiGO operator trained from it in two gloo processes, the grown
    model trained on, and scratch beside it: every run on the warm interpreter."""
    root = tmp_path_factory.mktemp("gpt2-growth")
    commands, grown, large = growth_pipeline(root, "gpt2", gpt2_tokenized, gpt2_tokenizer_dir, warm_python)
    for command in commands:
        run(command)
    return root, grown, large


def test_the_grown_gpt2_starts_where_its_operator_ended(gpt2_growth):
    root, _, _ = gpt2_growth
    operator = read_metrics(root / "ligo")
    assert [m["step"] for m in operator] == [0, 3, 6] and operator[-1]["eval_loss"] < operator[0]["eval_loss"]
    grown_start = read_metrics(root / "grown")[0]["eval_loss"]
    assert grown_start == pytest.approx(operator[-1]["eval_loss"], rel=1e-5)
    assert grown_start < read_metrics(root / "scratch")[0]["eval_loss"] - 0.5  # 40 small steps: ~0.9 nat below
    assert read_metrics(root / "grown")[-1]["eval_loss"] < read_metrics(root / "scratch")[-1]["eval_loss"]


@pytest.mark.parametrize("method", [["--grow_scheme", "bert2bert_aki"], ["--grow_scheme", "mslt", "--mslt_stage_steps",
                                    "1", "1"], ["--grow_scheme", "ki"], ["--layer_drop", "--layer_drop_rate", "0.5"]],
                         ids=["bert2bert_aki", "mslt", "ki", "layer_drop"])
def test_the_other_methods_train_a_gpt2(gpt2_growth, method, tmp_path, warm_python):
    root, grown, large = gpt2_growth
    out = tmp_path / "out"
    source = ["--source_model_path", root / "small"] if "--grow_scheme" in method else []
    run(lm_command(grown, large, out, *method, *source, python=warm_python))
    metrics = read_metrics(out)
    assert metrics[-1]["step"] == 3 and math.isfinite(metrics[-1]["eval_loss"]) and metrics[-1]["flops"] > 0
    if method[1] == "bert2bert_aki":
        assert metrics[0]["eval_loss"] < read_metrics(root / "scratch")[0]["eval_loss"] - 0.5


def test_gpt2_refuses_mlm_and_token_dropping_in_one_line(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "gpt2", max_steps=2)
    for flags, message in [(["--mlm"], "gpt2 is a causal LM"), (["--token_drop"], "--token_drop is BERT's")]:
        result = run(lm_command(config, model_config, tmp_path / "out", *flags, python=warm_python), check=False)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "out" / "metrics.jsonl").exists()


def test_the_grow_command_writes_a_gpt2_that_loads_as_a_causal_lm(gpt2_growth, tmp_path, gpt2_tokenizer_dir,
                                                                  warm_python):
    root, _, large = gpt2_growth
    out = tmp_path / "grown"
    run([warm_python, "-m", "ligo.grow", "--model_type", "gpt2", "--config_name", large, "--grow_scheme", "ligo",
         "--pretrained_ligo_path", root / "ligo", "--tokenizer_name", gpt2_tokenizer_dir, "--output_dir", out])
    model = AutoModelForCausalLM.from_pretrained(str(out))
    assert type(model).__name__ == "GPT2LMHeadModel" and model.config.n_layer == 4
    assert tensors_equal(root / "grown/checkpoints/checkpoint-00000000/model.safetensors", out / "model.safetensors")
