"""The paper-scale recipes (scripts/paper/*.sh) end to end at tiny settings: every stage they
run on a GPU node, on the session's tokenised sample, with the paper's model names mapped to
tiny configs (MODEL_CONFIGS) and a few steps, sharing their runs as they do for users; and their
batch and step arithmetic (ligo/recipes/paper.py) in process."""

import csv
import json
from pathlib import Path

import pytest
from conftest import run
from glue_fixtures import write_glue
from squad_fixtures import write_squad
from training_helpers import config_text, tiny_config
from transformers import AutoTokenizer

from ligo.base.errors import UserError
from ligo.recipes import runner
from ligo.recipes.paper import FAMILIES, Paper
from ligo.recipes.runner import Environment

# The paper's sizes, as tiny models that grow the same way (depth, width or both).
TINY_SIZES = {"6L-512H": (2, 32), "12L-768H": (4, 64), "6L-768H": (2, 64), "12L-512H": (4, 32)}


def recipe_env(root, family, text_dir, tokenizer_dir, python, sizes=TINY_SIZES):
    configs = root / f"configs-{family}"
    configs.mkdir()
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    for size, (layers, hidden) in sizes.items():
        tiny_config(configs / f"{family}-{size}.json", family, len(tokenizer), layers=layers, hidden=hidden,
                    eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    recipe = config_text(root / f"{family}_wiki.txt", family, text_dir, tokenizer_dir, logging_steps=4,
                         ckpt_steps=4, num_workers=0, warmup_steps=1)
    return {"PYTHON": python, "PAPER_CONFIG": str(recipe), "MODEL_CONFIGS": str(configs), "RUNS": str(root / "runs"),
            "RESULTS": str(root / "results"), "STEPS": "4", "GLOBAL_BATCH": "8", "PER_GPU": "8", "GPUS": "1",
            "OPERATOR_STEPS": "1", "OPERATOR_STEPS_LIST": "2", "MSLT_STAGE_STEPS": "1", "LAYER_DROP_GAMMA": "1",
            "TOKEN_DROP_START": "2"}


@pytest.fixture(scope="module")
def recipes(tmp_path_factory, bert_tokenized, bert_tokenizer_dir, warm_python):
    root = tmp_path_factory.mktemp("paper")
    env = recipe_env(root, "bert", bert_tokenized, bert_tokenizer_dir, warm_python)
    outputs = {name: run(["bash", f"scripts/paper/{name}.sh"], env=env).stdout
               for name in ("bert_small_to_base", "depth_only", "width_only", "operator_steps", "figure5")}
    return root, outputs


def table_rows(path) -> list[str]:
    return [line.split("|")[1].strip() for line in path.read_text().splitlines()[2:] if line.startswith("|")]


def test_table1_recipe_trains_every_row_of_the_papers_table(recipes):
    root, outputs = recipes
    rows = table_rows(root / "results/table1-bert/savings.md")
    assert rows[:7] == ["Scratch", "StackBERT", "MSLT", "KI", "bert2BERT", "LiGO", "Small model"] or \
        {"Scratch", "StackBERT", "MSLT", "KI", "bert2BERT", "LiGO"} <= set(rows), rows
    assert "GLUE_DIR is not set: skipping GLUE for LiGO" in outputs["bert_small_to_base"]
    assert (f"run_lm_distributed.py --config {root}/bert_wiki.txt --per_gpu_train_batch_size 8 "
            f"--gradient_accumulation_steps 1 --output_dir {root}/runs/bert-small --max_steps 4 --should_continue "
            f"--config_name {root}/configs-bert/bert-6L-512H.json") in outputs["bert_small_to_base"]  # printed
    args = json.loads((root / "runs/bert-base-mslt/checkpoints/checkpoint-00000004/training_args.json").read_text())
    assert args["mslt_stage_steps"] == [1, 1] and args["grow_scheme"] == "mslt"  # 2 -> 3 -> 4 layers


def test_the_other_recipes_share_the_runs_they_have_in_common(recipes):
    root, outputs = recipes
    assert "bert-base-scratch is finished" in outputs["depth_only"]
    assert "bert-small is finished" in outputs["figure5"]
    assert "bert-base-ligo-operator is finished" in outputs["figure5"]
    assert {"StackBERT", "Interpolation", "LiGO"} <= set(table_rows(root / "results/depth-only/savings.md"))
    assert {"Net2Net", "LiGO"} <= set(table_rows(root / "results/width-only/savings.md"))
    assert {"LiGO-1", "LiGO-2"} <= set(table_rows(root / "results/table3-operator-steps/savings.md"))
    figure5 = root / "results/figure5/savings.md"
    assert {"Layer drop", "Token drop", "LiGO", "LiGO + layer drop", "LiGO + token drop"} <= set(table_rows(figure5))
    small_cost = {line.split("|")[1].strip(): line.split("|")[-2].strip()
                  for line in figure5.read_text().splitlines() if line.startswith("| ")}
    # scratch with a method is not grown from the small model; LiGO with one is
    assert small_cost["Layer drop"] == small_cost["Token drop"] == "—" != small_cost["LiGO + token drop"]


def test_roberta_recipe_runs_too_and_fine_tunes_every_model_on_glue_and_squad(tmp_path, roberta_tokenized,
                                                                             roberta_tokenizer_dir, warm_python):
    env = recipe_env(tmp_path, "roberta", roberta_tokenized, roberta_tokenizer_dir, warm_python)
    env.update(GLUE_DIR=str(write_glue(tmp_path / "glue", train_rows=16, dev_rows=8)),
               SQUAD_DIR=str(write_squad(tmp_path / "squad", roberta_tokenized / "en.train.raw", train_questions=16,
                                         dev_questions=8)),
               GLUE_ARGS="--tasks rte --max_steps 1 --seeds 1 --max_seq_length 32",
               SQUAD_ARGS="--max_steps 1 --seeds 1 --max_seq_length 48 --doc_stride 16")
    run(["bash", "scripts/paper/roberta_small_to_base.sh"], env=env)
    assert {"Scratch", "MSLT", "KI", "LiGO"} <= set(table_rows(tmp_path / "results/table1-roberta/savings.md"))
    # One row a model, its RTE and both SQuAD versions filled, as Table 1.
    with (tmp_path / "results/table1-roberta/glue_table.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["Model"] for row in rows] == ["Scratch", "StackBERT", "MSLT", "KI", "bert2BERT", "LiGO"]
    assert all(row["RTE"] != "-" and row["SQuAD v2.0 EM"] != "-" and row["SQuAD Avg F1"] != "-" for row in rows)


def test_gpt2_recipe_trains_every_row_of_figure_3c(tmp_path, gpt2_tokenized, gpt2_tokenizer_dir, warm_python):
    # GPT2-Base -> GPT2-Medium as 2L-32H -> 4L-64H; PAPER_FLAGS reaches every run (here: a seed).
    env = recipe_env(tmp_path, "gpt2", gpt2_tokenized, gpt2_tokenizer_dir, warm_python,
                     sizes={"12L-768H": (2, 32), "24L-1024H": (4, 64)})
    env["PAPER_FLAGS"] = "--logging_steps 2"
    output = run(["bash", "scripts/paper/gpt2_base_to_medium.sh"], env=env).stdout
    assert "[paper] gpt2, 1 GPU(s) x 8 sequences x 1 accumulation = 8 a step, 4 steps" in output
    rows = set(table_rows(tmp_path / "results/gpt2-base-to-medium/savings.md"))
    assert {"Scratch", "StackBERT", "MSLT", "KI", "bert2BERT", "LiGO"} <= rows, rows
    assert "perplexity" in (tmp_path / "results/gpt2-base-to-medium/savings.md").read_text()
    args = json.loads((tmp_path / "runs/gpt2-medium-ligo/checkpoints/checkpoint-00000004/training_args.json")
                      .read_text())
    assert args["model_type"] == "gpt2" and args["grow_scheme"] == "ligo" and args["logging_steps"] == 2


# --- the batch and step arithmetic, in process ----------------------------------------------------


def paper(family, **env) -> Paper:
    return Paper(family, Environment({key: str(value) for key, value in env.items()}))


def test_every_familys_default_recipe_exists():
    # gpt2's default named configs/gpt2_wiki.txt, which never existed
    assert all(Path(paper(family).config).is_file() for family in FAMILIES), [paper(f).config for f in FAMILIES]


def test_accumulation_keeps_the_global_batch_on_any_number_of_gpus():
    assert paper("bert", GPUS=1).accumulation() == 4 and paper("bert", GPUS=2).accumulation() == 2  # 256 / 64
    assert paper("gpt2", GPUS=8).accumulation() == 3 and paper("vit", GPUS=8).accumulation() == 1  # 384 / 16, 1024
    assert paper("llama", GPUS=8).accumulation() == 32  # 1024 / (4 x 8)
    with pytest.raises(UserError, match=r"GLOBAL_BATCH=256 is not a multiple of PER_GPU=64 x GPUS=3; change PER_GPU"):
        paper("bert", GPUS=3).accumulation()


def test_each_family_has_the_authors_warm_up_after_growth_and_its_steps():
    assert [paper(family).grown_warmup for family in ("bert", "roberta", "gpt2", "llama")] == [0, 10000, 0, 3000]
    assert paper("vit").grown_warmup == 6255 and paper("vit", WARMUP_STEPS=7).grown_warmup == 7  # DeiT's, every run
    assert paper("roberta", GROWN_WARMUP=5).grown_warmup == 5
    assert (paper("bert").steps, paper("gpt2").steps, paper("vit").steps) == (400000, 100000, 375300)
    assert (paper("llama").steps, paper("llama").config) == (100000, "configs/llama_paper.txt")
    assert paper("bert").mslt_stage_steps == 40000 and paper("bert", STEPS=4).mslt_stage_steps == 1
    assert paper("vit", PAPER_FLAGS="--x 1").flags_text == "--data_path data/imagenet --x 1"


def test_a_ligo_run_trains_its_operator_then_grows_with_it(monkeypatch, tmp_path):
    commands = []
    monkeypatch.setattr(runner, "call", lambda command: commands.append(command))
    recipe = paper("bert", GPUS=1, RUNS=tmp_path, PYTHON="py")
    recipe.ligo("big", "small", "12L-768H", "250", ["--tune_depth"])
    operator, grown = commands
    assert operator[operator.index("--logging_steps"):] == ["--logging_steps", "100", "--ckpt_steps", "250",
                                                            "--tune_depth"]
    assert grown[grown.index("--pretrained_ligo_path"):] == ["--pretrained_ligo_path", f"{tmp_path}/big-operator",
                                                             "--warmup_steps", "0"]
