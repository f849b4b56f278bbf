"""GPT-2's layout for growth (ligo/models/gpt2.py), in-process on tiny real GPT2LMHeadModels: the
growth view and back, Net2Net's function preservation through the fused c_attn, every baseline
and the LiGO operator."""

import pytest
import torch
from transformers import GPT2Config

from ligo.base.errors import UserError
from ligo.growth.baselines import BASELINES, grow_baseline
from ligo.growth.grown_model import GrownModel, materialize
from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.families import check_growable, space_sizes
from ligo.models.gpt2 import from_growth, layout, to_growth
from ligo.models.loading import new_model

VOCAB, POSITIONS = 300, 40


def config(layers, hidden, heads, inner=None, **extra) -> GPT2Config:
    return GPT2Config(n_layer=layers, n_embd=hidden, n_head=heads, n_inner=inner, vocab_size=VOCAB,
                      n_positions=POSITIONS, bos_token_id=0, eos_token_id=0, **extra)


SMALL = config(2, 32, 2)
BATCH = torch.randint(0, VOCAB, (3, 24), generator=torch.Generator().manual_seed(0))


def logits(model, ids=BATCH):
    model.eval()
    with torch.no_grad():
        return model(input_ids=ids).logits


def test_growth_view_splits_c_attn_transposes_conv1d_and_round_trips_exactly():
    model = new_model("gpt2", SMALL, seed=0)
    state = model.state_dict()
    view = to_growth(state)
    fused = state["transformer.h.1.attn.c_attn.weight"]  # [in, 3 * out]: q | k | v
    assert torch.equal(view["transformer.h.1.attn.c_attn.key.weight"], fused[:, 32:64].T)
    assert torch.equal(view["transformer.h.1.attn.c_attn.value.bias"], state["transformer.h.1.attn.c_attn.bias"][64:])
    assert torch.equal(view["transformer.h.0.mlp.c_fc.weight"], state["transformer.h.0.mlp.c_fc.weight"].T)
    assert view["transformer.h.0.mlp.c_proj.weight"].shape == (32, 128)  # [out, in], as a Linear's
    assert torch.equal(view["transformer.wte.weight"], state["transformer.wte.weight"])
    # Every spec of the layout names a tensor of the view, and its spaces match the shapes.
    sizes = space_sizes(SMALL)
    for spec in layout().all_specs():
        tensor = view[spec.key(0)]
        if spec.in_space is not None:
            assert tensor.shape == (sizes[spec.out_space], sizes[spec.in_space]), spec.name
        elif spec.out_space is not None:
            assert tensor.shape[-1] == sizes[spec.out_space], spec.name
    back = from_growth(view)
    assert back.keys() == state.keys()
    assert all(torch.equal(back[name], state[name]) for name in state)


def test_the_view_is_differentiable():
    state = {name: t.clone().requires_grad_() for name, t in new_model("gpt2", SMALL, seed=0).state_dict().items()}
    view = to_growth(state)
    sum((i + 1) * t.sum() for i, t in enumerate(view.values())).backward()
    assert all(t.grad is not None for t in state.values())


@pytest.mark.parametrize("inner", [None, 96])
def test_net2net_keeps_the_logits_through_the_fused_c_attn(inner):
    small_config = config(2, 32, 2, inner=inner)
    large_config = config(2, 64, 4, inner=None if inner is None else 192)
    small = new_model("gpt2", small_config, seed=1)
    with torch.no_grad():  # LayerNorms away from their init, so that a wrong division would show
        for name, p in small.named_parameters():
            if "ln_" in name:
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(len(name))) * 0.3)
    large = materialize(grow_baseline("net2net", small.state_dict(), small_config, large_config, seed=3),
                        large_config, seed=3)
    difference = (logits(large) - logits(small)).abs().max().item()
    print(f"Net2Net GPT-2 2L-32H -> 2L-64H (FFN {space_sizes(small_config)['ffn']} -> "
          f"{space_sizes(large_config)['ffn']}): max logit difference {difference:.2e}")
    assert difference < 1e-5
    # A new head copies a whole old one: the fused c_attn's key block of the large model holds it.
    c_attn = large.transformer.h[0].attn.c_attn.weight  # [in, 3 * 64]
    assert c_attn.shape == (64, 192)


def test_net2net_widening_by_a_non_multiple_changes_the_logits_only_slightly():
    large_config = config(2, 48, 3)
    small = new_model("gpt2", SMALL, seed=1)
    large = materialize(grow_baseline("net2net", small.state_dict(), SMALL, large_config, seed=3), large_config, 3)
    difference = (logits(large) - logits(small)).abs().max().item()
    assert 0 < difference < 0.5 * logits(small).abs().max().item()


@pytest.mark.parametrize("scheme", BASELINES)
def test_every_baseline_grows_a_model_that_runs(scheme):
    deeper_only = scheme in ("stackbert", "interpolation")
    wider_only = scheme == "net2net"
    large_config = config(2 if wider_only else 4, 32 if deeper_only else 64, 2 if deeper_only else 4)
    small = new_model("gpt2", SMALL, seed=0)
    grown = grow_baseline(scheme, small.state_dict(), SMALL, large_config, seed=0)
    large = materialize(grown, large_config, seed=0)
    assert torch.isfinite(logits(large)).all()
    state = small.state_dict()
    if scheme in ("stackbert", "stackbert_direct_copy", "bert2bert_fpi"):
        # Large layer 3 is small layer 1 (StackBERT); its fused c_attn's query block starts with it.
        top = large.transformer.h[3].attn.c_attn.weight
        small_top = state["transformer.h.1.attn.c_attn.weight"]
        assert torch.equal(top[:32, :32], small_top[:, :32]) if scheme != "bert2bert_fpi" else top.shape == (64, 192)
    if scheme == "stackbert_direct_copy":
        # Direct copy fills the top-left block of each projection, not of the fused tensor.
        top = large.transformer.h[3].attn.c_attn.weight
        assert torch.equal(top[:32, 64:96], state["transformer.h.1.attn.c_attn.weight"][:, 32:64])  # key
        assert torch.equal(large.transformer.h[1].mlp.c_proj.weight[:128, :32],
                           state["transformer.h.1.mlp.c_proj.weight"])


def test_stackbert_keeps_the_function_of_a_one_layer_model_stacked_with_zeroed_outputs():
    # Depth growth is exact when the added layers add nothing to the residual stream: check that
    # StackBERT puts small layer i's weights at large layers i and i + L (here via the state).
    small = new_model("gpt2", SMALL, seed=0)
    large_config = config(4, 32, 2)
    grown = grow_baseline("stackbert", small.state_dict(), SMALL, large_config, seed=0)
    for j in range(4):
        for name in ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.bias", "ln_1.weight"):
            assert torch.equal(grown[f"transformer.h.{j}.{name}"], small.state_dict()[f"transformer.h.{j % 2}.{name}"])


def test_ligo_operator_grows_gpt2_and_trains_every_expansion():
    large_config = config(4, 64, 4)
    small = new_model("gpt2", SMALL, seed=0)
    operator = LiGOOperator(small.state_dict(), SMALL, large_config, LiGOOptions(), seed=0)
    slots = set(operator.width.keys())
    assert slots == {"hidden", "query", "key", "value", "ffn"}, slots  # the paper's tying: no "head" space
    assert operator.width["query"].shape == (4, 32, 32)  # one per large layer
    grown = operator()
    model = materialize(grown, large_config, seed=0)
    assert torch.isfinite(logits(model)).all()
    # The grown model as a function of the operator: the loss reaches every learned block.
    module = GrownModel(operator, large_config)
    loss = module(input_ids=BATCH, labels=BATCH).loss
    loss.backward()
    assert operator.depth.grad is not None and operator.depth.grad.abs().sum() > 0
    for slot, block in operator.width.items():
        assert block.grad is not None and block.grad.abs().sum() > 0, slot
    # Its forward equals the materialised model's.
    module.eval()
    with torch.no_grad():
        assert torch.allclose(module(input_ids=BATCH).logits, logits(model), atol=1e-5)


def test_ligo_identity_growth_reproduces_the_small_model():
    # Same sizes, StackBERT depth (the identity for equal depth), no width added: the small model.
    operator = LiGOOperator(new_model("gpt2", SMALL, seed=0).state_dict(), SMALL, SMALL,
                            LiGOOptions(depth_scheme="stackbert"), seed=0)
    small = new_model("gpt2", SMALL, seed=0)
    assert torch.allclose(logits(materialize(operator(), SMALL, seed=5)), logits(small), atol=1e-6)


def test_operator_saves_and_loads_a_gpt2_operator(tmp_path):
    large_config = config(4, 64, 4)
    operator = LiGOOperator(new_model("gpt2", SMALL, seed=0).state_dict(), SMALL, large_config,
                            LiGOOptions(tune_residual=True), seed=0)
    with torch.no_grad():
        operator.width["ffn"].add_(0.1)
    operator.save(tmp_path)
    loaded = LiGOOperator.load(tmp_path)
    a, b = operator(), loaded()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_smaller_ffn_or_another_family_is_refused():
    with pytest.raises(UserError, match="ffn space is smaller"):
        check_growable(config(2, 32, 2, inner=128), config(4, 64, 4, inner=96), "small", "large")
    from transformers import BertConfig
    with pytest.raises(UserError, match="families differ"):
        check_growable(SMALL, BertConfig(), "small", "large")
