"""Options that pay on GPU nodes, checked on CPU: torch.compile, DataLoader prefetching and
pinning, fused AdamW and SDPA attention. They may change how fast a run goes, not what it
trains on, what it computes (beyond rounding) or what it saves."""

import shlex

import pytest
import torch
from conftest import run
from safetensors.torch import load_file
from torch._dynamo.utils import counters
from training_helpers import comparable_metrics, lm_command, read_metrics, setup_run, tiny_config

from ligo.data.dataset import BlockDataset
from ligo.data.masking import SeededMLMCollator
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from ligo.finetune.glue.model import load_classifier
from ligo.finetune.glue.tasks import TASKS
from ligo.models.loading import load_config, load_model, new_model
from ligo.tasks.arguments import parse_args
from ligo.tasks.lm import build_lm_task
from ligo.tasks.operator import build_operator_task
from ligo.training import sampling
from ligo.training.distributed import Context
from ligo.training.optim import build_optimizer, parameter_groups
from ligo.training.trainer import compiled

FINAL = "checkpoints/checkpoint-00000004"


@pytest.fixture(scope="module")
def eager_run(tmp_path_factory, request, warm_python):
    """A short run with every option at its default: what the options must reproduce (every run
    here on the warm interpreter, so on the same number of threads)."""
    root = tmp_path_factory.mktemp("options")
    config, model_config = setup_run(root, request, "bert", max_steps=4, logging_steps=2, ckpt_steps=4)
    run(lm_command(config, model_config, root / "eager", python=warm_python))
    return config, model_config, root / "eager", warm_python


def test_torch_compile_trains_as_eager_and_saves_plain_weights(eager_run, tmp_path):
    """With backend aot_eager: dynamo and AOTAutograd capture the forward and backward graphs as for
    inductor, the wrapper and checkpoint paths are the same, but it compiles in seconds (inductor
    took ~50 s for this model on this 2-core CPU, cold) and runs torch's own kernels, dropout
    included, so the losses must match eager ones closely."""
    config, model_config, eager, python = eager_run
    out = tmp_path / "compiled"
    run(lm_command(config, model_config, out, "--torch_compile", "--torch_compile_backend", "aot_eager",
                   python=python))
    expected, got = read_metrics(eager), read_metrics(out)
    assert [m["step"] for m in got] == [0, 2, 4]
    for key in ("train_loss", "eval_loss"):  # step 0 has no train loss
        assert [m[key] for m in got[1:]] == pytest.approx([m[key] for m in expected[1:]], rel=1e-5, abs=1e-6)
    assert got[0]["eval_loss"] == expected[0]["eval_loss"]
    weights = load_file(str(out / FINAL / "model.safetensors"))
    assert weights.keys() == load_file(str(eager / FINAL / "model.safetensors")).keys()
    assert not [key for key in weights if "_orig_mod" in key]
    model = load_model("bert", str(out / FINAL))  # as resume and growth load it
    assert torch.equal(model.state_dict()["bert.embeddings.word_embeddings.weight"],
                       weights["bert.embeddings.word_embeddings.weight"])


def test_torch_compile_trains_the_ligo_operator_as_eager(tmp_path, bert_tokenized, bert_tokenizer_dir):
    """One step of the grown model run_grow_distributed.py trains (the operator's output run through
    the large model by functional_call), compiled as the trainer compiles it, backend aot_eager
    (see above): the same loss and operator gradients, and a checkpoint with the plain names."""
    tokenizer = load_tokenizer(str(bert_tokenizer_dir))
    small_json = tiny_config(tmp_path / "small.json", "bert", len(tokenizer))
    large_json = tiny_config(tmp_path / "large.json", "bert", len(tokenizer), layers=4, hidden=128)
    new_model("bert", load_config("bert", str(small_json)), seed=0).save_pretrained(str(tmp_path / "small"))
    args = parse_args(shlex.split(
        f"--model_type bert --mlm --do_train --train_data_file t --tokenizer_name t --config_name {large_json} "
        f"--output_dir o --tune_depth --tune_width --source_model_path {tmp_path / 'small'} --torch_compile "
        "--torch_compile_backend aot_eager"))
    task = build_operator_task(args, load_config("bert", str(large_json)), None)
    data = BlockDataset(bert_tokenized / "en.train.raw", tokenizer_tag(str(bert_tokenizer_dir)), tokenizer, 62, False)
    batch = SeededMLMCollator(tokenizer, 0.15, seed=3)([data[key] for key in range(8)])

    def step(model):
        torch.manual_seed(0)  # the same dropout
        task.operator.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        loss.backward()
        return loss.detach(), {n: p.grad.clone() for n, p in task.operator.named_parameters() if p.grad is not None}

    task.module.train()
    eager_loss, eager_grads = step(task.module)
    graphs = counters["stats"]["unique_graphs"]
    loss, grads = step(compiled(task.module, args))
    assert counters["stats"]["unique_graphs"] > graphs  # it was compiled
    torch.testing.assert_close(loss, eager_loss, rtol=1e-5, atol=1e-6)
    assert grads.keys() == eager_grads.keys() and grads
    for name, grad in grads.items():
        torch.testing.assert_close(grad, eager_grads[name], rtol=1e-4, atol=1e-6)
    (tmp_path / "checkpoint").mkdir()
    task.save(tmp_path / "checkpoint")
    assert not [key for key in load_file(str(tmp_path / "checkpoint/ligo_operator.safetensors")) if "_orig_mod" in key]


def test_prefetch_factor_leaves_data_order_and_losses_unchanged(eager_run, tmp_path):
    config, model_config, eager, python = eager_run
    out = tmp_path / "prefetch"
    run(lm_command(config, model_config, out, "--prefetch_factor", 4, python=python))  # num_workers 1, from the config
    assert comparable_metrics(out) == comparable_metrics(eager)


def test_training_loader_carries_prefetch_and_pinning(monkeypatch, bert_tokenized, bert_tokenizer_dir):
    built = []

    class RecordedLoader(torch.utils.data.DataLoader):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self)

    monkeypatch.setattr(sampling, "DataLoader", RecordedLoader)
    tokenizer = load_tokenizer(str(bert_tokenizer_dir))
    data = BlockDataset(bert_tokenized / "en.train.raw", tokenizer_tag(str(bert_tokenizer_dir)), tokenizer, 62, False)
    ctx = Context(rank=0, local_rank=0, world_size=1, device=torch.device("cpu"))

    def first_batches(**options):
        batches = sampling.training_batches(data, SeededMLMCollator(tokenizer, 0.15, seed=3), ctx, 8, True, 3,
                                            start_epoch=1, start_batch=2, **options)
        return [next(batches) for _ in range(3)]

    default = first_batches(num_workers=0)
    assert (built[-1].pin_memory, built[-1].num_workers) == (False, 0)  # auto on CPU: not pinned
    prefetched = first_batches(num_workers=1, prefetch_factor=4, pin_memory=False)
    assert (built[-1].prefetch_factor, built[-1].num_workers, built[-1].pin_memory) == (4, 1, False)
    for (epoch, position, batch), (epoch2, position2, batch2) in zip(default, prefetched):
        assert (epoch, position) == (epoch2, position2)
        assert batch.keys() == batch2.keys() and all(torch.equal(batch[k], batch2[k]) for k in batch)


@pytest.mark.parametrize("choice, device, pinned", [
    ("auto", "cpu", False), ("auto", "cuda", True), ("off", "cuda", False), ("on", "cuda", True)])
def test_pin_memory_choice(choice, device, pinned):
    assert sampling.pin_memory_for(choice, torch.device(device)) is pinned


def test_adamw_is_fused_on_cuda_and_cpu_and_steps_as_the_unfused_one():
    """The optimiser build_optimizer asks for on CUDA and on CPU uses the fused kernels; torch 2.13
    has them for CPU tensors, so both are built and stepped here for real, against torch's default
    (foreach) AdamW with the same settings."""
    config = load_config("bert", "configs/bert-mini-2L-128H.json")
    results = {}
    for device in ("cpu", "cuda", None):
        model = new_model("bert", config, seed=0)
        groups = parameter_groups(model.named_parameters(), 0.01)
        if device is None:
            optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=1e-3, eps=1e-6)
            assert not optimizer.defaults["fused"]
        else:
            optimizer = build_optimizer(groups, 1e-3, 1e-6, torch.device(device))
            assert optimizer.defaults["fused"]
        for step in range(3):
            for i, p in enumerate(model.parameters()):
                p.grad = torch.full_like(p, 0.01 * (i % 5 - 2) + 0.003 * step)
            optimizer.step()
        results[device] = model.state_dict()
    for name, tensor in results[None].items():
        torch.testing.assert_close(results["cpu"][name], tensor, rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(results["cuda"][name], tensor, rtol=1e-5, atol=1e-7)


def test_every_model_we_build_runs_sdpa_attention(tmp_path, monkeypatch):
    """New, loaded, grown (a baseline), the large model the LiGO operator runs, and the GLUE
    classifier: each must take PyTorch's fused attention kernel, in every layer."""
    small_json = tiny_config(tmp_path / "small.json", "bert", 500)
    large_json = tiny_config(tmp_path / "large.json", "bert", 500, layers=4, hidden=128)
    small = tmp_path / "small"
    new_model("bert", load_config("bert", str(small_json)), seed=0).save_pretrained(str(small))
    large_config = load_config("bert", str(large_json))

    def args(extra):
        return parse_args(shlex.split(f"--model_type bert --mlm --do_train --train_data_file t --tokenizer_name t "
                                      f"--config_name {large_json} --output_dir {tmp_path / 'out'} {extra}"))

    models = {
        "new": build_lm_task(args(""), large_config, None).module,
        "loaded": build_lm_task(args(f"--model_name_or_path {small}"), None, None).module,
        "grown by bert2bert_aki": build_lm_task(args(f"--grow_scheme bert2bert_aki --source_model_path {small}"),
                                            large_config, None).module,
        "grown by the LiGO operator": build_operator_task(
            args(f"--tune_depth --tune_width --source_model_path {small}"), large_config, None).module,
        "GLUE classifier": load_classifier(str(small), TASKS["sst2"])[0],
    }
    calls = []
    sdpa = torch.nn.functional.scaled_dot_product_attention
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention",
                        lambda *a, **k: calls.append(1) or sdpa(*a, **k))
    ids = torch.randint(5, 500, (2, 16))
    for name, model in models.items():
        config = model.large.config if name == "grown by the LiGO operator" else model.config
        assert config._attn_implementation == "sdpa", name
        calls.clear()
        with torch.no_grad():
            model.eval()(input_ids=ids, attention_mask=torch.ones_like(ids))
        assert len(calls) == config.num_hidden_layers, name
