"""The growth baselines on small real Hugging Face models: exact layer copies for the depth
schemes, unchanged logits for the function-preserving width schemes, AKI's rows from the
next layer, direct copy's blocks, clear errors for impossible requests, and every scheme grown a
layer at a time as a sharded run takes it."""

import functools
import json

import pytest
import torch
from transformers import BertConfig, BertForMaskedLM, RobertaConfig, RobertaForMaskedLM

from ligo.base.errors import UserError
from ligo.growth.baselines import BASELINES, BaselineGrowth, grow_baseline, net2net_selections
from ligo.growth.grown_model import LayerByLayer
from ligo.growth.schemes import WIDENING
from ligo.models.families import family_of, layout_of
from ligo.models.loading import empty_model, new_model_part

VOCAB, POSITIONS = 300, 70


def config(family="bert", layers=2, hidden=64, heads=2, ffn=256, **extra):
    config_class = BertConfig if family == "bert" else RobertaConfig
    family_extra = {"pad_token_id": 1} if family == "roberta" else {}
    return config_class(vocab_size=VOCAB, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=ffn, max_position_embeddings=POSITIONS, hidden_dropout_prob=0.0,
                        attention_probs_dropout_prob=0.0, **family_extra, **extra)


def model(cfg, seed=0):
    torch.manual_seed(seed)
    net = (BertForMaskedLM if cfg.model_type == "bert" else RobertaForMaskedLM)(cfg).eval()
    with torch.no_grad():  # LayerNorms and biases away from their 1/0 init, so copies are tested
        for name, p in net.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    return net


def small_state(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def input_ids(seed=1, length=24):
    ids = torch.randint(3, VOCAB, (2, length), generator=torch.Generator().manual_seed(seed))
    return ids  # no pad id (0 for BERT, 1 for RoBERTa)


def logits(cfg, params, ids):
    net = (BertForMaskedLM if cfg.model_type == "bert" else RobertaForMaskedLM)(cfg).eval()
    missing, unexpected = net.load_state_dict(params, strict=False)
    assert not unexpected
    layout = layout_of(cfg.model_type)
    assert set(missing) <= {layout.decoder.name, layout.decoder_bias}  # tied: come from the loaded ones
    with torch.no_grad():
        return net(input_ids=ids).logits


@functools.cache
def model_keys(config_json):
    settings = json.loads(config_json)
    cfg = (BertConfig if settings["model_type"] == "bert" else RobertaConfig).from_dict(settings)
    return frozenset(model(cfg).state_dict())


def assert_keys(grown, cfg):
    """The large model's state-dict keys less the tied ones (with tied embeddings, the decoder
    weight and bias; untied, the decoder bias may come or not: see test_untied_models_keep_logits)."""
    layout = layout_of(cfg.model_type)
    keys = model_keys(cfg.to_json_string()) - {layout.decoder_bias}
    if cfg.tie_word_embeddings:
        assert set(grown) == keys - {layout.decoder.name}
    else:
        assert set(grown) - {layout.decoder_bias} == keys


def layer_key(family, i, rest):
    return f"{family}.encoder.layer.{i}.{rest}"


# -- 1. depth only ----------------------------------------------------------------------------

@pytest.mark.parametrize("scheme, large_layers, sources", [
    ("stackbert", 4, [0, 1, 0, 1]), ("stackbert", 3, [0, 1, 0]),
    ("interpolation", 4, [0, 0, 1, 1]), ("interpolation", 3, [0, 0, 1]),
])
def test_depth_schemes_copy_layers(scheme, large_layers, sources):
    small_cfg, large_cfg = config(), config(layers=large_layers)
    state = small_state(model(small_cfg))
    grown = grow_baseline(scheme, state, small_cfg, large_cfg, seed=0)
    assert_keys(grown, large_cfg)
    for key, tensor in grown.items():
        if ".layer." in key:
            j = int(key.split(".layer.")[1].split(".")[0])
            source = key.replace(f".layer.{j}.", f".layer.{sources[j]}.")
            assert torch.equal(tensor, state[source]), key
        else:
            assert torch.equal(tensor, state[key]), key


# -- 2. function-preserving width -------------------------------------------------------------

def grown_logit_deviation(scheme, small_cfg, large_cfg, seed=0, noise=0.0):
    net = model(small_cfg)
    ids = input_ids()
    with torch.no_grad():
        reference = net(input_ids=ids).logits
    grown = grow_baseline(scheme, small_state(net), small_cfg, large_cfg, seed=seed, noise=noise)
    assert_keys(grown, large_cfg)
    return (logits(large_cfg, grown, ids) - reference).abs().max().item()


@pytest.mark.parametrize("scheme", ["net2net", "bert2bert_fpi"])
@pytest.mark.parametrize("large", [dict(ffn=512), dict(hidden=128, heads=4, ffn=512)],
                         ids=["ffn-only", "double-width"])
@pytest.mark.parametrize("noise", [0.0, 0.2], ids=["plain", "noisy"])
def test_width_growth_preserves_logits(scheme, large, noise):
    # --grow_noise splits copies unevenly (the MLM head's transform and the attention output too) and keeps them.
    deviation = grown_logit_deviation(scheme, config(), config(**large), noise=noise)
    print(f"{scheme} {large} noise {noise}: max |logit difference| = {deviation:.3g}")
    assert deviation < 1e-4


def test_doubling_copies_every_unit_once():
    chosen = net2net_selections(config(), config(hidden=128, heads=4, ffn=512), seed=3)
    for g, old in [(chosen["hidden"], 64), *[(a, 64) for a in chosen["query"]], *[(f, 256) for f in chosen["ffn"]]]:
        assert torch.equal(g[:old], torch.arange(old))
        assert torch.equal(torch.bincount(g, minlength=old), torch.full((old,), 2))
    # whole heads: unit offsets inside a head kept
    for a in chosen["query"]:
        assert torch.equal(a.view(4, 32) % 32, torch.arange(32).expand(4, 32))
        assert (a.view(4, 32) // 32 == a.view(4, 32)[:, :1] // 32).all()
    other = net2net_selections(config(), config(hidden=128, heads=4, ffn=512), seed=4)
    assert not torch.equal(other["ffn"], chosen["ffn"])


def test_net2net_tensors_follow_selections():
    """Every grown tensor against the selections, by indexing: rows copy, the columns of a copied
    input are divided by its copies; Q, K and V share one selection; the head LayerNorm divides."""
    small_cfg, large_cfg = config(hidden=128, heads=4), config(hidden=224, heads=7, ffn=384)
    state = small_state(model(small_cfg))
    grown = grow_baseline("net2net", state, small_cfg, large_cfg, seed=2)
    chosen = net2net_selections(small_cfg, large_cfg, seed=2)

    def copies(g):
        return torch.bincount(g).to(torch.float32)[g]

    def check(key, expected):
        torch.testing.assert_close(grown[key], expected, rtol=1e-6, atol=0, msg=key)

    h = chosen["hidden"]
    assert copies(h).max() > 1 and copies(h).min() == 1  # uneven: the division is exercised
    for i in range(2):
        a, f = chosen["query"][i], chosen["ffn"][i]
        layer = functools.partial(layer_key, "bert", i)
        for proj in ("query", "key", "value"):
            w = state[layer(f"attention.self.{proj}.weight")]
            check(layer(f"attention.self.{proj}.weight"), w[a][:, h] / copies(h))
            check(layer(f"attention.self.{proj}.bias"), state[layer(f"attention.self.{proj}.bias")][a])
        name = layer("attention.output.dense.weight")
        check(name, state[name][h][:, a] / copies(a))
        check(layer("intermediate.dense.weight"), state[layer("intermediate.dense.weight")][f][:, h] / copies(h))
        check(layer("intermediate.dense.bias"), state[layer("intermediate.dense.bias")][f])
        check(layer("output.dense.weight"), state[layer("output.dense.weight")][h][:, f] / copies(f))
        for rest in ("attention.output.dense.bias", "attention.output.LayerNorm.weight",
                     "attention.output.LayerNorm.bias", "output.dense.bias", "output.LayerNorm.weight",
                     "output.LayerNorm.bias"):
            check(layer(rest), state[layer(rest)][h])
    for table in ("word", "position", "token_type"):
        check(f"bert.embeddings.{table}_embeddings.weight", state[f"bert.embeddings.{table}_embeddings.weight"][:, h])
    for param in ("weight", "bias"):
        check(f"bert.embeddings.LayerNorm.{param}", state[f"bert.embeddings.LayerNorm.{param}"][h])
        check(f"cls.predictions.transform.LayerNorm.{param}",
              state[f"cls.predictions.transform.LayerNorm.{param}"][h] / copies(h))
    name = "cls.predictions.transform.dense.weight"
    check(name, state[name][h][:, h] / copies(h))
    check("cls.predictions.transform.dense.bias", state["cls.predictions.transform.dense.bias"][h])
    check("cls.predictions.bias", state["cls.predictions.bias"])


def test_uneven_width_growth_deviation():
    """64 -> 96 hidden: LayerNorm statistics change, so only report the deviation."""
    deviation = grown_logit_deviation("net2net", config(), config(hidden=96, heads=3, ffn=384))
    print(f"net2net 64H -> 96H (uneven copies): max |logit difference| = {deviation:.3g}")
    assert torch.isfinite(torch.tensor(deviation))


def test_growth_is_deterministic_given_seed():
    small_cfg, large_cfg = config(), config(layers=4, hidden=96, heads=3, ffn=384)
    state = small_state(model(small_cfg))
    for scheme in ("bert2bert_fpi", "bert2bert_aki", "stackbert_direct_copy", "interpolation_direct_copy"):
        a, b = (grow_baseline(scheme, state, small_cfg, large_cfg, seed=5) for _ in range(2))
        c = grow_baseline(scheme, state, small_cfg, large_cfg, seed=6)
        assert all(torch.equal(a[k], b[k]) for k in a)
        assert any(not torch.equal(a[k], c[k]) for k in a)


# -- 3. FPI with depth ------------------------------------------------------------------------

def test_fpi_stacks_widened_layers():
    small_cfg, large_cfg = config(), config(layers=4, hidden=128, heads=4, ffn=512)
    state = small_state(model(small_cfg))
    grown = grow_baseline("bert2bert_fpi", state, small_cfg, large_cfg, seed=0)
    assert_keys(grown, large_cfg)
    width_only = grow_baseline("net2net", state, small_cfg, config(hidden=128, heads=4, ffn=512), seed=0)
    for key in grown:
        if ".layer." in key:
            for low, high in [(0, 2), (1, 3)]:
                if f".layer.{low}." in key:
                    assert torch.equal(grown[key], grown[key.replace(f".layer.{low}.", f".layer.{high}.")]), key
                    assert torch.equal(grown[key], width_only[key]), key
    assert not torch.equal(grown[layer_key("bert", 0, "output.dense.weight")],
                           grown[layer_key("bert", 1, "output.dense.weight")])


# -- 4. AKI -----------------------------------------------------------------------------------

def test_aki_new_rows_come_from_next_layer():
    small_cfg, large_cfg = config(), config(layers=4, hidden=128, heads=4, ffn=512)
    net = model(small_cfg)
    state = small_state(net)
    aki = grow_baseline("bert2bert_aki", state, small_cfg, large_cfg, seed=0)
    fpi = grow_baseline("bert2bert_fpi", state, small_cfg, large_cfg, seed=0)
    chosen = net2net_selections(small_cfg, large_cfg, seed=0)
    hidden_copies = torch.bincount(chosen["hidden"], minlength=64).float()
    for j in range(4):
        i = j % 2
        source = min(i + 1, 1)
        g = chosen["query"][i]
        query = aki[layer_key("bert", j, "attention.self.query.weight")]
        small_next = state[layer_key("bert", source, "attention.self.query.weight")]
        small_own = state[layer_key("bert", i, "attention.self.query.weight")]
        # columns: each input copied and divided by its number of copies
        expected_new = small_next[g[64:]][:, chosen["hidden"]] / hidden_copies[chosen["hidden"]]
        expected_old = small_own[:, chosen["hidden"]] / hidden_copies[chosen["hidden"]]
        torch.testing.assert_close(query[64:], expected_new, rtol=0, atol=0)
        torch.testing.assert_close(query[:64], expected_old, rtol=0, atol=0)
        bias = aki[layer_key("bert", j, "attention.self.query.bias")]
        assert torch.equal(bias[64:], state[layer_key("bert", source, "attention.self.query.bias")][g[64:]])
        assert torch.equal(bias[:64], state[layer_key("bert", i, "attention.self.query.bias")])
        # the residual stream's new rows of a LayerNorm come from the next layer too
        norm = aki[layer_key("bert", j, "output.LayerNorm.weight")]
        next_norm = state[layer_key("bert", source, "output.LayerNorm.weight")]
        assert torch.equal(norm[64:], next_norm[chosen["hidden"][64:]])
    # layer 0's new rows differ from FPI's (which copies layer 0 itself); embeddings are FPI's
    key = layer_key("bert", 0, "attention.self.query.weight")
    assert not torch.equal(aki[key][64:], fpi[key][64:])
    assert torch.equal(aki[key][:64], fpi[key][:64])
    assert torch.equal(aki["bert.embeddings.word_embeddings.weight"], fpi["bert.embeddings.word_embeddings.weight"])
    ids = input_ids()
    difference = (logits(large_cfg, aki, ids) - logits(large_cfg, fpi, ids)).abs().max().item()
    assert difference > 1e-3


# -- 5. direct copy ---------------------------------------------------------------------------

@pytest.mark.parametrize("scheme, source_layer", [("stackbert_direct_copy", lambda j: j % 2),
                                                   ("interpolation_direct_copy", lambda j: j // 2)])
def test_direct_copy_blocks(scheme, source_layer):
    small_cfg, large_cfg = config(), config(layers=4, hidden=128, heads=4, ffn=512)
    state = small_state(model(small_cfg))
    grown = grow_baseline(scheme, state, small_cfg, large_cfg, seed=7)
    assert_keys(grown, large_cfg)
    # The new units: each part's own random initialisation (any layer made alone, as a sharded run does)
    reference = new_model_part("bert", large_cfg, 7, None)
    for j in range(large_cfg.num_hidden_layers):
        reference.update(new_model_part("bert", large_cfg, 7, j))
    checked = 0
    for key, tensor in grown.items():
        source = key
        if ".layer." in key:
            j = int(key.split(".layer.")[1].split(".")[0])
            source = key.replace(f".layer.{j}.", f".layer.{source_layer(j)}.")
        block = tuple(slice(0, n) for n in state[source].shape)
        assert torch.equal(tensor[block], state[source]), key
        rest = torch.ones_like(tensor, dtype=torch.bool)
        rest[block] = False
        assert torch.equal(tensor[rest], reference[key][rest]), key
        checked += int(rest.any())
    assert checked > 20
    other_seed = grow_baseline(scheme, state, small_cfg, large_cfg, seed=8)
    key = layer_key("bert", 1, "intermediate.dense.weight")
    assert not torch.equal(other_seed[key], grown[key])


# -- 6. RoBERTa -------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme", ["net2net", "bert2bert_fpi"])
def test_roberta_width_growth_preserves_logits(scheme):
    small_cfg = config("roberta")
    large_cfg = config("roberta", hidden=128, heads=4, ffn=512)
    deviation = grown_logit_deviation(scheme, small_cfg, large_cfg)
    print(f"roberta {scheme} 64H -> 128H: max |logit difference| = {deviation:.3g}")
    assert deviation < 1e-4


def test_roberta_stackbert_copies_layers():
    small_cfg, large_cfg = config("roberta"), config("roberta", layers=4)
    state = small_state(model(small_cfg))
    grown = grow_baseline("stackbert", state, small_cfg, large_cfg, seed=0)
    assert_keys(grown, large_cfg)
    assert torch.equal(grown[layer_key("roberta", 3, "attention.self.key.weight")],
                       state[layer_key("roberta", 1, "attention.self.key.weight")])


# -- 7. errors --------------------------------------------------------------------------------

@pytest.mark.parametrize("scheme, small_cfg, large_cfg, words", [
    ("stackbert", config(), config(layers=4, hidden=128, heads=4),
     ["stackbert", "64H", "128H", "stackbert_direct_copy"]),
    ("interpolation", config(), config(ffn=512), ["interpolation", "256F", "512F", "interpolation_direct_copy"]),
    ("net2net", config(), config(layers=4, hidden=128, heads=4), ["net2net", "2L", "4L", "bert2bert_fpi"]),
    ("bert2bert_fpi", config(layers=4), config(layers=2), ["bert2bert_fpi", "fewer layers"]),
    ("net2net", config(hidden=128, heads=4), config(), ["net2net", "fewer hidden size"]),
    ("stackbert", config(), config("roberta"), ["stackbert", "families differ"]),
    ("net2net", config(), config(hidden=96, heads=2), ["net2net", "head size"]),
    ("progressive", config(), config(), ["progressive", "stackbert"]),
])
def test_impossible_requests(scheme, small_cfg, large_cfg, words):
    state = small_state(model(small_cfg))
    with pytest.raises(UserError) as err:
        grow_baseline(scheme, state, small_cfg, large_cfg, seed=0)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


# -- 8. tied / untied output embeddings -------------------------------------------------------

@pytest.mark.parametrize("scheme", BASELINES)
def test_untied_target_decoder_equals_grown_word_embedding(scheme):
    small_cfg = config()
    large = dict(layers=2) if scheme == "net2net" else dict(layers=4)
    if scheme not in ("stackbert", "interpolation"):
        large.update(hidden=128, heads=4, ffn=512)
    large_cfg = config(**large, tie_word_embeddings=False)
    grown = grow_baseline(scheme, small_state(model(small_cfg)), small_cfg, large_cfg, seed=0)
    assert_keys(grown, large_cfg)
    assert torch.equal(grown["cls.predictions.decoder.weight"], grown["bert.embeddings.word_embeddings.weight"])


def test_untied_small_model_keeps_its_decoder():
    small_cfg = config(tie_word_embeddings=False)
    large_cfg = config(hidden=128, heads=4, ffn=512, tie_word_embeddings=False)
    net = model(small_cfg)
    assert not torch.equal(net.cls.predictions.decoder.weight, net.bert.embeddings.word_embeddings.weight)
    grown = grow_baseline("net2net", small_state(net), small_cfg, large_cfg, seed=0)
    chosen = net2net_selections(small_cfg, large_cfg, seed=0)
    assert torch.equal(grown["cls.predictions.decoder.weight"], net.cls.predictions.decoder.weight[:, chosen["hidden"]])


# Transformers 5 ties cls.predictions.decoder.bias to cls.predictions.bias only when it ties the
# embeddings: an untied model uses decoder.bias alone, which grow_parameters neither reads nor writes.
@pytest.mark.parametrize("small_tied", [True, False], ids=["tied-small", "untied-small"])
def test_untied_models_keep_logits(small_tied):
    small_cfg = config(tie_word_embeddings=small_tied)
    large_cfg = config(hidden=128, heads=4, ffn=512, tie_word_embeddings=False)
    net = model(small_cfg)
    grown = grow_baseline("net2net", small_state(net), small_cfg, large_cfg, seed=0)
    ids = input_ids()
    with torch.no_grad():
        reference = net(input_ids=ids).logits
    assert (logits(large_cfg, grown, ids) - reference).abs().max().item() < 1e-4


# -- 7. a layer at a time, as a sharded run takes them --------------------------------------------

@pytest.mark.parametrize("scheme", BASELINES)
def test_a_sharded_run_takes_each_baselines_weights_a_layer_at_a_time_equal_to_the_whole_growth(scheme):
    """What an FSDP run does (ligo/training/sharding.py ``fill``): every parameter taken by name, in
    the large model's order, from a ``LayerByLayer`` over the scheme's growth: each large layer is
    grown once, in turn (one alive at a time), and every tensor equals the whole growth's (random
    draws included: direct copy's new units, --grow_noise)."""
    small_cfg = config()
    large_cfg = {"stackbert": config(layers=3), "interpolation": config(layers=3),
                 "net2net": config(hidden=128, heads=4, ffn=512)}.get(scheme, config(layers=3, hidden=128, heads=4,
                                                                                       ffn=512))
    noise = 0.1 if scheme in WIDENING else 0.0
    state = small_state(model(small_cfg))
    growth = BaselineGrowth(scheme, state, small_cfg, large_cfg, seed=3, noise=noise)
    grown_layers = []

    def grow_layer(j):
        grown_layers.append(j)
        return growth.grow_layer(j)

    parts = LayerByLayer(grow_layer, growth.grow_outside_layers, family_of("bert").layers_path)
    whole = grow_baseline(scheme, state, small_cfg, large_cfg, seed=3, noise=noise)
    names = [name for name, _ in empty_model("bert", large_cfg).named_parameters()]
    assert sorted(names) == sorted(whole)
    assert all(torch.equal(parts.pop(name), whole[name]) for name in names)
    assert grown_layers == list(range(large_cfg.num_hidden_layers))
