"""ViT / DeiT (the paper's Table 2) end to end on real images, scikit-learn's handwritten digits as
an ImageFolder tree: growth of a ViT by every method (Net2Net keeps the logits), image
classification through the one training loop in two gloo processes with exact resume after
SIGKILL, evaluation independent of the number of processes, the LiGO operator trained by the
classification loss, the grown model's first evaluation equal to the operator's last, the other
methods (bert2BERT, MSLT, KI, layer dropping), the miniature and the paper's recipe at tiny
settings, and the inputs an image run refuses before its first step."""

import ast
import json
import math
import shutil
import sys

import pytest
import torch
from conftest import run
from test_pretraining import _kill_after_checkpoint
from training_helpers import assert_resumed_exactly, lm_command, read_metrics, tensors_equal

from ligo.growth.baselines import BASELINES, grow_baseline
from ligo.growth.grown_model import GrownModel, materialize
from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models import families
from ligo.models.loading import load_config, new_model

KEYS = ["step", "epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "flops", "images", "lr"]


def vit_config(path, layers=2, hidden=32, heads=2, classes=10, image_size=16, patch_size=4):
    config = {"model_type": "vit", "architectures": ["ViTForImageClassification"], "hidden_size": hidden,
              "num_hidden_layers": layers, "num_attention_heads": heads, "intermediate_size": 4 * hidden,
              "image_size": image_size, "patch_size": patch_size, "num_channels": 3, "num_labels": classes,
              "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "layer_norm_eps": 1e-6}
    path.write_text(json.dumps(config))
    return path


def recipe(path, data_path, **overrides):
    """A --config file as users write them: DeiT's recipe, tiny."""
    values = {"model_type": "vit", "data_path": data_path, "do_train": "true", "do_eval": "true", "shuffle": "true",
              "per_gpu_train_batch_size": 16, "per_gpu_eval_batch_size": 64, "max_steps": 8, "learning_rate": "2e-3",
              "weight_decay": 0.05, "scheduler_type": "cosine", "warmup_steps": 2, "logging_steps": 2, "ckpt_steps": 3,
              "num_workers": 1, "crop_scale_min": 0.5, "hflip": 0}
    values.update(overrides)
    path.write_text("".join(f"{key} = {value}\n" for key, value in values.items()))
    return path


def image_command(config_file, model_config, output_dir, *extra, processes=1, python=sys.executable,
                  script="run_image_distributed.py", warm_agent=False):
    return lm_command(config_file, model_config, output_dir, *extra, processes=processes, python=python, script=script,
                      warm_agent=warm_agent)


# --- growth, in process -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_vit(tmp_path_factory):
    root = tmp_path_factory.mktemp("vit-configs")
    configs = {name: load_config("vit", str(vit_config(root / f"{name}.json", **sizes))) for name, sizes in {
        "small": {}, "wide": {"hidden": 64, "heads": 4}, "deep": {"layers": 4},
        "large": {"layers": 4, "hidden": 64, "heads": 4}}.items()}
    model = new_model("vit", configs["small"], seed=3).eval()
    with torch.no_grad():  # a trained model's LayerNorms are not at their initial ones and zeros
        for name, parameter in model.named_parameters():
            if "layernorm" in name:
                parameter.add_(torch.randn_like(parameter) * 0.2)
    pixels = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    return model, configs, pixels


def test_net2net_keeps_the_logits_of_a_vit(small_vit):
    model, configs, pixels = small_vit
    grown = materialize(grow_baseline("net2net", model.state_dict(), configs["small"], configs["wide"], seed=0),
                        configs["wide"], seed=0).eval()
    with torch.no_grad():
        before, after = model(pixel_values=pixels).logits, grown(pixel_values=pixels).logits
    difference = (after - before).abs().max().item()
    print(f"Net2Net ViT 2L-32H -> 2L-64H: max logit difference {difference:.3g}")
    assert difference < 1e-5
    # The patch embedding is widened in its output channels only (pixels are never widened).
    assert grown.vit.embeddings.patch_embeddings.projection.weight.shape == (64, 3, 4, 4)
    assert grown.classifier.weight.shape == (10, 64)


@pytest.mark.parametrize("scheme", BASELINES)
def test_every_baseline_grows_a_vit(small_vit, scheme):
    model, configs, pixels = small_vit
    target = {"net2net": "wide", "stackbert": "deep", "interpolation": "deep"}.get(scheme, "large")
    config = configs[target]
    grown = materialize(grow_baseline(scheme, model.state_dict(), configs["small"], config, seed=0), config, seed=0)
    with torch.no_grad():
        logits = grown.eval()(pixel_values=pixels).logits
    assert logits.shape == (4, 10) and torch.isfinite(logits).all()
    if scheme in ("stackbert", "interpolation"):  # depth only: the embeddings and head are the small model's
        small_state = model.state_dict()
        for name in ("vit.embeddings.cls_token", "vit.embeddings.patch_embeddings.projection.weight",
                     "classifier.weight"):
            assert torch.equal(grown.state_dict()[name], small_state[name])


def test_the_ligo_operator_grows_a_vit_through_the_patch_convolution(small_vit):
    model, configs, pixels = small_vit
    operator = LiGOOperator(model.state_dict(), configs["small"], configs["large"], LiGOOptions(), seed=1)
    grown = GrownModel(operator, configs["large"]).eval()
    logits = grown(pixel_values=pixels).logits
    logits.sum().backward()  # the classification loss trains the width blocks, the patch embedding's included
    assert operator.width["hidden"].grad is not None and operator.width["hidden"].grad.abs().sum() > 0
    materialized = materialize(operator(), configs["large"], seed=0).eval()
    with torch.no_grad():
        assert torch.allclose(materialized(pixel_values=pixels).logits, logits, atol=1e-6)


def test_vit_flops_are_the_familys_and_count_the_cls_token(small_vit):
    _, configs, _ = small_vit
    config = configs["small"]
    assert families.train_flops(config, 17) == 3 * families.forward_flops(config, 17)
    with pytest.raises(ValueError, match="17"):
        families.forward_flops(config, 16)  # 16 patches and the CLS token: 17 tokens an image


# --- runs through the entry scripts -------------------------------------------------------------


def test_two_process_image_run_trains_and_resumes_after_sigkill_exactly(tmp_path, digits_dir, warm_python):
    config, model = recipe(tmp_path / "recipe.txt", digits_dir), vit_config(tmp_path / "vit.json")
    whole, resumed = tmp_path / "whole", tmp_path / "resumed"
    result = run(image_command(config, model, whole, processes=2, python=warm_python, warm_agent=True))
    assert "vit 2L-32H" in result.stdout
    metrics = read_metrics(whole)
    assert [m["step"] for m in metrics] == [0, 2, 4, 6, 8]
    assert metrics[0]["eval_loss"] == pytest.approx(math.log(10), abs=0.3)  # a random model: about uniform
    assert metrics[-1]["images"] == 8 * 2 * 16 and metrics[-1]["eval_images"] == 360
    assert all(0 <= m["eval_top1"] <= m["eval_top5"] <= 100 for m in metrics)
    # FLOPs: the analytical count of 17 tokens an image, 3x the forward for forward and backward.
    large = load_config("vit", str(model))
    assert metrics[-1]["flops"] == 8 * 2 * 16 * families.train_flops(large, 17)
    checkpoint = whole / "checkpoints/checkpoint-00000008"
    assert (checkpoint / "preprocessor_config.json").is_file()  # AutoImageProcessor prepares images as evaluation
    _kill_after_checkpoint(image_command(config, model, resumed, processes=2, python=warm_python), resumed, 3)
    result = run(image_command(config, model, resumed, "--should_continue",
                               processes=2, python=warm_python, warm_agent=True))
    assert "resuming from" in result.stdout
    assert_resumed_exactly(whole, resumed, 8, KEYS)


def test_evaluation_scores_every_image_once_for_one_and_two_processes(tmp_path, digits_dir, warm_python):
    config = recipe(tmp_path / "recipe.txt", digits_dir, do_train="false")
    model = vit_config(tmp_path / "vit.json")
    lines = []
    for processes in (1, 2):
        result = run(image_command(config, model, tmp_path / f"p{processes}", processes=processes, python=warm_python))
        line = next(line for line in result.stdout.splitlines() if line.startswith("evaluation:"))
        lines.append(ast.literal_eval(line.partition(":")[2].strip()))
    one, two = lines
    assert one["eval_images"] == two["eval_images"] == 360
    assert one["eval_top1"] == two["eval_top1"] and one["eval_top5"] == two["eval_top5"]  # counts: exact
    assert one["eval_loss"] == pytest.approx(two["eval_loss"], rel=1e-6)  # sums in another order


@pytest.fixture(scope="module")
def vit_growth(tmp_path_factory, digits_dir, warm_python):
    """A small ViT pretrained, a LiGO operator trained from it in two gloo processes by the
    classification loss, the grown model trained on, and scratch beside it."""
    root = tmp_path_factory.mktemp("vit-growth")
    small, large = vit_config(root / "small.json"), vit_config(root / "large.json", layers=4, hidden=64, heads=4)
    # DeiT's recipe without its strongest augmentations, so that 60 steps learn the digits (the
    # two-process test above runs the whole recipe).
    light = dict(rand_augment_ops=0, mixup=0, cutmix=0, reprob=0)
    pretrain = recipe(root / "pretrain.txt", digits_dir, max_steps=60, logging_steps=30, ckpt_steps=60,
                      learning_rate="3e-3", warmup_steps=4, per_gpu_train_batch_size=32, **light)
    operator = recipe(root / "operator.txt", digits_dir, max_steps=6, logging_steps=3, ckpt_steps=3,
                      learning_rate="1e-3", warmup_steps=0, **light)
    grown = recipe(root / "grown.txt", digits_dir, max_steps=3, logging_steps=3, ckpt_steps=3, warmup_steps=0,
                   learning_rate="2e-4", **light)
    run(image_command(pretrain, small, root / "small", python=warm_python))
    run(image_command(operator, large, root / "ligo", "--tune_width", "--tune_depth", "--source_model_path",
                      root / "small", "--fuse_init_scheme", "stackbert_noisy", "rand", "--seed", 7, processes=2,
                      python=warm_python, script="run_grow_distributed.py", warm_agent=True))
    run(image_command(grown, large, root / "grown", "--grow_scheme", "ligo", "--pretrained_ligo_path", root / "ligo",
                      python=warm_python))
    run(image_command(grown, large, root / "scratch", python=warm_python))
    return root, grown, large


def test_the_grown_vit_starts_where_its_operator_ended(vit_growth):
    root, _, _ = vit_growth
    small = read_metrics(root / "small")
    # 60 steps: a ViT's loss plateaus at first (~100 steps at this size) but has begun to fall
    assert small[-1]["eval_loss"] < small[0]["eval_loss"] - 0.02
    operator = read_metrics(root / "ligo")
    assert [m["step"] for m in operator] == [0, 3, 6]
    grown = read_metrics(root / "grown")[0]
    assert grown["eval_loss"] == pytest.approx(operator[-1]["eval_loss"], rel=1e-5)
    assert grown["eval_top1"] == pytest.approx(operator[-1]["eval_top1"], abs=1e-9)
    assert grown["eval_loss"] < read_metrics(root / "scratch")[0]["eval_loss"]


@pytest.mark.parametrize("method", [["--grow_scheme", "bert2bert_aki"], ["--grow_scheme", "mslt", "--mslt_stage_steps",
                                    "1", "1"], ["--grow_scheme", "ki"], ["--layer_drop", "--layer_drop_rate", "0.5"]],
                         ids=["bert2bert_aki", "mslt", "ki", "layer_drop"])
def test_the_other_methods_train_a_vit(vit_growth, method, tmp_path, warm_python):
    root, grown, large = vit_growth
    source = ["--source_model_path", root / "small"] if "--grow_scheme" in method else []
    run(image_command(grown, large, tmp_path / "out", *method, *source, python=warm_python))
    metrics = read_metrics(tmp_path / "out")
    assert metrics[-1]["step"] == 3 and math.isfinite(metrics[-1]["eval_loss"]) and metrics[-1]["flops"] > 0
    if method[1] == "ki":  # the teacher's forward passes are counted too
        scratch = read_metrics(root / "scratch")
        assert metrics[-1]["flops"] > scratch[-1]["flops"]


def test_the_grow_command_writes_a_vit_that_loads_as_an_image_classifier(vit_growth, tmp_path, warm_python):
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    root, _, large = vit_growth
    out = tmp_path / "grown"
    run([warm_python, "-m", "ligo.grow", "--model_type", "vit", "--config_name", large, "--grow_scheme", "ligo",
         "--pretrained_ligo_path", root / "ligo", "--output_dir", out])
    model = AutoModelForImageClassification.from_pretrained(str(out))
    assert type(model).__name__ == "ViTForImageClassification" and model.config.num_hidden_layers == 4
    assert tensors_equal(root / "grown/checkpoints/checkpoint-00000000/model.safetensors", out / "model.safetensors")
    # the operator run's image processor travels with the grown model, as a tokenizer does
    processor = AutoImageProcessor.from_pretrained(str(out))
    assert processor.to_dict() == AutoImageProcessor.from_pretrained(
        str(root / "ligo/checkpoints/checkpoint-00000006")).to_dict()


# --- bad inputs: refused in one line before the first step ------------------------------------------


def _refused(command, out, message):
    result = run(command, check=False)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (out / "metrics.jsonl").exists()


def test_bad_image_folders_are_refused_before_training(tmp_path, digits_dir, warm_python):
    model = vit_config(tmp_path / "vit.json")
    out = tmp_path / "out"
    data = tmp_path / "data"
    shutil.copytree(digits_dir, data)
    config = recipe(tmp_path / "recipe.txt", data)
    # A missing folder.
    _refused(image_command(config, model, out, "--data_path", tmp_path / "nowhere", python=warm_python), out,
             "does not exist")
    # A class folder with no image.
    (data / "train" / "z-empty").mkdir()
    _refused(image_command(config, model, out, python=warm_python), out, "hold no image")
    (data / "train" / "z-empty").rmdir()
    # A corrupt image: decoded once before training, and named.
    victim = next((data / "val" / "3").iterdir())
    victim.write_bytes(victim.read_bytes()[:40])
    _refused(image_command(config, model, out, python=warm_python), out, str(victim))
    victim.unlink()
    # A class count that differs from the model's.
    eleven = vit_config(tmp_path / "vit11.json", classes=11)
    _refused(image_command(config, eleven, out, python=warm_python), out, "has 10 classes but the model")
    # Text-only flags, and the wrong entry script.
    _refused(image_command(config, model, out, "--mlm", python=warm_python), out, "for language models only")
    _refused(image_command(config, model, out, "--token_drop", "--token_drop_rate", "0.5", python=warm_python), out,
             "for language models only")
    _refused(image_command(config, model, out, python=warm_python, script="run_lm_distributed.py"), out,
             "run_image_distributed.py")


# --- the scripts: the miniature and the paper's recipe, end to end at tiny settings --------------


def test_mini_vit_trains_every_row_and_reports_accuracy(tmp_path, digits_dir, warm_python):
    env = {"PYTHON": str(warm_python), "MINI_VIT_DATA": str(digits_dir),
           "MINI_CONFIG": str(recipe(tmp_path / "mini.txt", digits_dir, logging_steps=4, ckpt_steps=4)),
           "MINI_SMALL_CONFIG": str(vit_config(tmp_path / "small.json")),
           "MINI_LARGE_CONFIG": str(vit_config(tmp_path / "large.json", layers=4, hidden=64, heads=4)),
           "SMALL_STEPS": "4", "LARGE_STEPS": "8", "MINI_RUNS": str(tmp_path / "runs"),
           "MINI_RESULTS": str(tmp_path / "results")}
    output = run(["bash", "scripts/mini_vit.sh"], env=env).stdout
    assert "1437 training and 360 validation images of 10 classes" in output  # the tree was already there
    table = (tmp_path / "results/savings.md").read_text()
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert {"Scratch", "StackBERT", "MSLT", "KI", "bert2BERT", "LiGO"} <= rows, table
    assert "top-1 accuracy" in table and (tmp_path / "results/accuracy_vs_flops.png").is_file()
    assert "make mini-vit" in (tmp_path / "results/RUN.md").read_text()
    assert read_metrics(tmp_path / "runs/ligo")[-1]["step"] == 8


def test_deit_s_to_b_recipe_trains_every_row_of_table2(tmp_path, digits_dir, warm_python):
    configs = tmp_path / "configs"
    configs.mkdir()
    vit_config(configs / "vit-12L-384H.json")  # DeiT-S -> DeiT-B is width only: 2L-32H -> 2L-64H here
    vit_config(configs / "vit-12L-768H.json", hidden=64, heads=4)
    env = {"PYTHON": str(warm_python), "PAPER_CONFIG": str(recipe(tmp_path / "deit.txt", digits_dir)),
           "MODEL_CONFIGS": str(configs), "DATA_PATH": str(digits_dir), "RUNS": str(tmp_path / "runs"),
           "RESULTS": str(tmp_path / "results"), "STEPS": "4", "WARMUP_STEPS": "1", "GLOBAL_BATCH": "16",
           "PER_GPU": "8", "GPUS": "1", "OPERATOR_STEPS": "1"}
    output = run(["bash", "scripts/paper/deit_s_to_b.sh"], env=env).stdout
    assert "[paper] vit, 1 GPU(s) x 8 sequences x 2 accumulation = 16 a step, 4 steps" in output
    table = (tmp_path / "results/deit-s-to-b/savings.md").read_text()
    rows = {line.split("|")[1].strip() for line in table.splitlines() if line.startswith("| ")}
    assert {"Scratch", "StackBERT", "KI", "bert2BERT", "Net2Net", "LiGO"} <= rows, table
    assert "top-1 accuracy 81.00%" in table  # the paper's target
    args = json.loads((tmp_path / "runs/deit-b-ligo/checkpoints/checkpoint-00000004/training_args.json").read_text())
    assert args["model_type"] == "vit" and args["grow_scheme"] == "ligo" and args["warmup_steps"] == 1
    assert args["gradient_accumulation_steps"] == 2 and args["data_path"] == str(digits_dir)
