"""--data_parallel fsdp (ligo/training/sharding.py, sharded_checkpoint.py) in real gloo processes on
the CPU, a grouped-query Llama without dropout (so that runs on different numbers of processes
compute the same thing): two FSDP processes train as one process on the same global batch; a run
killed after a checkpoint, then preempted, resumes to the same metrics and weights bit for bit; a
two-process checkpoint resumes on one process; every checkpoint is a folder AutoModel loads; grown,
from-scratch and --model_name_or_path runs fill each rank's shards without building the whole
model; CPU offload trains the same numbers, bf16 mixed precision close to them."""

import json
import math
import random
import shutil
import signal
import time

import pytest
import torch
from conftest import REPO, run
from operator_gradients import batch_and_operator
from safetensors.torch import load_file
from test_preemption import assert_stopped_with_checkpoint, finish, start, wait_for
from test_pretraining import _kill_after_checkpoint
from training_helpers import (
    assert_resumed_exactly,
    grow_command,
    lm_command,
    read_metrics,
    setup_run,
    signal_every_process,
    tiny_config,
)
from transformers import AutoModelForCausalLM

from ligo.growth.grown_model import GrownModel, operator_step_flops
from ligo.growth.operator import LiGOOperator
from ligo.models.families import family_of
from ligo.models.loading import load_config, new_model, shard_readable
from ligo.tasks.grow import main as grow
from ligo.training.fault_injection import VARIABLE
from ligo.training.layer_drop import LayerDrop
from ligo.training.preemption import MARKER

KEYS = ["step", "epoch", "train_loss", "eval_loss", "flops", "tokens", "lr"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, request, warm_python):
    """One process (per-GPU batch 8), and two FSDP processes of 4 each: the same global batch, from
    the same initial weights (an FSDP run from scratch initialises each shard on its own rank)."""
    root = tmp_path_factory.mktemp("fsdp")
    config, model_config = setup_run(root, request, "llama", logging_steps=2, ckpt_steps=2, max_steps=6,
                                     per_gpu_train_batch_size=8, num_workers=0)
    new_model("llama", load_config("llama", str(model_config)), seed=95).save_pretrained(str(root / "init"))
    with config.open("a") as f:
        f.write(f"model_name_or_path = {root / 'init'}\n")
    one = root / "one"
    run(lm_command(config, model_config, one, python=warm_python))
    two = root / "two"
    result = run(lm_command(config, model_config, two, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                            processes=2, python=warm_python, warm_agent=True))
    return root, config, model_config, one, two, result.stdout, warm_python


def weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_two_fsdp_processes_train_as_one_process_on_the_same_global_batch(runs):
    root, _, _, one, two, output, _ = runs
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


def test_a_two_process_fsdp_checkpoint_resumes_on_one_process(runs):
    root, config, model_config, _, two, _, warm_python = runs
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


def test_resharding_to_another_global_batch_is_refused_in_one_line(runs):
    root, config, model_config, _, two, _, warm_python = runs
    other = root / "other"
    shutil.copytree(two, other)
    result = run(lm_command(config, model_config, other, "--data_parallel", "fsdp", "--should_continue",
                            "--max_steps", "8", "--per_gpu_train_batch_size", "4", python=warm_python), check=False)
    assert result.returncode != 0
    assert ("trained on batches of 8 sequences (2 process(es)), this run's are 4 (1): keep --per_gpu_train_batch_size "
            "x --gradient_accumulation_steps x processes at 8") in result.stderr
    assert "Traceback" not in result.stderr


def test_killed_then_preempted_fsdp_run_resumes_to_the_same_metrics_and_weights(runs):
    """SIGKILL after the checkpoint of step 2, then SIGTERM at a random moment of the resumed run
    (a preemption: a checkpoint of its step, preempted.json), then the rest: the metrics and final
    weights of the run never stopped, bit for bit."""
    root, config, model_config, _, two, _, python = runs
    out = root / "stopped"
    command = lm_command(config, model_config, out, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                         "--should_continue", processes=2, python=python)
    _kill_after_checkpoint(command, out, 2)
    log = root / "preempted.log"
    process = start(command, log)
    wait_for(process, log, "resuming from")
    time.sleep(random.Random(time.time_ns()).uniform(0.0, 0.5))
    signal_every_process(process, signal.SIGTERM)
    finish(process, log)
    if (out / MARKER).exists():  # else the signal came after the last step
        step = assert_stopped_with_checkpoint(out, log.read_text())
        assert (out / f"checkpoints/checkpoint-{step:08d}/model.safetensors").is_file()
        run(command)
    assert_resumed_exactly(two, out, 6, KEYS)


@pytest.mark.parametrize("scheme, extra", [("ligo", []), ("bert2bert_aki", ["--grow_noise", "0.1"]),
                                           ("stackbert_direct_copy", [])])
def test_a_grown_run_under_fsdp_starts_from_the_grown_weights(scheme, extra, runs, tmp_path):
    """The weights a scheme grows, a layer at a time on every rank (each keeping its shards), are
    those ``python -m ligo.grow`` writes from the same small model (the one-process run of 6
    steps): exactly, LiGO's to float32 rounding; the random draws too (Net2Net's noise, direct
    copy's new units: each layer from its own stream). LiGO's operator is itself trained under
    FSDP (grown per layer, its default), as in one process."""
    root, config, model_config, one, _, _, python = runs
    large = tiny_config(tmp_path / "large.json", "llama", json.loads(model_config.read_text())["vocab_size"],
                        layers=4, hidden=128, eos_token_id=2, bos_token_id=1)
    if scheme == "ligo":
        operator = ["--source_model_path", one, "--tune_width", "--tune_depth", "--max_steps", "2"]
        # One process grows per layer too (--operator_growth per_layer, not its default): the flag
        # under DDP; per-layer against whole growth is the gradient test below.
        run(grow_command(config, large, tmp_path / "operator-one", *operator, "--operator_growth", "per_layer",
                         python=python))
        run(grow_command(config, large, tmp_path / "operator", *operator, "--data_parallel", "fsdp",
                         "--per_gpu_train_batch_size", "4", processes=2, python=python, warm_agent=True))
        # Each rank grows the model for its half of the batch: one more growth a step than one process.
        growth = operator_step_flops(LiGOOperator.load(tmp_path / "operator/checkpoints/checkpoint-00000000"))
        for x, y in zip(read_metrics(tmp_path / "operator-one"), read_metrics(tmp_path / "operator"), strict=True):
            assert y["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-5), (x, y)
            assert y["flops"] == x["flops"] + x["step"] * growth and y["tokens"] == x["tokens"], (x, y)
        a, b = (load_file(str(d / "checkpoints/checkpoint-00000002/ligo_operator.safetensors"))
                for d in (tmp_path / "operator-one", tmp_path / "operator"))
        assert a.keys() == b.keys() and max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
        extra = ["--pretrained_ligo_path", str(tmp_path / "operator")]
    out = tmp_path / "grown"
    run(lm_command(config, large, out, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4", "--grow_scheme",
                   scheme, "--source_model_path", one, "--max_steps", "1", *extra, processes=2,
                   python=python, warm_agent=True))
    grow(["--model_type", "llama", "--config_name", str(large), "--grow_scheme", scheme, "--source_model_path",
          str(one), "--output_dir", str(tmp_path / "reference"), "--seed", "95", *extra])
    grown, reference = (load_file(str(f)) for f in (out / "checkpoints/checkpoint-00000000/model.safetensors",
                                                   tmp_path / "reference/model.safetensors"))
    assert grown.keys() == reference.keys()
    if scheme == "ligo":  # grown a layer at a time under FSDP: RMSNorm weights a last bit apart
        assert max((grown[k] - reference[k]).abs().max().item() for k in grown) < 1e-6
    else:
        assert all(torch.equal(grown[k], reference[k]) for k in grown)


def test_operator_gradients_under_fsdp_grown_per_layer_equal_one_process_grown_whole(tmp_path, warm_python):
    """An operator step with the operator sharded over two gloo processes and the large model grown
    layer by layer (recomputed in the backward), each process on half the batch: every gradient of
    the operator equals that of one process growing the whole model on the whole batch."""
    families = ["llama", "bert"]  # grouped-query heads; biases, LayerNorms and position embeddings
    run([warm_python, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--no-python", warm_python,
         str(REPO / "tests/fsdp_operator_gradients.py"), str(tmp_path), *families])
    for family in families:
        operator, large_config, batch = batch_and_operator(family, tmp_path)
        family_of(family).run_batch(GrownModel(operator, large_config).eval(), batch).loss.backward()
        expected = {name: p.grad for name, p in operator.named_parameters() if p.grad is not None}
        got = load_file(str(tmp_path / f"{family}.safetensors"))
        assert got.keys() == expected.keys() and len(got) > 40
        for name, gradient in expected.items():
            # A key bias's gradient is zero but for rounding (softmax ignores a constant): 1e-11 either way.
            difference, size = (got[name] - gradient).norm().item(), gradient.norm().item()
            assert difference <= 1e-5 * size or size < 1e-8 and difference < 1e-9, (family, name, difference, size)


def test_an_fsdp_run_from_scratch_initialises_each_shard_on_its_rank(runs, tmp_path):
    """No rank builds the whole model: each initialises its shards (Hugging Face's initialisation,
    seeded by --seed and the rank), so the halves of a matrix differ; the model starts near the
    uniform loss."""
    root, config, model_config, _, _, _, python = runs
    scratch_config = tmp_path / "scratch.txt"
    scratch_config.write_text("".join(line + "\n" for line in config.read_text().splitlines()
                                      if not line.startswith("model_name_or_path")))
    out = tmp_path / "scratch"
    run(lm_command(scratch_config, model_config, out, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                   "--max_steps", "2", processes=2, python=python, warm_agent=True))
    start = weights(out / "checkpoints/checkpoint-00000000")
    vocab = json.loads(model_config.read_text())["vocab_size"]
    assert read_metrics(out)[0]["eval_loss"] == pytest.approx(math.log(vocab), abs=0.5)
    for name in ("model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"):
        halves = start[name].chunk(2)
        assert not torch.equal(halves[0][: len(halves[1])], halves[1])  # each rank drew its own
        assert start[name].std().item() == pytest.approx(0.02, rel=0.2)  # the config's initializer_range
    assert torch.equal(start["model.norm.weight"], torch.ones_like(start["model.norm.weight"]))


def test_layer_dropping_and_knowledge_inheritance_train_under_fsdp_as_in_one_process(runs, tmp_path):
    """Both at once: every rank drops the same layers in a step (the plan is seeded by the step);
    KI's teacher (the one-process run's model) is whole on every rank, its student sharded."""
    root, config, model_config, one, _, _, python = runs
    # gamma 1: at seed 95 steps 1-4 run layers [0 1 dropped], [1 dropped], [both], [none]
    flags = ["--layer_drop", "--layer_drop_rate", "0.5", "--layer_drop_gamma", "1", "--grow_scheme", "ki",
             "--source_model_path", str(one), "--max_steps", "4"]
    alone, sharded = tmp_path / "one", tmp_path / "two"
    run(lm_command(config, model_config, alone, *flags, python=python))
    run(lm_command(config, model_config, sharded, *flags, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                   processes=2, python=python, warm_agent=True))
    assert [LayerDrop(0.5, False, 1.0, 95).plan(step, 2) for step in range(1, 5)] == [
        [False, True], [True, False], [True, True], [False, False]]
    for x, y in zip(read_metrics(alone), read_metrics(sharded), strict=True):
        assert y["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-5) and y["flops"] == x["flops"], (x, y)
    a, b = (weights(d / "checkpoints/checkpoint-00000004") for d in (alone, sharded))
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5


def test_mslt_trains_under_fsdp_as_in_one_process(runs, tmp_path):
    """MSLT's stages under FSDP: the stacked start grown a layer at a time (the first stage's
    copies with it), the frozen layers' shards get no gradient, the next stage's copy of the top
    layers is made shard by shard, and the run matches one process step for step; killed in the
    first stage, it resumes into the second exactly."""
    root, config, model_config, one, _, _, python = runs
    large = tiny_config(tmp_path / "large.json", "llama", json.loads(model_config.read_text())["vocab_size"],
                        layers=4, hidden=128, eos_token_id=2, bos_token_id=1)
    flags = ["--grow_scheme", "mslt", "--source_model_path", str(one), "--mslt_stages", "3", "4",
             "--mslt_stage_steps", "2", "1", "--max_steps", "4"]
    alone, sharded = tmp_path / "one", tmp_path / "two"
    run(lm_command(config, large, alone, *flags, python=python))
    run(lm_command(config, large, sharded, *flags, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                   processes=2, python=python, warm_agent=True))
    for x, y in zip(read_metrics(alone), read_metrics(sharded), strict=True):
        assert y["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-5) and y["flops"] == x["flops"], (x, y)
    for step in (2, 4):  # the end of the first stage (layer 3 still the copy) and of the run
        a, b = (weights(d / f"checkpoints/checkpoint-{step:08d}") for d in (alone, sharded))
        assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-5
    resumed = tmp_path / "resumed"
    command = lm_command(config, large, resumed, *flags, "--data_parallel", "fsdp", "--per_gpu_train_batch_size",
                         "4", processes=2, python=python)
    assert run(command, env={VARIABLE: "kill:train_step:3:1"}, check=False).returncode != 0
    run([*command, "--should_continue"])
    assert_resumed_exactly(sharded, resumed, 4, KEYS)
    start, stage_one = (weights(sharded / f"checkpoints/checkpoint-{step:08d}") for step in (0, 2))
    assert torch.equal(start["model.embed_tokens.weight"], stage_one["model.embed_tokens.weight"])  # frozen
    assert not torch.equal(start["model.layers.2.mlp.up_proj.weight"], stage_one["model.layers.2.mlp.up_proj.weight"])


def test_an_fsdp_run_reads_only_its_slices_of_a_model_folder_users_bring(runs, tmp_path):
    """--model_name_or_path under FSDP: a folder holding exactly the model's tensors (here saved
    in bfloat16) is read a rank's slices at a time through DCP, upcast as read_model upcasts;
    another class of the family (no head) is read whole first, as before."""
    root, config, model_config, _, _, _, python = runs
    llama_config = load_config("llama", str(model_config))
    source = AutoModelForCausalLM.from_pretrained(str(root / "init")).to(torch.bfloat16)
    source.save_pretrained(str(tmp_path / "bf16"))
    assert shard_readable("llama", str(tmp_path / "bf16"), llama_config) == tmp_path / "bf16"
    source.model.save_pretrained(str(tmp_path / "base"))  # LlamaModel: no lm_head
    assert shard_readable("llama", str(tmp_path / "base"), llama_config) is None
    out = tmp_path / "out"
    run(lm_command(config, model_config, out, "--data_parallel", "fsdp", "--per_gpu_train_batch_size", "4",
                   "--model_name_or_path", tmp_path / "bf16", "--max_steps", "1", processes=2, python=python,
                   warm_agent=True))
    start, saved = weights(out / "checkpoints/checkpoint-00000000"), load_file(str(tmp_path / "bf16/model.safetensors"))
    assert start.keys() == saved.keys() and all(torch.equal(start[k], saved[k].float()) for k in saved)


def test_cpu_offload_and_recomputation_train_the_same_and_bf16_close_with_float32_state(runs, tmp_path):
    """--fsdp_cpu_offload (FSDP's CPUOffloadPolicy: shards and their optimizer step on the host)
    and --gradient_checkpointing (each layer recomputed in the backward, inside FSDP's gathering
    of it) train the numbers of the run without them; --bf16 (FSDP's MixedPrecisionPolicy:
    bfloat16 compute, float32 gradient reduction and optimizer state) trains close to them, and
    its checkpoints hold float32 weights."""
    root, config, model_config, _, two, _, python = runs
    runs_of = {}
    for name, flags in {"offload": ["--fsdp_cpu_offload"], "recompute": ["--gradient_checkpointing"],
                        "bf16": ["--bf16"]}.items():
        runs_of[name] = tmp_path / name
        run(lm_command(config, model_config, runs_of[name], "--data_parallel", "fsdp", "--per_gpu_train_batch_size",
                       "4", *flags, processes=2, python=python, warm_agent=True))
    expected = read_metrics(two)
    for x, y, z in zip(expected, read_metrics(runs_of["offload"]), read_metrics(runs_of["recompute"]), strict=True):
        assert y["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-6), (x, y)
        assert z["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-6) and z["flops"] == x["flops"], (x, z)
    for x, y in zip(expected, read_metrics(runs_of["bf16"]), strict=True):
        assert y["eval_loss"] == pytest.approx(x["eval_loss"], rel=1e-2), (x, y)
    final = "checkpoints/checkpoint-00000006"
    a = weights(two / final)
    for name in ("offload", "recompute"):
        b = weights(runs_of[name] / final)
        assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6, name
    assert all(t.dtype == torch.float32 for t in weights(runs_of["bf16"] / final).values())
