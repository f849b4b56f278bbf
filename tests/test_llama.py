"""The Llama family (ligo/models/llama.py) on tiny real LlamaForCausalLMs: what its configs may be,
and growth of grouped-query attention by whole heads."""

import json

import pytest
import torch
from transformers import LlamaConfig

from ligo.base.errors import UserError
from ligo.growth.baselines import grow_baseline
from ligo.growth.grown_model import materialize
from ligo.models.families import check_growable
from ligo.models.loading import load_config, new_model

VOCAB = 100
BATCH = torch.randint(0, VOCAB, (2, 12), generator=torch.Generator().manual_seed(0))


def config(layers=2, heads=4, kv_heads=2, head_dim=16, hidden=64, ffn=96, **extra) -> LlamaConfig:
    return LlamaConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                       num_key_value_heads=kv_heads, head_dim=head_dim, intermediate_size=ffn, vocab_size=VOCAB,
                       max_position_embeddings=32, **extra)


def logits(model, ids=BATCH):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


@pytest.mark.parametrize("field", ["attention_bias", "mlp_bias"])
def test_a_config_with_biases_is_refused_in_one_line_as_it_loads(tmp_path, field):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**config().to_dict(), field: True}))
    with pytest.raises(UserError, match=f"{field} true is not supported") as err:
        load_config("llama", str(path))
    assert "\n" not in str(err.value)
    path.write_text(json.dumps(config().to_dict()))
    assert load_config("llama", str(path)).num_key_value_heads == 2


def test_query_heads_that_key_value_heads_do_not_group_are_refused():
    with pytest.raises(UserError, match="num_attention_heads 6 is not a multiple of num_key_value_heads 4"):
        check_growable(config(), config(heads=6, kv_heads=4, hidden=96), "small", "large")


def test_a_head_size_change_is_refused_in_one_line():
    with pytest.raises(UserError, match=r"head size differs \(source 16, target 32\).*set head_dim to 16") as err:
        check_growable(config(), config(head_dim=32), "small", "large")
    assert "\n" not in str(err.value)


def test_fewer_key_value_heads_are_refused():
    with pytest.raises(UserError, match="fewer key/value heads"):
        check_growable(config(heads=4, kv_heads=4), config(heads=8, kv_heads=2, hidden=128), "small", "large")


def test_stackbert_puts_small_layer_i_at_large_layers_i_and_i_plus_l():
    small_config, large_config = config(), config(layers=4)
    small = new_model("llama", small_config, seed=0)
    grown = grow_baseline("stackbert", small.state_dict(), small_config, large_config, seed=0)
    state = small.state_dict()
    for j in range(4):
        for name in ("self_attn.k_proj.weight", "mlp.gate_proj.weight", "post_attention_layernorm.weight"):
            assert torch.equal(grown[f"model.layers.{j}.{name}"], state[f"model.layers.{j % 2}.{name}"])
    assert torch.isfinite(logits(materialize(grown, large_config, seed=0))).all()


def perturbed_small(small_config, seed=1):
    small = new_model("llama", small_config, seed=seed)
    with torch.no_grad():  # RMSNorms away from their init, so that a wrong division would show
        for name, p in small.named_parameters():
            if "norm" in name:
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(len(name))) * 0.3)
    return small


# (query heads, key/value heads, head_dim, hidden) small -> large: multi-head, grouped-query, and
# uneven head counts (3 -> 5 groups of 3) at a hidden size that doubles (RMSNorm stays exact; transformers
# wants it a multiple of the heads).
WIDTHS = {
    "mha": ((4, 4, 16, 64), (8, 8, 16, 128)),
    "gqa": ((4, 2, 16, 64), (8, 4, 16, 128)),
    "gqa-uneven": ((9, 3, 8, 45), (15, 5, 8, 90)),
}


def width_pair(which, layers=(2, 2), tie=False):
    (heads, kv, dim, hidden), (large_heads, large_kv, large_dim, large_hidden) = WIDTHS[which]
    small = config(layers[0], heads, kv, dim, hidden, ffn=96, tie_word_embeddings=tie)
    large = config(layers[1], large_heads, large_kv, large_dim, large_hidden, ffn=192, tie_word_embeddings=tie)
    return small, large


@pytest.mark.parametrize("which", sorted(WIDTHS))
@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_net2net_keeps_the_logits_when_whole_heads_are_added(which, tie):
    small_config, large_config = width_pair(which, tie=tie)
    small = perturbed_small(small_config)
    large = materialize(grow_baseline("net2net", small.state_dict(), small_config, large_config, seed=3),
                        large_config, seed=3)
    difference = (logits(large) - logits(small)).abs().max().item()
    assert difference < 1e-5, difference


@pytest.mark.parametrize("which", ["mha", "gqa"])
@pytest.mark.parametrize("tie", [False, True], ids=["untied", "tied"])
def test_net2net_noise_splits_every_copy_unevenly_and_keeps_the_logits(which, tie):
    # HyperCloning's symmetric noise (--grow_noise): a copied unit's readers get weights that differ
    # between its copies but still sum to the noiseless split, so the logits stay.
    small_config, large_config = width_pair(which, tie=tie)
    small = perturbed_small(small_config)
    plain = grow_baseline("net2net", small.state_dict(), small_config, large_config, seed=3)
    noisy = grow_baseline("net2net", small.state_dict(), small_config, large_config, seed=3, noise=0.1)
    assert (logits(materialize(noisy, large_config, seed=3)) - logits(small)).abs().max().item() < 1e-5
    changed = {name for name in plain if not torch.equal(plain[name], noisy[name])}
    # every reader of a copied unit: all of a layer's projections but the norms and the embedding table
    assert {"model.layers.0.self_attn.q_proj.weight", "model.layers.1.self_attn.o_proj.weight",
            "model.layers.1.mlp.down_proj.weight", "model.layers.0.mlp.gate_proj.weight"} <= changed
    assert not any("norm" in name or "embed_tokens" in name for name in changed), changed
    down_plain, down_noisy = (grown["model.layers.0.mlp.down_proj.weight"] for grown in (plain, noisy))
    # ffn doubles (96 -> 192): the copies of a unit sum as before, the first 96 columns no longer equal their copies
    from ligo.growth.baselines import net2net_selections
    g = net2net_selections(small_config, large_config, seed=3)["ffn"][0]
    copy = torch.nn.functional.one_hot(g, 96).float()
    assert torch.allclose(down_noisy @ copy, down_plain @ copy, atol=1e-6)
    assert ((down_noisy - down_plain).abs() > 1e-8).float().mean() > 0.99  # std 0.1 x 0.02: every column moves
    with pytest.raises(UserError, match="--grow_noise 0.1 splits the copies of Net2Net widening; --grow_scheme "
                                        "stackbert makes none"):
        grow_baseline("stackbert", small.state_dict(), small_config, small_config, seed=3, noise=0.1)


@pytest.mark.parametrize("which", ["mha", "gqa"])
def test_bert2bert_fpi_grows_depth_and_whole_heads_keeping_the_small_model_in_its_first_layers(which):
    # Stacked pre-norm layers add their copies' outputs to the residual stream: the grown model is
    # its source exactly when the added layers write nothing (their o_proj and down_proj zeroed).
    small_config, large_config = width_pair(which, layers=(2, 4))
    small = perturbed_small(small_config)
    large = materialize(grow_baseline("bert2bert_fpi", small.state_dict(), small_config, large_config, seed=3),
                        large_config, seed=3)
    assert (logits(large) - logits(small)).abs().max().item() > 1e-3  # the added layers do count
    with torch.no_grad():
        for layer in large.model.layers[2:]:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    assert (logits(large) - logits(small)).abs().max().item() < 1e-5


def test_net2net_query_heads_follow_their_key_value_groups():
    from ligo.growth.baselines import net2net_selections

    small_config, large_config = width_pair("gqa-uneven")
    chosen = net2net_selections(small_config, large_config, seed=5)
    query, key = chosen["query"][:, ::8] // 8, chosen["key"][:, ::8] // 8  # per layer: the old head each copies
    assert torch.equal(chosen["value"], chosen["key"])
    assert torch.equal(query[:, :9], torch.arange(9).expand(2, 9))  # groups of unchanged size keep their place
    # New query head q is in new group q // 3, a copy of old group key[q // 3]; its original's group is that one.
    assert torch.equal(query // 3, key[:, torch.arange(15) // 3])
    assert all(set(row.tolist()) == set(range(9)) for row in query)  # every old head has a copy


def test_net2net_refuses_smaller_query_groups_in_one_line():
    small_config, large_config = config(heads=4, kv_heads=2), config(heads=8, kv_heads=8, hidden=128)
    with pytest.raises(UserError, match="at least 2 heads per group") as err:
        grow_baseline("net2net", new_model("llama", small_config, 0).state_dict(), small_config, large_config, 0)
    assert "\n" not in str(err.value)


def rotate(q, config_, positions):
    """Rotary position embeddings on ``[batch, heads, seq, head_dim]`` queries (as LlamaAttention)."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, apply_rotary_pos_emb

    cos, sin = LlamaRotaryEmbedding(config=config_)(q, positions)
    return apply_rotary_pos_emb(q, q, cos, sin)[0]


def test_ligo_widens_query_key_value_by_whole_heads_so_growth_commutes_with_rotary():
    from ligo.growth.operator import LiGOOperator, LiGOOptions

    small_config, large_config = config(heads=4, kv_heads=2), config(heads=8, kv_heads=4)  # hidden kept: rows only
    small = new_model("llama", small_config, seed=0)
    operator = LiGOOperator(small.state_dict(), small_config, large_config, LiGOOptions("stackbert", "rand"))
    assert operator.width["query"].shape == (2, 4, 4) and operator.width["key"].shape == (2, 2, 2)  # heads
    with torch.no_grad():
        grown = operator()
    x = torch.randn(1, 6, 64, generator=torch.Generator().manual_seed(1))
    positions = torch.arange(3, 9)[None]
    for projection, space, heads in [("q_proj", "query", 4), ("k_proj", "key", 2)]:
        s = operator.width[space][0].detach()  # large layer 0's, on small layer 0 (StackBERT at equal depth)

        def grow(q, s=s):  # [1, heads, seq, 16] -> the added heads mix the old ones
            return torch.cat([q, torch.einsum("ao,bosd->basd", s, q)], dim=1)

        small_q = (x @ small.state_dict()[f"model.layers.0.self_attn.{projection}.weight"].T)
        large_q = (x @ grown[f"model.layers.0.self_attn.{projection}.weight"].T)
        small_q, large_q = (q.view(1, 6, -1, 16).transpose(1, 2) for q in (small_q, large_q))
        assert torch.allclose(large_q, grow(small_q), atol=1e-6)  # whole heads: one coefficient per head pair
        assert torch.allclose(rotate(large_q, large_config, positions), grow(rotate(small_q, small_config, positions)),
                              atol=1e-6)
        # What unit-level mixing (the other families' expansions) would break: rotary pairs coordinates.
        units = torch.rand(heads * 16, heads * 16, generator=torch.Generator().manual_seed(2))

        def mix(q, units=units):
            return (q.transpose(1, 2).reshape(1, 6, -1) @ units.T).view(1, 6, -1, 16).transpose(1, 2)

        unit_difference = rotate(mix(small_q), small_config, positions) - mix(rotate(small_q, small_config, positions))
        assert unit_difference.abs().max() > 1e-2


def test_ligo_grows_uneven_grouped_heads_deeper_and_trains_every_expansion():
    from ligo.growth.grown_model import GrownModel
    from ligo.growth.operator import LiGOOperator, LiGOOptions

    small_config, large_config = width_pair("gqa-uneven", layers=(2, 3))
    operator = LiGOOperator(new_model("llama", small_config, 0).state_dict(), small_config, large_config,
                            LiGOOptions(), seed=0)
    assert {slot: tuple(block.shape) for slot, block in operator.width.items()} == {
        "hidden": (45, 45), "query": (3, 6, 9), "key": (3, 2, 3), "value": (3, 2, 3), "ffn": (3, 96, 96)}
    module = GrownModel(operator, large_config)
    module(input_ids=BATCH, labels=BATCH).loss.backward()
    assert operator.depth.grad.abs().sum() > 0
    assert all(block.grad.abs().sum() > 0 for block in operator.width.values())
    model = materialize(operator(), large_config, seed=0)
    module.eval()
    with torch.no_grad():
        assert torch.allclose(module(input_ids=BATCH).logits, logits(model), atol=1e-5)


def test_a_layout_grouping_heads_by_a_space_without_heads_or_widening_plain_units_by_heads_is_refused():
    import dataclasses

    from ligo.models.layout import Space
    from ligo.models.llama import layout

    llama = layout()
    plain_groups = tuple(dataclasses.replace(space, grouped_by="ffn") if space.name == "query" else space
                         for space in llama.spaces)
    with pytest.raises(ValueError, match="query is grouped by ffn"):
        dataclasses.replace(llama, spaces=plain_groups)
    with pytest.raises(ValueError, match="grows by whole heads but has none"):
        dataclasses.replace(llama, spaces=(*llama.spaces, Space("extra", whole_heads=True)))


def test_a_derived_target_keeps_head_dim_and_grows_query_and_key_value_heads_with_the_hidden_size():
    from ligo.models.target_config import derive_config

    source = config(heads=4, kv_heads=2, head_dim=16, hidden=64, ffn=96)
    for hidden, heads, kv_heads in [(128, 8, 4), (96, 6, 3)]:
        target = derive_config(source, layers=3, hidden=hidden)
        assert (target.num_hidden_layers, target.hidden_size, target.num_attention_heads, target.num_key_value_heads,
                target.head_dim, target.intermediate_size) == (3, hidden, heads, kv_heads, 16, 96 * hidden // 64)
        check_growable(source, target, "source", "target", allow_mismatch=[])
    with pytest.raises(UserError, match="use a multiple of 32: 64 or 96") as err:
        derive_config(source, hidden=80)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("scheme", ["stackbert", "interpolation", "net2net", "bert2bert_fpi", "bert2bert_aki",
                                    "stackbert_direct_copy", "interpolation_direct_copy"])
def test_every_baseline_grows_a_grouped_query_llama(scheme):
    from ligo.growth.schemes import BASELINES
    assert scheme in BASELINES
    # StackBERT and interpolation grow depth only, Net2Net width only; the others both.
    layers = 2 if scheme == "net2net" else 4
    wide = {} if scheme in ("stackbert", "interpolation") else dict(heads=8, kv_heads=4, hidden=128, ffn=192)
    small_config, large_config = config(), config(layers=layers, **wide)
    small = perturbed_small(small_config)
    state = grow_baseline(scheme, small.state_dict(), small_config, large_config, seed=3)
    large = materialize(state, large_config, seed=3)
    assert len(large.model.layers) == layers
    assert large.model.layers[-1].self_attn.k_proj.weight.shape == (32 * (2 if wide else 1), 64 * (2 if wide else 1))
    loss = large(input_ids=BATCH, labels=BATCH).loss
    assert torch.isfinite(loss) and loss < 2 * torch.log(torch.tensor(float(VOCAB)))


@pytest.mark.parametrize("depth,width", [("rand", "rand"), ("rand_softmax", "rand_softmax"), ("stackbert", "sel"),
                                         ("stackbert_noisy", "sel_noisy"), ("interlace", "rand"),
                                         ("interlace_noisy", "rand")])
@pytest.mark.parametrize("options", [{}, {"tie": False, "tune_small_model": True, "tune_residual": True}],
                         ids=["tied", "untied-small-residual"])
def test_ligo_grows_a_grouped_query_llama_from_every_init_scheme_with_every_option(depth, width, options):
    from ligo.growth.grown_model import GrownModel
    from ligo.growth.operator import LiGOOperator, LiGOOptions

    small_config, large_config = config(), config(layers=4, heads=8, kv_heads=4, hidden=128, ffn=192)
    operator = LiGOOperator(perturbed_small(small_config).state_dict(), small_config, large_config,
                            LiGOOptions(depth_scheme=depth, width_scheme=width, **options), seed=0)
    module = GrownModel(operator, large_config)
    loss = module(input_ids=BATCH, labels=BATCH).loss
    loss.backward()
    assert torch.isfinite(loss) and all(p.grad is not None for p in operator.parameters() if p.requires_grad)
    model = materialize(operator(), large_config, seed=0)
    module.eval()
    with torch.no_grad():
        assert torch.allclose(module(input_ids=BATCH).logits, logits(model), atol=1e-5)
