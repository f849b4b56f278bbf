"""Properties of the LiGO operator (ligo/growth/operator.py), each of which fails if it is wrong."""

import types

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

from ligo.base.errors import UserError
from ligo.growth.expansion import init_depth, init_width
from ligo.growth.grown_model import GrownModel, materialize
from ligo.growth.operator import LiGOOperator, LiGOOptions, parameter_slot
from ligo.models.families import layout_of
from ligo.tasks.operator import OperatorTask

CLASSES = {"bert": (BertConfig, BertForMaskedLM), "roberta": (RobertaConfig, RobertaForMaskedLM)}


def config(family, layers, hidden, ffn=None, tie=True, vocab=300):
    config_class, _ = CLASSES[family]
    return config_class(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=hidden // 32,
                        intermediate_size=ffn or 4 * hidden, vocab_size=vocab, max_position_embeddings=70,
                        tie_word_embeddings=tie, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def small_model(family="bert", layers=2, hidden=64, tie=True, seed=0):
    torch.manual_seed(seed)
    return CLASSES[family][1](config(family, layers, hidden, tie=tie)).eval()


def batch(vocab=300, seed=1):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (3, 24), generator=generator)
    labels = torch.where(torch.rand(ids.shape, generator=generator) < 0.3, ids, -100)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


@pytest.mark.parametrize("family", ["bert", "roberta"])
@pytest.mark.parametrize("tie", [True, False])
def test_identical_sizes_and_plain_stackbert_return_the_small_model(family, tie):
    small = small_model(family, tie=tie)
    state = small.state_dict()
    operator = LiGOOperator(state, small.config, config(family, 2, 64, tie=tie), LiGOOptions("stackbert", "rand"))
    grown = operator()
    assert len(operator.width) == 0
    assert set(state) - set(grown) <= {n for n in state if "decoder" in n}
    assert all(torch.equal(grown[name], state[name]) for name in grown)


def test_plain_stackbert_without_width_growth_is_stackbert():
    small = small_model(layers=2)
    state = small.state_dict()
    grown = LiGOOperator(state, small.config, config("bert", 5, 64), LiGOOptions("stackbert", "rand"))()
    for j in range(5):
        for module in ("attention.self.query.weight", "output.LayerNorm.bias", "intermediate.dense.bias"):
            assert torch.equal(grown[f"bert.encoder.layer.{j}.{module}"], state[f"bert.encoder.layer.{j % 2}.{module}"])


def test_interlace_is_interpolation():
    small = small_model(layers=2)
    state = small.state_dict()
    grown = LiGOOperator(state, small.config, config("bert", 4, 64), LiGOOptions("interlace", "rand"))()
    for j, source in enumerate([0, 0, 1, 1]):
        assert torch.equal(grown[f"bert.encoder.layer.{j}.attention.output.dense.weight"],
                           state[f"bert.encoder.layer.{source}.attention.output.dense.weight"])


def test_width_growth_keeps_the_small_block_and_mixes_new_units_linearly():
    small = small_model(layers=2, hidden=64)
    state = small.state_dict()
    operator = LiGOOperator(state, small.config, config("bert", 2, 128), LiGOOptions("stackbert", "rand"))
    grown = operator()
    s_hidden, s_query = operator.width["hidden"], operator.width["query"][1]
    word = state["bert.embeddings.word_embeddings.weight"]
    assert torch.allclose(grown["bert.embeddings.word_embeddings.weight"], torch.cat([word, word @ s_hidden.T], 1))
    query = state["bert.encoder.layer.1.attention.self.query.weight"]
    expected = torch.cat([query, s_query @ query])  # rows: this layer's query expansion
    expected = torch.cat([expected, expected @ s_hidden.T], 1)  # columns: the shared residual expansion
    assert torch.allclose(grown["bert.encoder.layer.1.attention.self.query.weight"], expected)


def test_tied_expansions_are_one_tensor_each():
    small = small_model(layers=2, hidden=64)
    operator = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions())
    assert set(operator.width.keys()) == {"hidden", "head", "query", "key", "value", "ffn"}
    assert operator.width["query"].shape == (4, 64, 64)  # one per large layer
    assert operator.width["hidden"].shape == (64, 64)  # one for the whole residual stream
    # the embedding, every layer's inputs and the head's input all depend on that one tensor
    grown = operator()
    for name in ("bert.embeddings.word_embeddings.weight", "bert.encoder.layer.3.intermediate.dense.weight",
                 "bert.encoder.layer.0.attention.output.LayerNorm.weight", "cls.predictions.transform.dense.weight"):
        (gradient,) = torch.autograd.grad(grown[name].sum(), operator.width["hidden"], retain_graph=True)
        assert gradient.abs().sum() > 0, name
    untied = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions(tie=False))
    assert len(untied.width) > 20 and "hidden" not in untied.width


def test_gradients_reach_only_the_operator():
    small = small_model(layers=2, hidden=64)
    operator = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions())
    GrownModel(operator, config("bert", 4, 128)).train()(**batch()).loss.backward()
    for name, parameter in operator.named_parameters():
        if name.startswith("small_"):
            assert not parameter.requires_grad and parameter.grad is None, name
        else:
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    tuned = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions(tune_small_model=True))
    GrownModel(tuned, config("bert", 4, 128))(**batch()).loss.backward()
    assert tuned.small_layer_weights["bert__encoder__layer__L__attention__self__query__weight"].grad is not None


def test_only_width_or_only_depth_can_be_tuned():
    small = small_model(layers=2, hidden=64)
    depth_only = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions(tune_width=False))
    assert depth_only.depth.requires_grad and not any(p.requires_grad for p in depth_only.width.parameters())
    width_only = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions(tune_depth=False))
    assert not width_only.depth.requires_grad and all(p.requires_grad for p in width_only.width.parameters())


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_materialised_model_gives_the_operators_loss(family):
    small = small_model(family, layers=2, hidden=64, tie=False)
    large_config = config(family, 3, 96, tie=True)
    operator = LiGOOperator(small.state_dict(), small.config, large_config, LiGOOptions(), seed=3)
    with torch.no_grad():
        through_operator = GrownModel(operator, large_config).eval()(**batch()).loss
        materialised = materialize(operator(), large_config, seed=0).eval()(**batch()).loss
    assert torch.allclose(through_operator, materialised, atol=1e-6)


def test_residual_is_learned_and_small():
    small = small_model(layers=2, hidden=64)
    options = LiGOOptions(tune_residual=True, residual_noise=0.01)
    operator = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), options)
    assert len(operator.residual) == 26  # every grown tensor of a tied BERT (the decoder is tied)
    assert all(p.abs().max() <= 0.01 for p in operator.residual.parameters())
    without = operator._grow(with_residual=False)
    with_residual = operator()
    name = "bert.encoder.layer.2.output.dense.weight"
    assert torch.allclose(with_residual[name] - without[name],
                          operator.residual["bert__encoder__layer__L__output__dense__weight"][2])
    task = OperatorTask(operator, config("bert", 4, 128))
    args = types.SimpleNamespace(weight_decay=0.1, learning_rate=1e-3, learning_rate_res=5e-3, weight_decay_res=0.0)
    groups = [g for g in task.parameter_groups(args) if g["params"]]
    residual_group = next(g for g in groups if g["params"][0] is next(iter(operator.residual.parameters())))
    assert residual_group["lr"] == 5e-3 and residual_group["weight_decay"] == 0.0


def test_save_and_load_round_trip(tmp_path):
    small = small_model("roberta", layers=2, hidden=64)
    large_config = config("roberta", 4, 128)
    operator = LiGOOperator(small.state_dict(), small.config, large_config, LiGOOptions(tie=False), seed=7)
    with torch.no_grad():
        operator.depth.add_(0.01)  # as if trained
    operator.save(tmp_path)
    loaded = LiGOOperator.load(tmp_path)
    before, after = operator(), loaded()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_init_schemes():
    generator = torch.Generator().manual_seed(0)
    for scheme in ("rand", "rand_softmax"):
        assert torch.allclose(init_width(5, 7, scheme, 0.03, generator).sum(1), torch.ones(5))
        assert torch.allclose(init_depth(6, 3, scheme, 0.03, generator).sum(1), torch.ones(6))
    selection = init_width(50, 7, "sel", 0.03, generator)
    assert torch.equal(selection.sum(1), torch.ones(50)) and set(selection.unique().tolist()) == {0.0, 1.0}
    noisy = init_width(50, 7, "sel_noisy", 0.03, generator)
    assert torch.equal(noisy.max(1).values, torch.ones(50)) and ((noisy < 1) & (noisy > 0.03)).sum() == 0
    stack = init_depth(6, 4, "stackbert_noisy", 0.03, generator)
    assert stack.argmax(1).tolist() == [0, 1, 2, 3, 0, 1] and torch.allclose(stack.sum(1), torch.ones(6))
    assert init_depth(6, 3, "interlace", 0.0, generator).argmax(1).tolist() == [0, 0, 1, 1, 2, 2]
    assert init_depth(6, 3, "interlace_noisy", 0.03, generator).argmax(1).tolist() == [0, 0, 1, 1, 2, 2]


def test_each_module_has_its_own_depth_coefficients():
    small = small_model(layers=2)
    operator = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 64), LiGOOptions("rand", "rand"))
    assert operator.depth.shape == (len(layout_of("bert").layer_modules), 2, 4, 2)
    flat = operator.depth.reshape(-1, 4, 2)
    assert len({tuple(c.flatten().tolist()) for c in flat}) == flat.shape[0]


@pytest.mark.parametrize(
    "small, large, message",
    [
        (config("bert", 4, 64), config("bert", 2, 64), "fewer layers"),
        (config("bert", 2, 128), config("bert", 2, 64), "fewer hidden size"),
        (config("bert", 2, 64), config("roberta", 4, 128), "the families differ"),
        (config("bert", 2, 64), config("bert", 4, 128, vocab=500), "vocab_size differs"),
    ],
)
def test_impossible_pairs_are_refused(small, large, message):
    state = CLASSES[small.model_type][1](small).state_dict()
    with pytest.raises(UserError, match=message):
        LiGOOperator(state, small, large, LiGOOptions())


def test_options_from_the_authors_flags():
    args = types.SimpleNamespace(fuse_init_scheme=["stackbert_noisy", "rand"], fuse_init_noise=[0.03],
                                 fuse_tie_param=True, tune_depth=True, tune_width=True, tune_small_model=False,
                                 tune_residual=False, tune_residual_noise=0.01)
    options = LiGOOptions.from_args(args)
    assert (options.depth_scheme, options.width_scheme, options.depth_noise, options.width_noise) == (
        "stackbert_noisy", "rand", 0.03, 0.03)
    args.fuse_init_scheme = ["stackbert"]
    with pytest.raises(UserError, match="width scheme 'stackbert'.*give two values"):
        LiGOOptions.from_args(args)


def test_untied_expansions_of_a_tied_target_all_get_gradients_and_old_files_still_load(tmp_path):
    # A tied decoder is the word embedding: no width block of its own (--no_fuse_tie_param once
    # made one that nothing used, and DDP failed waiting for its gradient).
    small = small_model(layers=2, hidden=64)
    operator = LiGOOperator(small.state_dict(), small.config, config("bert", 4, 128), LiGOOptions(tie=False), seed=2)
    sum(t.sum() for t in operator().values()).backward()
    assert all(p.grad is not None for name, p in operator.named_parameters() if p.requires_grad), [
        name for name, p in operator.named_parameters() if p.requires_grad and p.grad is None]
    assert not any("decoder" in name for name in operator.width)
    # An operator file written before the fix holds those unused blocks: it loads and grows the same model.
    operator.save(tmp_path)
    weights = tmp_path / "ligo_operator.safetensors"
    state = load_file(str(weights))
    slot = next(k for k in state if k.startswith("width.") and "query" in k)
    for side in ("out", "in"):
        state[f"width.{parameter_slot(f'cls.predictions.decoder.{side}')}"] = torch.zeros_like(state[slot])
    save_file(state, str(weights))
    before, after = operator(), LiGOOperator.load(tmp_path)()
    assert all(torch.equal(before[k], after[k]) for k in before)
