"""--data_parallel fsdp (ligo/training/sharding.py, sharded_checkpoint.py) in real gloo processes on
the CPU, a grouped-query Llama without dropout (so that runs on different numbers of processes
compute the same thing): two FSDP processes train as one process on the same global batch; a run
killed after a checkpoint resumes to the same metrics and weights bit for bit; a two-process
checkpoint resumes on one process; every checkpoint is a folder AutoModel loads."""

import shutil

import pytest
from conftest import run
from safetensors.torch import load_file
from test_pretraining import _kill_after_checkpoint
from training_helpers import assert_resumed_exactly, lm_command, read_metrics, setup_run
from transformers import AutoModelForCausalLM

KEYS = ["step", "epoch", "train_loss", "eval_loss", "flops", "tokens", "lr"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request, warm_python):
    """One process (per-GPU batch 8), and two FSDP processes of 4 each: the same global batch."""
    root = tmp_path_factory.mktemp("fsdp")
    config, model_config = setup_run(root, request, "llama", logging_steps=2, ckpt_steps=2, max_steps=6,
                                     per_gpu_train_batch_size=8, num_workers=0)
    one = root / "one"
    run(lm_command(config, model_config, one, python=warm_python))
    two = root / "two"
    result = run(lm_command(config, model_config, two, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                            processes=2, python=warm_python))
    return root, config, model_config, one, two, result.stdout


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_two_fsdp_processes_train_as_one_process_on_the_same_global_batch(runs):
    root, _, _, one, two, output = runs
    assert "2 process(es) on cpu" in output
    a, b = read_metrics(one), read_metrics(two)
    assert [m["step"] for m in a] == [m["step"] for m in b] == [0, 2, 4, 6]
    assert [m["tokens"] for m in a] == [m["tokens"] for m in b]
    for x, y in zip(a, b):
        for key in ("train_loss", "eval_loss"):
            if x[key] is not None:
                assert y[key] == pytest.approx(x[key], rel=1e-5, abs=1e-6), (key, x, y)
    final_one, final_two = (weights(run_dir / "checkpoints/checkpoint-00000006") for run_dir in (one, two))
    assert final_one.keys() == final_two.keys()
    assert max((final_one[k] - final_two[k]).abs().max().item() for k in final_one) < 1e-5


def test_an_fsdp_checkpoint_is_a_hugging_face_folder_and_a_sharded_optimizer(runs):
    two = runs[4]
    folder = two / "checkpoints/checkpoint-00000006"
    names = sorted(p.name for p in folder.iterdir())
    assert "model.safetensors" in names and "optimizer.pt" not in names and "sharded" not in names
    assert sorted(p.name for p in (folder / "optimizer").iterdir()) == [".metadata", "__0_0.distcp", "__1_0.distcp"]
    model = AutoModelForCausalLM.from_pretrained(str(folder))
    assert model.config.num_key_value_heads == 2
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()  # tied, saved once
    sums = (folder / "checksums.sha256").read_text()
    assert "optimizer/__1_0.distcp" in sums and "model.safetensors" in sums


def test_a_killed_fsdp_run_resumes_to_the_same_metrics_and_weights(runs, warm_python):
    root, config, model_config, _, two, _ = runs
    resumed = root / "resumed"
    command = lm_command(config, model_config, resumed, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                         processes=2, python=warm_python)
    _kill_after_checkpoint(command, resumed, 2)
    result = run([*command, "--should_continue"])
    assert "resuming from" in result.stdout
    assert_resumed_exactly(two, resumed, 6, KEYS)


def test_a_two_process_fsdp_checkpoint_resumes_on_one_process(runs, warm_python):
    root, config, model_config, _, two, _ = runs
    moved = root / "moved"
    shutil.copytree(two, moved)
    for step in (4, 6):  # back to the checkpoint of step 2
        shutil.rmtree(moved / f"checkpoints/checkpoint-{step:08d}")
    # One process of 8 sequences: the same global batch, so the same data; no dropout, so the same run.
    result = run(lm_command(config, model_config, moved, "--data_parallel", "fsdp", "--should_continue",
                            python=warm_python))
    assert "resharding: checkpoint" in result.stdout and "2 process(es), this run has 1" in result.stdout
    a, b = read_metrics(two), read_metrics(moved)
    assert [m["step"] for m in b] == [0, 2, 4, 6]
    for x, y in zip(a, b):
        assert y["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-5) and y["tokens"] == x["tokens"], (x, y)
    final_two, final_moved = (weights(d / "checkpoints/checkpoint-00000006") for d in (two, moved))
    assert max((final_two[k] - final_moved[k]).abs().max().item() for k in final_two) < 1e-5


def test_resharding_to_another_global_batch_is_refused_in_one_line(runs, warm_python):
    root, config, model_config, _, two, _ = runs
    other = root / "other"
    shutil.copytree(two, other)
    result = run(lm_command(config, model_config, other, "--data_parallel", "fsdp", "--should_continue",
                            "--max_steps", "8", "--per_gpu_train_batch_size", "4", python=warm_python), check=False)
    assert result.returncode != 0
    assert ("trained on batches of 8 sequences (2 process(es)), this run's are 4 (1): keep --per_gpu_train_batch_size "
            "x --gradient_accumulation_steps x processes at 8") in result.stderr
    assert "Traceback" not in result.stderr
