"""The paper's other training methods (Table 1 and Figure 5): progressive layer dropping, token
dropping, Knowledge Inheritance and MSLT; their pieces in process on tiny models, then each run
as users run it, resumed after a kill."""

import json

import pytest
import torch
from conftest import run
from torch.utils.flop_counter import FlopCounterMode
from training_helpers import assert_resumed_exactly, lm_command, read_metrics, setup_run, tiny_config
from transformers import BertConfig, BertForMaskedLM

from ligo.data.masking import IGNORE_INDEX
from ligo.models import families
from ligo.models.bert import MATMUL_TERMS
from ligo.tasks.ki import KnowledgeInheritance
from ligo.tasks.lm import ModelTask
from ligo.tasks.mslt import MSLTSchedule, MSLTTask
from ligo.training import fault_injection
from ligo.training.layer_drop import LayerDrop, running_layers
from ligo.training.token_drop import INITIAL, TokenDrop

SEQ = 16


def tiny_bert(layers=4, hidden=32, seed=0, **extra) -> BertForMaskedLM:
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=50, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                        intermediate_size=4 * hidden, max_position_embeddings=SEQ, **extra)
    return BertForMaskedLM(config).eval()


def batch(seed=0, padded=3):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(5, 50, (2, SEQ), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, -padded:] = 0
    input_ids[1, -padded:] = 0
    labels = torch.full_like(input_ids, IGNORE_INDEX)
    labels[:, 3], labels[:, 7] = input_ids[:, 3], input_ids[:, 7]
    input_ids[:, 3] = input_ids[:, 7] = 4  # [MASK]
    return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}


def block_matmul_flops(config, tokens: int) -> int:
    """One layer's forward matmul FLOPs on ``tokens`` tokens, as the analytical formula has them."""
    terms = families.flops_breakdown(config, tokens)
    return sum(terms[t] for t in MATMUL_TERMS if t.startswith("blocks.")) // config.num_hidden_layers


def measured_matmul_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


# --- progressive layer dropping ------------------------------------------------------------------

def test_running_some_layers_is_the_model_made_of_those_layers():
    model, smaller = tiny_bert(layers=4), tiny_bert(layers=2)
    state = model.state_dict()
    renamed = {k.replace("layer.2.", "layer.1."): v for k, v in state.items()
               if not any(f"layer.{i}." in k for i in (1, 3))}
    smaller.load_state_dict(renamed)
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    with running_layers(model, "bert.encoder.layer", [True, False, True, False]):
        dropped = model(**inputs).logits
    assert len(model.bert.encoder.layer) == 4
    assert torch.allclose(dropped, smaller(**inputs).logits, atol=1e-6)
    assert not torch.allclose(dropped, model(**inputs).logits, atol=1e-3)


def test_layer_drop_schedule_falls_over_time_and_depth_and_is_the_same_for_a_step():
    drop = LayerDrop(rate=0.5, lin_decay=True, gamma=0.01, seed=3)
    assert drop.keep_probabilities(0, 4) == [1.0] * 4
    late = drop.keep_probabilities(10_000, 4)
    assert late == pytest.approx([0.875, 0.75, 0.625, 0.5])
    assert LayerDrop(0.5, False, 0.01, 3).keep_probabilities(10_000, 4) == pytest.approx([0.5] * 4)
    assert drop.plan(500, 12) == drop.plan(500, 12) == LayerDrop(0.5, True, 0.01, 3).plan(500, 12)
    kept = torch.tensor([drop.plan(step, 4) for step in range(5_000, 9_000)], dtype=torch.float64).mean(0)
    assert kept.tolist() == pytest.approx(late, abs=0.03)


def test_layer_drop_counts_the_flops_of_the_layers_that_ran():
    model = tiny_bert(layers=4)
    task = ModelTask(model, layer_drop=LayerDrop(0.5, True, 1.0, 0))
    step = next(s for s in range(100, 200) if sum(LayerDrop(0.5, True, 1.0, 0).plan(s, 4)) == 2)
    task.begin_step(step)
    config = model.config
    two_layers = BertConfig(**{**config.to_dict(), "num_hidden_layers": 2})
    assert task.train_flops(3, SEQ) == 3 * families.train_flops(two_layers, SEQ)
    task.module.train()
    plain = measured_matmul_flops(lambda: model(**batch()).loss.backward())
    dropped = measured_matmul_flops(lambda: task.loss(model, batch()).backward())
    assert plain - dropped == 2 * 3 * 2 * block_matmul_flops(config, SEQ)  # 2 sequences, fwd + bwd, 2 layers


# --- token dropping ------------------------------------------------------------------------------

def token_drop(rate=0.5, start=1, end=-1, layers=4):
    return TokenDrop(rate, start, end, layers, vocab_size=50, special_ids=[0, 2, 3, 4], device=torch.device("cpu"))


def test_token_drop_keeps_masked_and_special_tokens_and_drops_padding_and_unimportant_ones():
    drop = token_drop(rate=0.5)
    b = batch()
    drop.importance[:] = 1.0
    important = b["input_ids"][0, 5].item()
    drop.importance[important] = 50.0
    index = drop.select(b["input_ids"], b["labels"], b["attention_mask"])
    assert index.shape == (2, SEQ // 2)
    for row in range(2):
        kept = set(index[row].tolist())
        assert {0, 3, 7, SEQ - 1 if row == 0 else SEQ - 4} <= kept  # [CLS], both masks, [SEP]
        assert not kept & ({SEQ - 3, SEQ - 2, SEQ - 1} if row == 1 else set())  # padding
    assert 5 in set(index[0].tolist())
    assert torch.equal(index, index.sort(dim=1).values)


def test_token_drop_at_rate_zero_is_the_plain_forward_and_dropped_tokens_skip_the_middle_layers():
    model = tiny_bert(layers=4)
    b = batch()
    plain = model(**b)
    keep_all = token_drop(rate=1e-6)
    with keep_all.dropping(model.bert.encoder.layer, b):
        same = model(**b)
    assert torch.allclose(same.logits, plain.logits, atol=1e-6)
    drop = token_drop(rate=0.5, start=1, end=3)
    seen = {}
    model.bert.encoder.layer[1].register_forward_pre_hook(lambda m, args: seen.setdefault("in", args[0]))
    model.bert.encoder.layer[3].register_forward_pre_hook(lambda m, args: seen.setdefault("out", args[0]))
    with drop.dropping(model.bert.encoder.layer, b):
        model(**b)
    dropped = torch.ones(2, SEQ, dtype=torch.bool)
    dropped.scatter_(1, drop.kept, False)
    assert seen["in"].shape == seen["out"].shape == (2, SEQ, 32)
    assert torch.equal(seen["out"][dropped], seen["in"][dropped])
    assert not torch.allclose(seen["out"][~dropped], seen["in"][~dropped])


def test_token_drop_counts_the_flops_of_the_shortened_layers():
    model = tiny_bert(layers=4).train()
    task = ModelTask(model, token_drop=token_drop(rate=0.5, start=1, end=-1))
    task.begin_step(1)
    plain = measured_matmul_flops(lambda: model(**batch()).loss.backward())
    dropped = measured_matmul_flops(lambda: task.loss(model, batch()).backward())
    kept = task.token_drop.kept_length(SEQ)
    assert kept == SEQ // 2
    config = model.config
    shortened = 2  # layers 1 and 2
    assert plain - dropped == 2 * 3 * shortened * (block_matmul_flops(config, SEQ) - block_matmul_flops(config, kept))
    lengths = [SEQ, kept, kept, SEQ]
    assert task.train_flops(2, SEQ) == 2 * 3 * families.forward_flops_of_layers(config, SEQ, lengths)


def test_token_importance_follows_the_loss_of_each_masked_id_and_is_saved():
    drop = token_drop()
    b = batch()
    logits = torch.zeros(2, SEQ, 50)
    drop.update(logits, b["labels"])
    masked_ids = set(b["labels"][b["labels"] != IGNORE_INDEX].tolist())
    uniform = torch.log(torch.tensor(50.0)).item()
    for token in range(50):
        expected = 0.9 * INITIAL + 0.1 * uniform if token in masked_ids else INITIAL
        assert drop.importance[token].item() == pytest.approx(expected)
    other = token_drop()
    other.load_state_dict(drop.state_dict())
    assert torch.equal(other.importance, drop.importance)


# --- Knowledge Inheritance -----------------------------------------------------------------------

def test_ki_loss_is_the_weighted_mlm_and_distillation_losses():
    student, teacher = tiny_bert(seed=0), tiny_bert(seed=1, layers=2)
    ki = KnowledgeInheritance(teacher, alpha=0.8, steps=10, temperature=2.0)
    assert [ki.weight(s) for s in (1, 6, 11, 50)] == pytest.approx([0.8, 0.4, 0.0, 0.0])
    b = batch()
    output = student(**b)
    masked = b["labels"] != IGNORE_INDEX
    p_teacher = torch.softmax(teacher(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits[masked] / 2,
                              -1)
    log_student = torch.log_softmax(output.logits[masked] / 2, -1)
    kl = (p_teacher * (p_teacher.log() - log_student)).sum(-1).mean()
    assert ki.loss(output, b, step=6).item() == pytest.approx((0.6 * output.loss + 0.4 * 4 * kl).item(), rel=1e-5)
    assert ki.loss(output, b, step=11) is output.loss
    # The teacher's forward is counted while it teaches.
    task = ModelTask(student, inheritance=ki)
    task.begin_step(6)
    assert task.train_flops(2, SEQ) == 2 * (families.train_flops(student.config, SEQ)
                                            + families.forward_flops(teacher.config, SEQ))
    task.begin_step(11)
    assert task.train_flops(2, SEQ) == 2 * families.train_flops(student.config, SEQ)


# --- MSLT ----------------------------------------------------------------------------------------

def test_mslt_stages_copy_the_top_layers_train_only_the_new_ones_and_count_their_backward():
    model = tiny_bert(layers=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    schedule = MSLTSchedule([2, 3, 4], [5, 5], max_steps=20)
    assert [schedule.stage(s) for s in (1, 5, 6, 10, 11, 20)] == [0, 0, 1, 1, None, None]
    task = MSLTTask(model, schedule, start_step=0, fresh=True)
    state = model.state_dict()
    assert all(torch.equal(state[k], before[k.replace("layer.2.", "layer.1.")]) for k in state if "layer.2." in k)
    trained = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trained and all("layer.2." in name or name.startswith("cls.") for name in trained)
    model.train()
    b = batch()
    measured = measured_matmul_flops(lambda: task.loss(model, b).backward())
    assert all(p.grad is None for name, p in model.named_parameters() if name not in trained)
    assert 0.8 * task.train_flops(2, SEQ) < measured < task.train_flops(2, SEQ)
    task.begin_step(6)  # stage 1: layer 3 starts as a copy of layer 2 (as trained in stage 0)
    state = model.state_dict()
    assert all(torch.equal(state[k], state[k.replace("layer.3.", "layer.2.")]) for k in state if "layer.3." in k)
    assert {name for name, p in model.named_parameters() if p.requires_grad and "layer." in name} == {
        name for name, _ in model.named_parameters() if "layer.3." in name}
    task.begin_step(11)
    assert all(p.requires_grad for p in model.parameters())
    assert task.train_flops(2, SEQ) == 2 * families.train_flops(model.config, SEQ)


# --- each method as users run it: trained, counted, and resumed exactly after a kill ----------

METHODS = {
    "layer_drop": ["--layer_drop", "--layer_drop_rate", 0.5, "--layer_drop_lin_decay", "--layer_drop_gamma", 5],
    "token_drop": ["--token_drop", "--token_drop_rate", 0.5, "--token_drop_start", 1],
    "ki": ["--grow_scheme", "ki", "--ki_steps", 4],
    "mslt": ["--grow_scheme", "mslt", "--mslt_stages", 3, 4, "--mslt_stage_steps", 2, 2],
}


@pytest.fixture(scope="module")
def small_source(tmp_path_factory, request):
    """A small BERT (2 layers, 64 wide) for KI's teacher and MSLT's first stage."""
    root = tmp_path_factory.mktemp("source")
    _, model_config = setup_run(root, request, "bert")
    model = BertForMaskedLM(BertConfig(**json.loads(model_config.read_text())))
    model.save_pretrained(str(root / "small"))
    return root / "small"


# Where each run is killed (kill:train_step:N) and resumed from the checkpoint before. MSLT's stages
# (steps 1-2, 3-4, then the whole model) with a checkpoint every step: killed in step 2, it resumes
# inside stage 0; killed in step 3, from the checkpoint at the end of stage 0, before stage 1's copy.
KILLS = {"layer_drop": [5], "token_drop": [5], "ki": [5], "mslt": [2, 3]}


@pytest.mark.parametrize("method", METHODS)
def test_each_method_trains_counts_its_flops_and_resumes_exactly(method, tmp_path, request, small_source, warm_python):
    config, _ = setup_run(tmp_path, request, "bert", max_steps=6, logging_steps=2,
                          ckpt_steps=1 if method == "mslt" else 3, warmup_steps=0)
    vocab = json.loads((small_source / "config.json").read_text())["vocab_size"]
    large = tiny_config(tmp_path / "large.json", "bert", vocab, layers=4, hidden=128 if method == "mslt" else 64)
    flags = [*METHODS[method], "--source_model_path", small_source]
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    processes = 2 if method == "layer_drop" else 1  # DDP with layers that get no gradient in a step
    run(lm_command(config, large, whole, *flags, python=warm_python, processes=processes))
    for n, step in enumerate(KILLS[method]):
        again = ["--should_continue"] if n else []
        killed = run(lm_command(config, large, resumed, *flags, *again, python=warm_python, processes=processes),
                     env={fault_injection.VARIABLE: f"kill:train_step:{step}"}, check=False)
        assert killed.returncode != 0
    run(lm_command(config, large, resumed, *flags, "--should_continue", python=warm_python, processes=processes))
    assert_resumed_exactly(whole, resumed, 6, ["step", "train_loss", "eval_loss", "flops", "tokens"])
    metrics = read_metrics(whole)
    assert metrics[-1]["eval_loss"] < metrics[0]["eval_loss"]
    # FLOPs of the first two steps against plain training of the large model: 8 full blocks of
    # 62 + 2 tokens a process a step
    plain = 2 * processes * 8 * families.train_flops(BertConfig.from_json_file(str(large)), 64)
    ratio = metrics[1]["flops"] / plain
    assert (ratio > 1.0) if method == "ki" else (ratio < 1.0), ratio
