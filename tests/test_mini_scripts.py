"""The miniature Table 1's scripts end to end at tiny settings (mini_table1.sh, mini_seeds.sh,
mini_ablation.sh, sharing their runs as they do for users), the causal-LM miniatures (test_mini_causal.py),
the small tools they call (the unigram margin, the grown-matrix rank, the warm-up trap), and the
miniatures' step arithmetic and skip logic (ligo/recipes/mini.py, runner.py) in process."""

import math

import h5py
import numpy as np
import pytest
import torch
from conftest import run
from training_helpers import config_text, read_metrics, tiny_config
from transformers import AutoTokenizer

from ligo.base.errors import UserError
from ligo.growth.diagnostics import effective_rank
from ligo.recipes import mini as mini_recipe
from ligo.recipes import runner
from ligo.recipes.mini import Mini
from ligo.recipes.runner import Environment, Job
from ligo.report.unigram import unigram_entropy
from ligo.tasks.arguments import parse_args
from ligo.training.session import warmup_trap

TINY_CELLS = "ops-0 op-authors stackbert-ligo-width"  # one of each kind of cell: see mini_ablation.sh


@pytest.fixture(scope="module")
def mini(tmp_path_factory, bert_tokenized, bert_tokenizer_dir, warm_python):
    """The three scripts in the order users run them, on the session's tokenised sample."""
    root = tmp_path_factory.mktemp("mini")
    vocab = len(AutoTokenizer.from_pretrained(str(bert_tokenizer_dir)))
    env = {
        "PYTHON": str(warm_python),
        "MINI_CONFIG": str(config_text(root / "mini.txt", "bert", bert_tokenized, bert_tokenizer_dir, logging_steps=4,
                                       ckpt_steps=4, learning_rate="2e-3")),
        "MINI_SMALL_CONFIG": str(tiny_config(root / "small.json", "bert", vocab, layers=2, hidden=32)),
        "MINI_LARGE_CONFIG": str(tiny_config(root / "large.json", "bert", vocab, layers=4, hidden=64)),
        "SMALL_STEPS": "4", "LARGE_STEPS": "8",
        "MINI_RUNS": str(root / "runs/mini"), "MINI_RESULTS": str(root / "results/mini"),
        "MINI_SEEDS_RUNS": str(root / "runs/mini-seeds"), "MINI_SEEDS_RESULTS": str(root / "results/mini-seeds"),
        "ABLATION_RUNS": str(root / "runs/ablation"), "ABLATION_RESULTS": str(root / "results/ablation"),
        "ABLATION_SEEDS": "17", "ABLATION_CELLS": TINY_CELLS, "ABLATION_RANK_STEP": "4",
        "MINI_SEEDS": "17 18",  # two seeds make a spread, as three do
        "MINI_FIGURE5_RESULTS": str(root / "results/mini-figure5"),
    }
    outputs = {script: run(["bash", f"scripts/{script}.sh"], env=env).stdout
               for script in ("mini_table1", "mini_seeds", "mini_ablation", "mini_figure5")}
    return root, env, outputs


def test_mini_table1_reports_every_method_in_the_papers_proportions(mini):
    root, env, outputs = mini
    table = (root / "results/mini/savings.md").read_text()
    for method in ("Scratch", "LiGO", "StackBERT", "MSLT", "KI", "bert2BERT"):  # the paper's Table 1
        assert f"| {method} |" in table
    # MSLT's stages (10% of the 8 steps, at least 1, each) and KI's teacher show in the FLOPs
    mslt = read_metrics(root / "runs/mini/mslt")
    ki, scratch = read_metrics(root / "runs/mini/ki"), read_metrics(root / "runs/mini/scratch")
    assert mslt[1]["flops"] < scratch[1]["flops"] < ki[1]["flops"]
    assert "LiGO" in table.splitlines()[-1] and "baselines here" in table.splitlines()[-1]
    run_md = (root / "results/mini/RUN.md").read_text()
    assert "unigram entropy of the training tokens" in run_md and "nat " in run_md
    assert "LiGO operator 1 steps" in run_md and "scratch warm-up 0 steps, grown runs 0" in run_md
    assert f"| `{root}/runs/mini/ligo` | 8 |" in run_md and " s for training and report" in run_md
    # 2.5% of 8 steps, rounded up: one operator step
    assert (root / "runs/mini/ligo-operator/checkpoints/checkpoint-00000001").is_dir()
    # Each run's command is printed as it runs, for users to copy.
    assert (f"+ {env['PYTHON']} run_grow_distributed.py --config {env['MINI_CONFIG']} --output_dir "
            f"{root}/runs/mini/ligo-operator --max_steps 1 --should_continue") in outputs["mini_table1"]


def test_mini_seeds_reuses_the_main_jobs_runs_and_aggregates(mini):
    root, _, outputs = mini
    assert "runs/mini/scratch is finished" in outputs["mini_seeds"]
    seeds = (root / "results/mini-seeds/seeds.md").read_text()
    assert "LiGO" in seeds and "StackBERT" in seeds
    assert (root / "results/mini-seeds/seed-17/savings.csv").is_file()
    assert f"| `{root}/runs/mini/scratch` | 8 | reused |" in (root / "results/mini-seeds/seed-17/RUN.md").read_text()
    assert "seeds: 17" in (root / "results/mini-seeds/RUN.md").read_text()


def test_mini_ablation_runs_its_cells_and_measures_them(mini):
    root, _, outputs = mini
    report = (root / "results/ablation/seed-17/savings.md").read_text()
    for label in ("LiGO (table: 2.5% operator)", "StackBERT (table)", "LiGO, 0 operator steps (init alone)",
                  "LiGO, authors' operator recipe (lr 2e-4, warm-up 10000)", "StackBERT with LiGO's width init (rand)"):
        assert f"| {label} |" in report
    # the authors' recipe is warned about: 1 step against a warm-up of 10000
    assert "never leaves warm-up" in outputs["mini_ablation"]
    movement = (root / "results/ablation/operator_movement.md").read_text()
    assert "op-authors-operator" in movement
    ranks = (root / "results/ablation/grown_ranks.md").read_text()
    assert ranks.count("| 0 |") == 12 and ranks.count("| 4 |") == 12  # 3 runs x 4 tensors, at 2 steps
    # LiGO's grown matrix has at most the small model's width as rank at growth (its new units
    # combine old ones); StackBERT's random new units raise it above that (63 of 64 seen).
    rows = {(r.split("|")[1].strip(), r.split("|")[2].strip(), r.split("|")[3].strip()): int(r.split("|")[6])
            for r in ranks.splitlines()[2:]}
    query = "bert.encoder.layer.0.attention.self.query.weight"
    assert rows[(f"`{root}/runs/mini/ligo`", "0", query)] <= 32
    assert rows[(f"`{root}/runs/mini/stackbert_direct_copy`", "0", query)] > 32


def test_mini_figure5_adds_layer_and_token_dropping_to_scratch_and_to_ligo(mini):
    root, _, outputs = mini
    assert "runs/mini/ligo-operator is finished" in outputs["mini_figure5"]
    table = (root / "results/mini-figure5/savings.md").read_text()
    for method in ("Scratch", "Layer drop", "Token drop", "LiGO", "LiGO + layer drop", "LiGO + token drop"):
        assert f"| {method} |" in table
    for name in ("scratch-tokendrop", "ligo-layerdrop"):  # cheaper steps than scratch's
        assert (read_metrics(root / f"runs/mini/{name}")[-1]["flops"]
                < read_metrics(root / "runs/mini/scratch")[-1]["flops"])
    assert "--layer_drop_gamma 50.0" in (root / "results/mini-figure5/RUN.md").read_text()  # 0.001 * 400000 / 8


def test_operator_over_2_5_percent_of_the_large_run_is_refused(mini):
    _, env, _ = mini
    result = run(["bash", "scripts/mini_table1.sh"], env={**env, "OPERATOR_STEPS": "5"}, check=False)
    assert result.returncode == 2
    assert "OPERATOR_STEPS=5 is over 2.5% of LARGE_STEPS=8" in result.stderr


def test_unknown_ablation_cell_is_refused(mini):
    _, env, _ = mini
    result = run(["bash", "scripts/mini_ablation.sh"], env={**env, "ABLATION_CELLS": "ops-0 ops-50pct"}, check=False)
    assert result.returncode == 2 and "'ops-50pct' is not one of" in result.stderr


def test_unigram_entropy_counts_tokens_without_special_ones(tmp_path):
    path = tmp_path / "t.hdf5"
    with h5py.File(path, "w") as f:
        f["tokens"] = np.array([5, 6, 7, 8] * 10 + [0, 1] * 7, dtype=np.int32)  # 0, 1: special
    assert unigram_entropy(path, 10, [0, 1]) == pytest.approx(math.log(4))


def test_effective_rank_of_a_rank_deficient_matrix():
    generator = torch.Generator().manual_seed(0)
    low = torch.randn(64, 8, generator=generator) @ torch.randn(8, 64, generator=generator)
    erank, numerical = effective_rank(low)
    assert numerical == 8 and 1 < erank <= 8
    assert effective_rank(torch.eye(16))[0] == pytest.approx(16)


def test_warmup_trap_names_the_peak_the_learning_rate_reaches():
    """The authors' README: run_grow_distributed.py --config configs/bert_wiki.txt ... --max_steps 100
    inherits warmup_steps = 10000 and learning_rate = 2e-4."""
    base = ["--config", "configs/bert_wiki.txt", "--config_name", "c.json", "--output_dir", "o"]
    message = warmup_trap(parse_args([*base, "--max_steps", "100"]))
    assert message == ("warning: --warmup_steps 10000 >= --max_steps 100: the learning rate never leaves warm-up and "
                       "peaks at 1.98e-06 (not --learning_rate 0.0002); lower --warmup_steps if that is not what "
                       "you want")
    assert warmup_trap(parse_args(base)) is None  # 400000 steps, 10000 of warm-up


# --- the step arithmetic and the skip logic, in process -------------------------------------------


def settings(name="table1", **env) -> Mini:
    return Mini.from_env(name, Environment({key: str(value) for key, value in env.items()}))


def test_operator_steps_are_2_5_percent_of_the_large_run():
    assert settings().operator_steps == 25  # the paper's largest share (its Table 3) of 1000 steps
    assert settings(LARGE_STEPS=8).operator_steps == 1 and settings(LARGE_STEPS=80).operator_steps == 2  # rounded up
    assert settings("gpt2").operator_steps == 12 and settings("vit").operator_steps == 15  # rounded down
    assert settings("gpt2", LARGE_STEPS=8).operator_steps == 1  # but one step at least
    mini = settings(SMALL_STEPS=400, LARGE_STEPS=1000)
    assert (mini.small_warmup, mini.scratch_warmup, mini.grown_warmup) == (10, 25, 0)
    with pytest.raises(UserError, match="OPERATOR_STEPS=26 is over 2.5% of LARGE_STEPS=1000"):
        settings(OPERATOR_STEPS=26)
    assert settings(OPERATOR_STEPS=26, MINI_ALLOW_LONG_OPERATOR=1).operator_steps == 26
    with pytest.raises(UserError, match="LARGE_STEPS='1e3' is not a whole number"):
        settings(LARGE_STEPS="1e3")


def test_runs_are_skipped_when_finished_and_timed_in_the_jobs_table(tmp_path, monkeypatch, capsys):
    commands = []
    monkeypatch.setattr(runner, "call", lambda command: commands.append(command))
    runs = tmp_path / "runs"
    mini = settings(LARGE_STEPS=1000, MINI_RUNS=runs, MINI_FLAGS="--bf16", PYTHON="py")
    mini.job = Job(str(runs), "table1")
    mini.job.begin()
    (runs / "mslt/checkpoints/checkpoint-00001000").mkdir(parents=True)
    mini.mslt(f"{runs}/mslt", [])
    mini.mslt(f"{runs}/mslt-2", ["--x"])
    assert commands == [["py", "run_lm_distributed.py", "--config", "configs/bert_mini_table1.txt", "--output_dir",
                         f"{runs}/mslt-2", "--max_steps", "1000", "--should_continue", "--bf16", "--config_name",
                         "configs/bert-mini-4L-128H.json", "--seed", "17", "--grow_scheme", "mslt",
                         "--source_model_path", f"{runs}/small", "--warmup_steps", "0", "--mslt_stage_steps", "100",
                         "100", "--x"]]
    assert f"{runs}/mslt is finished (1000 steps)" in capsys.readouterr().out
    assert mini.job.state()["timings"] == [f"| `{runs}/mslt` | 1000 | reused |", f"| `{runs}/mslt-2` | 1000 | 0 s |"]


def test_a_bad_setting_is_one_line_and_exit_code_2(monkeypatch, capsys):
    monkeypatch.setenv("SMALL_STEPS", "many")
    with pytest.raises(SystemExit) as stop:
        mini_recipe.main(["table1", "begin"])
    assert stop.value.code == 2
    assert capsys.readouterr().err == ("error: SMALL_STEPS='many' is not a whole number of at least 1; set SMALL_STEPS "
                                       "to one, or unset it for its default (1000)\n")
