"""What every registered family (ligo/models/families.py) must give the family-agnostic code, checked
on a tiny model of each: a new family is added to ``TINY`` and passes these or is not done.

- its layout names every parameter of the Hugging Face pretraining model exactly once (in the
  growth view), with the shapes its spaces say, and the growth view round-trips exactly;
- growth to the same config (StackBERT, and the LiGO operator at an identity start) returns the
  small model's weights;
- a model made a part (a layer) at a time has every parameter, initialised as the family does;
- its FLOPs formula's matmul terms equal what torch's FlopCounterMode counts in a forward pass;
- its layers recompute under --gradient_checkpointing, to the same loss and gradients;
- a LiGO operator step growing the large model per layer (``GrownModel(per_layer=True)``, each
  layer grown inside the forward and again in the backward) gives the loss and gradients of one
  growing it whole.
"""

import dataclasses
from types import SimpleNamespace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from ligo.growth.baselines import grow_baseline
from ligo.growth.grown_model import GrownModel
from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.families import FAMILIES, family_of, matmul_forward_flops
from ligo.models.layout import Space, linear, norm
from ligo.models.loading import new_model, new_model_part
from ligo.models.vit_flops import sequence_length
from ligo.tasks.lm import recomputing

SEQ = 7
# Per family: a tiny config's fields (eager attention: FlopCounterMode sees its matmuls).
TINY = {
    "bert": dict(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=24, vocab_size=40,
                 max_position_embeddings=SEQ + 2),
    "roberta": dict(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=24, vocab_size=40,
                    max_position_embeddings=SEQ + 4, pad_token_id=1),
    "gpt2": dict(n_layer=2, n_embd=16, n_head=2, n_inner=24, vocab_size=40, n_positions=SEQ, bos_token_id=0,
                 eos_token_id=0),
    "vit": dict(num_hidden_layers=2, hidden_size=16, num_attention_heads=2, intermediate_size=24, image_size=8,
                patch_size=4, num_channels=2, num_labels=3),
    "llama": dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                  intermediate_size=128, vocab_size=100, max_position_embeddings=SEQ),
}


def test_every_family_has_a_tiny_config():
    assert set(TINY) == set(FAMILIES)


def tiny(model_type: str, tie: bool = True):
    return family_of(model_type).config_class(**TINY[model_type], tie_word_embeddings=tie,
                                              attn_implementation="eager")


def model_input(model_type: str, config) -> tuple[dict, int]:
    """A forward pass's inputs, and its sequence length as the FLOPs formula counts it."""
    if family_of(model_type).is_language_model:
        return {"input_ids": torch.randint(3, config.vocab_size, (1, SEQ))}, SEQ
    pixels = torch.randn(1, config.num_channels, config.image_size, config.image_size)
    return {"pixel_values": pixels}, sequence_length(config)


def parameters(model) -> dict:
    """Every parameter by every name it has (a tied one under each)."""
    return {name: p.detach() for name, p in model.named_parameters(remove_duplicate=False)}


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_the_layout_names_every_parameter_once_with_its_spaces_shapes(model_type, tie):
    family = family_of(model_type)
    layout, config = family.layout(), tiny(model_type, tie)
    view = layout.to_growth(parameters(new_model(model_type, config, seed=0)))
    specs = [(spec, spec.key()) for spec in layout.embeddings + layout.head]
    specs += [(spec, spec.key(i)) for spec in layout.layer for i in range(config.num_hidden_layers)]
    if layout.decoder is not None:
        specs.append((layout.decoder, layout.decoder.name))
    names = [name for _, name in specs] + ([layout.decoder_bias] if layout.decoder_bias else [])
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(view)
    sizes = family.space_sizes(config)
    assert set(sizes) == {space.name for space in layout.spaces}
    for space in layout.spaces:
        assert space.head_size is None or sizes[space.name] % space.head_size(config) == 0, space.name
    for spec, name in specs:
        shape = view[name].shape
        if spec.in_space is not None:
            assert shape[-1] == sizes[spec.in_space], name
            assert spec.out_space is None or shape[-2] == sizes[spec.out_space], name
        elif spec.out_space is not None:
            assert shape[-1] == sizes[spec.out_space], name


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_the_growth_view_round_trips_exactly(model_type):
    layout = family_of(model_type).layout()
    state = new_model(model_type, tiny(model_type), seed=0).state_dict()
    back = layout.from_growth(layout.to_growth(state))
    assert sorted(back) == sorted(state)
    assert all(torch.equal(back[name], state[name]) for name in state)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_growth_to_the_same_config_returns_the_small_model(model_type):
    config = tiny(model_type)
    state = new_model(model_type, config, seed=0).state_dict()
    operator = LiGOOperator(state, config, config, LiGOOptions("stackbert", "rand"))
    with torch.no_grad():
        grown = {"stackbert": grow_baseline("stackbert", state, config, config, seed=0), "ligo": operator()}
    for method, weights in grown.items():
        assert set(weights) <= set(state), method
        # Left out only what the grown model ties to another of its weights (the output embedding).
        model = new_model(model_type, config, seed=1)
        model.load_state_dict(weights, strict=False)
        assert all(torch.equal(model.state_dict()[name], state[name]) for name in parameters(model)), method


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
@pytest.mark.parametrize("tie", [True, False], ids=["tied", "untied"])
def test_a_model_made_a_part_at_a_time_is_initialised_as_the_family_does(model_type, tie):
    """``new_model_part`` (what direct copy's new units come from, a layer at a time under FSDP):
    the parts hold every parameter once, with the family's initialisation (constants exactly,
    random tensors at its spread), each part from its own stream (the same twice, layers apart)."""
    config = tiny(model_type, tie)
    whole = dict(new_model(model_type, config, seed=0).named_parameters())
    layers = family_of(model_type).layers_path
    parts = [new_model_part(model_type, config, 5, None)]
    parts += [new_model_part(model_type, config, 5, j) for j in range(config.num_hidden_layers)]
    made = {name: tensor for part in parts for name, tensor in part.items()}
    assert sum(map(len, parts)) == len(made) and made.keys() == whole.keys()
    for name, tensor in made.items():
        expected = whole[name].detach()
        assert tensor.shape == expected.shape and tensor.dtype == expected.dtype, name
        if torch.all(expected == expected.flatten()[0]):
            assert torch.equal(tensor, expected), name  # LayerNorm weights, biases
        elif expected.numel() >= 200:
            assert tensor.std().item() == pytest.approx(expected.std().item(), rel=0.3), name
    assert all(torch.equal(a, b) for a, b in zip(parts[1].values(), new_model_part(model_type, config, 5, 0).values()))
    first, second = (f"{layers}.{j}." for j in (0, 1))
    assert any(not torch.equal(tensor, made[name.replace(first, second)])
               for name, tensor in parts[1].items() if not torch.all(tensor == tensor.flatten()[0]))


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_matmul_flops_equal_the_flop_counter(model_type):
    config = tiny(model_type)
    model = new_model(model_type, config, seed=0).eval()
    inputs, seq_len = model_input(model_type, config)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(**inputs)
    assert counter.get_total_flops() == matmul_forward_flops(config, seq_len)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_per_layer_growth_gives_the_loss_and_gradients_of_whole_growth(model_type):
    small = tiny(model_type, tie=False)
    sizes = {"num_hidden_layers": 3} if "num_hidden_layers" in TINY[model_type] else {"n_layer": 3}
    large = family_of(model_type).config_class(**{**TINY[model_type], **sizes}, tie_word_embeddings=False,
                                               attn_implementation="eager")
    state = new_model(model_type, small, seed=0).state_dict()
    # Untied, with a residual and the small model tuned: every kind of operator parameter.
    options = LiGOOptions("stackbert_noisy", "rand", tie=False, tune_small_model=True, tune_residual=True)
    inputs, _ = model_input(model_type, large)
    inputs = {name: tensor.repeat(2, *[1] * (tensor.dim() - 1)) for name, tensor in inputs.items()}
    inputs["labels"] = inputs["input_ids"] if "input_ids" in inputs else torch.tensor([0, 2])
    results = []
    for per_layer in (False, True):
        operator = LiGOOperator(state, small, large, options, seed=1)
        model = GrownModel(operator, large, per_layer=per_layer).train()
        torch.manual_seed(2)  # the same dropout: checkpointing replays the forward's RNG in the backward
        loss = family_of(model_type).run_batch(model, inputs).loss
        loss.backward()
        results.append((loss.item(), {n: p.grad for n, p in operator.named_parameters() if p.grad is not None}))
    (whole_loss, whole), (layer_loss, layer) = results
    assert layer_loss == pytest.approx(whole_loss, rel=1e-6) and whole.keys() == layer.keys()
    for name, gradient in whole.items():
        difference, size = (layer[name] - gradient).norm().item(), gradient.norm().item()
        assert difference <= 1e-5 * size or size < 1e-8 and difference < 1e-9, (name, difference, size)


@pytest.mark.parametrize("model_type", sorted(FAMILIES))
def test_gradient_checkpointing_recomputes_every_layer_and_gives_the_same_loss_and_gradients(model_type):
    """--gradient_checkpointing (``recomputing``) on the family's model: each layer of its layer
    list runs again in the backward (inside it: hooks on the layer itself stay outside), with the
    forward's random state, so dropout masks and gradients are those of the step without it."""
    config = tiny(model_type)
    inputs, _ = model_input(model_type, config)
    inputs = {name: tensor.repeat(2, *[1] * (tensor.dim() - 1)) for name, tensor in inputs.items()}
    inputs["labels"] = inputs["input_ids"] if "input_ids" in inputs else torch.tensor([0, 2])
    family = family_of(model_type)
    results = []
    for recompute in (False, True):
        model = recomputing(new_model(model_type, config, seed=0), SimpleNamespace(gradient_checkpointing=recompute))
        model.train()
        runs = []

        def count(*_, runs=runs):
            runs.append(1)

        for layer in model.get_submodule(family.layers_path):
            next(layer.children()).register_forward_hook(count)  # a module run inside the layer's forward
        torch.manual_seed(2)
        loss = family.run_batch(model, inputs).loss
        in_forward = len(runs)
        loss.backward()
        assert (in_forward, len(runs)) == (config.num_hidden_layers, config.num_hidden_layers * (1 + recompute))
        results.append((loss.item(), {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (kept_loss, kept), (recomputed_loss, recomputed) = results
    assert recomputed_loss == kept_loss and kept.keys() == recomputed.keys()
    assert all(torch.allclose(recomputed[n], kept[n], rtol=1e-6, atol=1e-9) for n in kept)


def test_a_family_may_declare_tensors_without_bias():
    assert [spec.param for spec in linear("mlp.up", "ffn", "hidden", "up", bias=False)] == ["weight"]
    assert [spec.param for spec in norm("norm", "hidden", "mlp_norm", bias=False)] == ["weight"]
    assert [spec.param for spec in linear("mlp.up", "ffn", "hidden", "up")] == ["weight", "bias"]


def test_a_layout_that_misses_a_module_type_or_a_space_is_refused_as_it_is_built():
    layout = family_of("bert").layout()
    with pytest.raises(ValueError, match="layer_modules"):
        dataclasses.replace(layout, layer_modules=layout.layer_modules[:-1])
    with pytest.raises(ValueError, match="not declared"):
        dataclasses.replace(layout, spaces=layout.spaces[1:])
    with pytest.raises(ValueError, match="shares the selection"):
        dataclasses.replace(layout, spaces=(*layout.spaces, Space("extra", selection_of="key")))
