"""Llama through the entry scripts, end to end on the embedded sample with the project's own Llama
tokenizer (``<s>`` before each block, ``</s>`` after each document): causal-LM pretraining of a
grouped-query model, exact resume, a LiGO operator to a 4L-128H, 8/4-head target, the grown model
trained on, loaded back with AutoModelForCausalLM."""

import math

import pytest
import torch
from conftest import run
from test_pretraining import _kill_after_checkpoint
from training_helpers import assert_resumed_exactly, growth_pipeline, lm_command, read_metrics, setup_run, tensors_equal
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

from ligo.models import families
from ligo.tasks.ki import KnowledgeInheritance
from ligo.tasks.lm import ModelTask
from ligo.tasks.mslt import MSLTSchedule, MSLTTask
from ligo.training.checkpoint import list_checkpoints
from ligo.training.layer_drop import LayerDrop, running_layers

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


# Layer dropping runs in process below (and through the scripts for GPT-2 and BERT, which share its code).
@pytest.mark.parametrize("method", [["mslt", "--mslt_stage_steps", "1", "1"], ["ki"]], ids=["mslt", "ki"])
def test_mslt_and_ki_train_a_llama_from_the_small_one(llama_growth, method, tmp_path, warm_python):
    root, grown, large = llama_growth
    out = tmp_path / "out"
    run(lm_command(grown, large, out, "--grow_scheme", *method, "--source_model_path", root / "small",
                   python=warm_python))
    metrics = read_metrics(out)
    assert metrics[-1]["step"] == 3 and math.isfinite(metrics[-1]["eval_loss"]) and metrics[-1]["flops"] > 0


# --- layer dropping, MSLT, KI and token dropping on a Llama, in process ---------------------------

SEQ = 12


def tiny_llama(layers=4, seed=0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=50, hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=8, intermediate_size=64, max_position_embeddings=SEQ,
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


def causal_batch(seed=0):
    input_ids = torch.randint(3, 50, (2, SEQ), generator=torch.Generator().manual_seed(seed))
    input_ids[:, 0] = 1  # <s>
    return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": input_ids.clone()}


def test_a_llama_running_some_layers_is_the_llama_made_of_those_layers_and_drops_them_in_training():
    # LlamaModel loops over self.layers[:num_hidden_layers] with the rotary embeddings computed
    # once: the shorter list runs as a model of those layers (their layer_idx only names a cache).
    model, smaller = tiny_llama(layers=4), tiny_llama(layers=2)
    renamed = {k.replace("layers.2.", "layers.1."): v for k, v in model.state_dict().items()
               if not any(f"layers.{i}." in k for i in (1, 3))}
    smaller.load_state_dict(renamed)
    inputs = {k: v for k, v in causal_batch().items() if k != "labels"}
    with running_layers(model, "model.layers", [True, False, True, False]):
        dropped = model(**inputs).logits
    assert len(model.model.layers) == 4
    assert torch.allclose(dropped, smaller(**inputs).logits, atol=1e-5)
    assert not torch.allclose(dropped, model(**inputs).logits, atol=1e-3)
    drop = LayerDrop(0.5, True, 1.0, 0)
    step = next(s for s in range(100, 200) if sum(drop.plan(s, 4)) == 2)
    task = ModelTask(model, layer_drop=drop)
    task.begin_step(step)
    two = LlamaConfig(**{**model.config.to_dict(), "num_hidden_layers": 2})
    assert task.train_flops(3, SEQ) == 3 * families.train_flops(two, SEQ)
    model.train()
    task.loss(model, causal_batch()).backward()
    unused = [i for i, kept in enumerate(drop.plan(step, 4)) if not kept]
    assert all(p.grad is None for i in unused for p in model.model.layers[i].parameters())


def test_mslt_grows_a_llama_by_its_top_layers_and_trains_only_the_new_ones():
    model = tiny_llama(layers=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    task = MSLTTask(model, MSLTSchedule([2, 3, 4], [5, 5], max_steps=20), start_step=0, fresh=True)
    state = model.state_dict()
    assert all(torch.equal(state[k], before[k.replace("layers.2.", "layers.1.")]) for k in state if "layers.2." in k)
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trained == {name for name, _ in model.named_parameters() if "layers.2." in name} | {"model.norm.weight"}
    model.train()
    loss = task.loss(model, causal_batch())
    assert torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is None for name, p in model.named_parameters() if name not in trained)
    task.begin_step(6)  # stage 1: layer 3 starts as a copy of layer 2
    state = model.state_dict()
    assert all(torch.equal(state[k], state[k.replace("layers.3.", "layers.2.")]) for k in state if "layers.3." in k)
    task.begin_step(11)
    assert all(p.requires_grad for p in model.parameters())


def test_ki_distils_a_small_llama_into_a_larger_one():
    student, teacher = tiny_llama(seed=0), tiny_llama(seed=1, layers=2)
    ki = KnowledgeInheritance(teacher, alpha=0.8, steps=10, temperature=2.0)
    b = causal_batch()
    output = student(**b)
    p_teacher = torch.softmax(teacher(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits / 2, -1)
    log_student = torch.log_softmax(output.logits / 2, -1)
    kl = (p_teacher * (p_teacher.log() - log_student)).sum(-1).mean()  # every position predicts
    assert ki.loss(output, b, step=6).item() == pytest.approx((0.6 * output.loss + 0.4 * 4 * kl).item(), rel=1e-5)
    assert ki.loss(output, b, step=11) is output.loss


def test_llama_refuses_token_dropping_and_mlm_in_one_line(tmp_path, request, warm_python):
    config, model_config = setup_run(tmp_path, request, "llama", max_steps=2)
    for flags, message in [(["--token_drop"], "--token_drop is BERT's token dropping"),
                           (["--mlm"], "llama is a causal LM")]:
        result = run(lm_command(config, model_config, tmp_path / "out", *flags, python=warm_python), check=False)
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert not (tmp_path / "out" / "metrics.jsonl").exists()
