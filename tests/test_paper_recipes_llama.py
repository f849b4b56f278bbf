"""The Llama paper-scale recipes (scripts/paper/llama_*.sh) end to end at tiny settings, as
tests/test_paper_recipes.py runs the paper's (a file of their own, so that the suite's workers
share the recipes' minutes), and their model configs' sizes."""

import json

import pytest
import torch
from conftest import run
from test_paper_recipes import recipe_env, table_rows
from transformers import LlamaConfig, LlamaForCausalLM

from ligo.models.families import check_growable


def final_json(run_dir, name="training_args.json", steps=4) -> dict:
    return json.loads((run_dir / f"checkpoints/checkpoint-{steps:08d}/{name}").read_text())


def test_llama_gstack_recipe_trains_every_row(tmp_path, llama_tokenized, llama_tokenizer_dir, warm_python):
    # G_stack's 6L -> 24L at hidden 2048 as 6L -> 24L at hidden 32 (2 query heads, 1 key/value head of 16):
    # the depths that MSLT's stages (--mslt_stages 12 24) name.
    env = recipe_env(tmp_path, "llama", llama_tokenized, llama_tokenizer_dir, warm_python,
                     sizes={"6L-2048H": (6, 32), "24L-2048H": (24, 32)})
    output = run(["bash", "scripts/paper/llama_gstack_depth.sh"], env=env).stdout
    assert "[paper] llama, 1 GPU(s) x 8 sequences x 1 accumulation = 8 a step, 4 steps" in output
    savings = tmp_path / "results/llama-gstack-6L-to-24L/savings.md"
    assert {"Scratch", "G_stack", "Interpolation", "MSLT", "KI", "LiGO"} <= set(table_rows(savings))
    assert "perplexity" in savings.read_text()
    operator = final_json(tmp_path / "runs/llama-24L-2048H-ligo-operator", steps=1)  # OPERATOR_STEPS
    assert operator["tune_depth"] and not operator["tune_width"]  # depth only: the width is kept
    grown = final_json(tmp_path / "runs/llama-24L-2048H-gstack")
    assert grown["model_type"] == "llama" and grown["grow_scheme"] == "stackbert"
    assert grown["warmup_steps"] == 3000  # G_stack's warm-up of grown models, the llama default
    assert final_json(tmp_path / "runs/llama-24L-2048H-gstack", "config.json")["num_hidden_layers"] == 24
    mslt = final_json(tmp_path / "runs/llama-24L-2048H-mslt")
    assert mslt["mslt_stages"] == [12, 24] and mslt["mslt_stage_steps"] == [1, 1]


def test_llama_smollm2_recipe_grows_width_and_depth(tmp_path, llama_tokenized, llama_tokenizer_dir, warm_python):
    # SmolLM2-135M -> 360M (9/3 -> 15/5 heads) as 2L-32H -> 4L-64H (2/1 -> 4/2 heads of 16).
    env = recipe_env(tmp_path, "llama", llama_tokenized, llama_tokenizer_dir, warm_python,
                     sizes={"30L-576H": (2, 32), "32L-960H": (4, 64)})
    output = run(["bash", "scripts/paper/llama_smollm2_135m_to_360m.sh"], env=env).stdout
    assert f"--config {tmp_path}/llama_wiki.txt " in output  # PAPER_CONFIG wins over the script's default
    rows = set(table_rows(tmp_path / "results/llama-smollm2-135m-to-360m/savings.md"))
    assert {"Scratch", "StackBERT", "bert2BERT", "bert2BERT FPI", "MSLT", "LiGO"} <= rows, rows
    operator = final_json(tmp_path / "runs/smollm2-360m-ligo-operator", steps=1)
    assert operator["tune_depth"] and operator["tune_width"]
    assert final_json(tmp_path / "runs/smollm2-360m-bert2bert-fpi")["grow_scheme"] == "bert2bert_fpi"


@pytest.mark.parametrize("small, large, millions", [("6L-2048H", "24L-2048H", (439, 1364)),
                                                     ("30L-576H", "32L-960H", (135, 362))])
def test_llama_recipes_model_configs_grow_and_have_their_sizes(small, large, millions):
    # The real configs the two Llama recipes name: growable into each other, of the sizes their headers state.
    configs = [LlamaConfig.from_json_file(f"configs/llama-{size}.json") for size in (small, large)]
    check_growable(*configs, small, large)
    with torch.device("meta"):
        sizes = [sum(p.numel() for p in LlamaForCausalLM(config).parameters()) for config in configs]
    assert tuple(round(size / 1e6) for size in sizes) == millions

