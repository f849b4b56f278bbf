"""What a baseline's grown model keeps of its source, measured on real text by
``python -m ligo.growth.diagnostics preservation``: Net2Net at an integer width factor keeps the
logits and the source's hidden units to rounding; at a non-integer factor it does not, and
stacking layers changes the function."""

import json

import pytest
from tiny_world import build_world

from ligo.data.tokenizer import load_tokenizer
from ligo.growth.diagnostics import main, preservation, scored_batch
from ligo.models.loading import load_config, load_model


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("preservation")
    world = build_world(root)
    base = json.loads(world.small_config.read_text())  # 2L-64H
    targets = {}
    for name, layers, hidden in [("wider", 2, 128), ("non-integer", 2, 96), ("deeper", 4, 64)]:
        heads = hidden * base["num_attention_heads"] // base["hidden_size"]
        config = {**base, "num_hidden_layers": layers, "hidden_size": hidden, "num_attention_heads": heads,
                  "intermediate_size": 4 * hidden}
        (root / f"{name}.json").write_text(json.dumps(config))
        targets[name] = str(root / f"{name}.json")
    return world, targets


def test_net2net_keeps_the_source_at_an_integer_width_factor_only(world):
    world, targets = world
    source = load_model("bert", str(world.small_model))
    batch = scored_batch(load_tokenizer(str(world.tokenizer)), world.text_dir / "en.valid.raw", 16, 62, 0, mlm=True)
    rows = {(r["target"], r["scheme"]): r for r in preservation(
        source, [targets["wider"], targets["non-integer"], targets["deeper"]], ["net2net", "stackbert"], batch, 95)}
    wider = rows[("2L-128H", "net2net")]
    assert wider["max_hidden_diff"] < 1e-5 and wider["max_logit_diff"] < 1e-5, wider
    assert wider["top1_agreement"] == 1.0 and abs(wider["grown_loss"] - wider["source_loss"]) < 1e-5
    assert rows[("2L-96H", "net2net")]["max_hidden_diff"] > 1e-3  # LayerNorm's statistics change
    assert rows[("4L-64H", "stackbert")]["max_logit_diff"] > 1e-3  # two more layers: another function
    assert "grows width only" in rows[("4L-64H", "net2net")]["refused"]


def test_the_command_prints_the_table(world, capsys, tmp_path):
    world, targets = world
    main(["preservation", "--source", str(world.small_model), "--targets", targets["wider"], "--schemes", "net2net",
          "--text", str(world.text_dir / "en.valid.raw"), "--tokenizer_name", str(world.tokenizer),
          "--sequences", "8", "--block_size", "62", "--output", str(tmp_path / "table.md")])
    table = capsys.readouterr().out
    assert "| 2L-128H | net2net |" in table and "100.0%" in table
    assert (tmp_path / "table.md").read_text() == table
    assert load_config("bert", targets["wider"]).hidden_size == 128
