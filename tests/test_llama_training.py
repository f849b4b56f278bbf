"""Llama through the entry scripts, end to end on the embedded sample with the project's own Llama
tokenizer (``<s>`` before each block, ``</s>`` after each document): causal-LM pretraining of a
grouped-query model, exact resume, a LiGO operator to a 4L-128H, 8/4-head target, the grown model
trained on, loaded back with AutoModelForCausalLM."""

import math

import pytest
from conftest import run
from test_pretraining import _kill_after_checkpoint
from training_helpers import assert_resumed_exactly, growth_pipeline, lm_command, read_metrics, setup_run, tensors_equal
from transformers import AutoModelForCausalLM, AutoTokenizer

from ligo.training.checkpoint import list_checkpoints

KEYS = ["step", "epoch", "train_loss", "eval_loss", "flops", "tokens", "lr"]


def test_llama_trains_checkpoints_loads_and_resumes_exactly(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "llama", logging_steps=2, ckpt_steps=2, max_steps=4)
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    result = run(lm_command(config, model_config, whole, python=warm_python))
    assert "llama 2L-64H" in result.stdout
    metrics = read_metrics(whole)
    assert [m["step"] for m in metrics] == [0, 2, 4]
    losses = [m["eval_loss"] for m in metrics]
    assert losses[-1] < losses[0], losses
    vocab = len(AutoTokenizer.from_pretrained(str(request.getfixturevalue("llama_tokenizer_dir"))))
    assert losses[0] == pytest.approx(math.log(vocab), abs=0.5)  # a random model: about uniform
    # 8 blocks of 62 tokens after one <s>: 63 a sequence.
    assert metrics[-1]["tokens"] == 4 * 8 * 63
    assert [step for step, _ in list_checkpoints(whole)] == [0, 2, 4]
    model = AutoModelForCausalLM.from_pretrained(str(whole / "checkpoints/checkpoint-00000004"))
    assert type(model).__name__ == "LlamaForCausalLM"
    assert model.config.num_attention_heads == 4 and model.config.num_key_value_heads == 2
    # Killed after its checkpoint 2 and resumed: the same metrics and weights.
    _kill_after_checkpoint(lm_command(config, model_config, resumed, python=warm_python), resumed, 2)
    result = run(lm_command(config, model_config, resumed, "--should_continue", python=warm_python))
    assert "resuming from" in result.stdout
    assert_resumed_exactly(whole, resumed, 4, KEYS)


def test_llama_blocks_start_with_bos_and_documents_end_with_eos(llama_tokenized, llama_tokenizer_dir):
    from ligo.data.dataset import BlockDataset
    from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
    from ligo.models.families import family_of
    family = family_of("llama")
    tokenizer = load_tokenizer(str(llama_tokenizer_dir))
    blocks = BlockDataset(llama_tokenized / "en.valid.raw", tokenizer_tag(str(llama_tokenizer_dir)), tokenizer, 62,
                          start_token=family.block_start_token, end_token=family.block_end_token,
                          separator_token=family.document_end_token)
    assert (tokenizer.unk_token_id, tokenizer.bos_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    rows = [blocks[i]["input_ids"].tolist() for i in range(len(blocks))]
    assert all(len(row) == 63 and row[0] == 1 and 1 not in row[1:] for row in rows)
    assert sum(row.count(2) for row in rows) > 0  # the documents' ends, in the stream


@pytest.fixture(scope="module")
def llama_growth(tmp_path_factory, llama_tokenized, llama_tokenizer_dir, warm_python):
    """A 2L-64H (4 query, 2 key/value heads) Llama pretrained, a LiGO operator to 4L-128H (8/4 heads)
    trained from it in two gloo processes, and the grown model trained on: the warm interpreter runs all."""
    root = tmp_path_factory.mktemp("llama-growth")
    commands, grown, large = growth_pipeline(root, "llama", llama_tokenized, llama_tokenizer_dir, warm_python)
    for command in commands[:3]:  # no scratch run
        run(command)
    return root, grown, large


def test_the_grown_llama_starts_where_its_operator_ended_and_loads(llama_growth, tmp_path, llama_tokenizer_dir,
                                                                   warm_python):
    root, _, large = llama_growth
    operator = read_metrics(root / "ligo")
    assert [m["step"] for m in operator] == [0, 3, 6] and operator[-1]["eval_loss"] < operator[0]["eval_loss"]
    grown = read_metrics(root / "grown")
    assert grown[0]["eval_loss"] == pytest.approx(operator[-1]["eval_loss"], rel=1e-5)
    assert grown[-1]["step"] == 3 and math.isfinite(grown[-1]["eval_loss"])
    model = AutoModelForCausalLM.from_pretrained(str(root / "grown/checkpoints/checkpoint-00000003"))
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (4, 128)
    assert (model.config.num_attention_heads, model.config.num_key_value_heads) == (8, 4)
    out = tmp_path / "grown"
    run([warm_python, "-m", "ligo.grow", "--model_type", "llama", "--config_name", large, "--grow_scheme", "ligo",
         "--pretrained_ligo_path", root / "ligo", "--tokenizer_name", llama_tokenizer_dir, "--output_dir", out])
    assert type(AutoModelForCausalLM.from_pretrained(str(out))).__name__ == "LlamaForCausalLM"
    assert tensors_equal(root / "grown/checkpoints/checkpoint-00000000/model.safetensors", out / "model.safetensors")
