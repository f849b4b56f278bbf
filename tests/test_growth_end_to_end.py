"""The whole LiGO pipeline on the embedded data, as users run it: pretrain a small BERT,
train the operator in two gloo processes, grow, train the grown model."""


import pytest
import torch
from conftest import run
from training_helpers import (
    config_text,
    grow_command,
    growth_pipeline,
    lm_command,
    read_metrics,
    refused_while_held,
    tiny_config,
)
from transformers import AutoModelForMaskedLM, AutoTokenizer

from ligo.training.checkpoint import latest_checkpoint


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, bert_tokenized, bert_tokenizer_dir, warm_python):
    """Every run on the warm interpreter (tests/warm_python.py); the operator in two gloo processes."""
    root = tmp_path_factory.mktemp("growth")
    commands, _, _ = growth_pipeline(root, "bert", bert_tokenized, bert_tokenizer_dir, warm_python,
                                     grown_extra=("--fuse_init_scheme", "stackbert_noisy", "rand"))
    for command in commands:
        run(command)
    return root


def test_operator_training_logs_and_checkpoints(pipeline):
    metrics = read_metrics(pipeline / "ligo")
    assert [m["step"] for m in metrics] == [0, 3, 6]
    assert metrics[-1]["eval_loss"] < metrics[0]["eval_loss"]
    assert metrics[-1]["flops"] > 0
    assert (latest_checkpoint(pipeline / "ligo") / "ligo_operator.safetensors").is_file()


def test_grown_model_starts_where_the_operator_ended(pipeline):
    operator_final = read_metrics(pipeline / "ligo")[-1]["eval_loss"]
    small_final = read_metrics(pipeline / "small")[-1]["eval_loss"]
    grown_start = read_metrics(pipeline / "grown")[0]["eval_loss"]
    scratch_start = read_metrics(pipeline / "scratch")[0]["eval_loss"]
    assert grown_start == pytest.approx(operator_final, rel=1e-5)
    assert grown_start < scratch_start - 1.0, (grown_start, scratch_start, small_final)
    # after the same steps with the same settings, the grown model is still far ahead of scratch
    grown_end = read_metrics(pipeline / "grown")[-1]["eval_loss"]
    scratch_end = read_metrics(pipeline / "scratch")[-1]["eval_loss"]
    assert grown_end < scratch_end - 0.5, (grown_end, scratch_end)


def test_grow_command_writes_the_same_model(pipeline, bert_tokenizer_dir, warm_python):
    out = pipeline / "grown-hf"
    run([warm_python, "-m", "ligo.grow", "--model_type", "bert", "--config_name", pipeline / "large.json",
         "--grow_scheme", "ligo", "--pretrained_ligo_path", pipeline / "ligo", "--tokenizer_name", bert_tokenizer_dir,
         "--output_dir", out])
    written = AutoModelForMaskedLM.from_pretrained(str(out)).eval()
    step0 = AutoModelForMaskedLM.from_pretrained(str(pipeline / "grown/checkpoints/checkpoint-00000000")).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    ids = tokenizer(["the state of the art", "anarchism is a political philosophy"], return_tensors="pt",
                    padding=True)
    with torch.no_grad():
        assert torch.allclose(written(**ids).logits, step0(**ids).logits, atol=1e-5)


def test_a_grow_into_a_folder_another_grow_holds_is_refused(pipeline, warm_python):
    """This test's process holds the lock beside the folder, as a first grow would while it
    saves; a second grow, its own process, is refused in one line and writes nothing."""
    out = pipeline / "held"
    refused_while_held(out, "python -m ligo.grow", lambda: run(
        [warm_python, "-m", "ligo.grow", "--model_type", "bert", "--config_name", pipeline / "large.json",
         "--grow_scheme", "bert2bert_fpi", "--source_model_path", pipeline / "small", "--output_dir", out],
        check=False), lock_path=pipeline / ".held.lock")
    assert not out.exists() and not (pipeline / ".held.partial").exists()
    # and with the holder gone, the same command writes the model and leaves no lock behind
    run([warm_python, "-m", "ligo.grow", "--model_type", "bert", "--config_name", pipeline / "large.json",
         "--grow_scheme", "bert2bert_fpi", "--source_model_path", pipeline / "small", "--output_dir", out])
    assert (out / "config.json").is_file() and not (pipeline / ".held.lock").exists()


def test_operator_from_other_model_sizes_is_refused(pipeline, bert_tokenized, bert_tokenizer_dir, warm_python):
    other = tiny_config(pipeline / "other.json", "bert", 4000, layers=6, hidden=128)
    grown = pipeline / "grown.txt"
    result = run(lm_command(grown, other, pipeline / "wrong", "--grow_scheme", "ligo",
                            "--pretrained_ligo_path", pipeline / "ligo", python=warm_python), check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "was trained for other model sizes" in result.stderr and "num_hidden_layers 4 vs 6" in result.stderr


def test_roberta_operator_trains_and_grows(tmp_path, roberta_tokenized, roberta_tokenizer_dir, warm_python):
    vocab = len(AutoTokenizer.from_pretrained(str(roberta_tokenizer_dir)))
    small_config = tiny_config(tmp_path / "small.json", "roberta", vocab, layers=1, hidden=64)
    large_config = tiny_config(tmp_path / "large.json", "roberta", vocab, layers=2, hidden=96)
    settings = config_text(tmp_path / "run.txt", "roberta", roberta_tokenized, roberta_tokenizer_dir, max_steps=2,
                           logging_steps=2, ckpt_steps=2, warmup_steps=0)
    run(lm_command(settings, small_config, tmp_path / "small", python=warm_python))
    run(grow_command(settings, large_config, tmp_path / "ligo", "--tune_width", "--tune_depth", "--source_model_path",
                     tmp_path / "small", "--fuse_init_scheme", "stackbert_noisy", "rand", python=warm_python))
    run(lm_command(settings, large_config, tmp_path / "grown", "--grow_scheme", "ligo", "--pretrained_ligo_path",
                   tmp_path / "ligo", python=warm_python))
    assert read_metrics(tmp_path / "grown")[0]["eval_loss"] == pytest.approx(
        read_metrics(tmp_path / "ligo")[-1]["eval_loss"], rel=1e-5)
    model = AutoModelForMaskedLM.from_pretrained(str(tmp_path / "grown/checkpoints/checkpoint-00000000"))
    assert type(model).__name__ == "RobertaForMaskedLM" and model.config.hidden_size == 96


def test_growing_from_one_operator_checkpoint_uses_that_checkpoint(pipeline, tmp_path, warm_python):
    """--pretrained_ligo_path may name checkpoint-XXXXXXXX itself: checkpoint 0 is the operator's
    initialisation alone (the ablation's 0-step cell), not its latest, trained state."""
    from safetensors.torch import load_file

    from ligo.growth.operator import LiGOOperator

    first = pipeline / "ligo" / "checkpoints" / "checkpoint-00000000"
    run([warm_python, "-m", "ligo.grow", "--model_type", "bert", "--config_name", pipeline / "large.json",
         "--grow_scheme", "ligo", "--pretrained_ligo_path", first, "--output_dir", tmp_path / "grown0"])
    grown = load_file(str(tmp_path / "grown0" / "model.safetensors"))
    initial = {k: v.detach() for k, v in LiGOOperator.load(first)().items()}
    trained = {k: v.detach() for k, v in LiGOOperator.load(latest_checkpoint(pipeline / "ligo"))().items()}
    name = "bert.encoder.layer.3.attention.self.query.weight"
    assert torch.equal(grown[name], initial[name])
    assert not torch.equal(grown[name], trained[name])


def test_operator_movement_is_measured_from_its_first_checkpoint(pipeline):
    from ligo.growth.diagnostics import movement

    moved = movement(pipeline / "ligo")
    assert moved["step"] == 6
    assert 0 < moved["depth"] < 1 and 0 < moved["width"] < 1 and "residual" not in moved


def test_operator_trains_under_bf16_autocast(pipeline, tmp_path, bert_tokenized, bert_tokenizer_dir):
    """The grown weights are made in float32 outside autocast, as a plain model's parameters:
    made inside it, CPU autocast's float32 LayerNorm refused their bfloat16 weights."""
    operator = config_text(tmp_path / "operator.txt", "bert", bert_tokenized, bert_tokenizer_dir, max_steps=2,
                           logging_steps=2, ckpt_steps=0)
    run(grow_command(operator, pipeline / "large.json", tmp_path / "ligo", "--bf16", "--tune_width", "--tune_depth",
                     "--source_model_path", pipeline / "small", "--seed", 7))
    metrics = read_metrics(tmp_path / "ligo")
    assert metrics[-1]["step"] == 2 and metrics[-1]["train_loss"] > 0 and metrics[-1]["eval_loss"] > 0


def test_untied_expansions_train_in_two_processes_on_a_tied_target(pipeline, tmp_path, bert_tokenized,
                                                                   bert_tokenizer_dir, warm_python):
    # --no_fuse_tie_param once gave the tied decoder a width block nothing used: DDP then failed
    # ("Expected to have finished reduction in the prior iteration").
    operator = config_text(tmp_path / "operator.txt", "bert", bert_tokenized, bert_tokenizer_dir, max_steps=2,
                           logging_steps=2, ckpt_steps=2, learning_rate="1e-3", warmup_steps=0)
    run(grow_command(operator, pipeline / "large.json", tmp_path / "untied", "--tune_width", "--tune_depth",
                     "--no_fuse_tie_param", "--source_model_path", pipeline / "small", processes=2,
                     python=warm_python))
    assert [m["step"] for m in read_metrics(tmp_path / "untied")] == [0, 2]
