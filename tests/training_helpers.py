"""Building blocks for the tests that run the entry scripts: tiny model configs matched to
the session's tokenizers, and commands as a user (or torchrun) would type them."""

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file
from transformers import AutoTokenizer

from ligo.base.output_lock import OutputLock
from ligo.training import distributed

FAMILY_DATA = {"bert": ("bert_tokenized", "bert_tokenizer_dir"),
               "roberta": ("roberta_tokenized", "roberta_tokenizer_dir"),
               "gpt2": ("gpt2_tokenized", "gpt2_tokenizer_dir"),
               "llama": ("llama_tokenized", "llama_tokenizer_dir")}


def tiny_config(path, family, vocab_size, layers=2, hidden=64, block_size=62, eos_token_id=None, bos_token_id=None):
    if family == "llama":  # grouped-query attention: heads of 16, two query heads a key/value head
        config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": hidden,
                  "num_hidden_layers": layers, "num_attention_heads": hidden // 16,
                  "num_key_value_heads": hidden // 32, "head_dim": 16, "intermediate_size": 4 * hidden,
                  "max_position_embeddings": block_size + 2, "vocab_size": vocab_size, "rms_norm_eps": 1e-6,
                  "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": True,
                  "bos_token_id": bos_token_id, "eos_token_id": eos_token_id}
        path.write_text(json.dumps(config))
        return path
    if family == "gpt2":  # blocks of block_size + 1 (the <|endoftext|> before each)
        config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": hidden, "n_layer": layers,
                  "n_head": hidden // 32, "n_inner": 4 * hidden, "n_positions": block_size + 2,
                  "vocab_size": vocab_size,
                  "bos_token_id": eos_token_id, "eos_token_id": eos_token_id}
        path.write_text(json.dumps(config))
        return path
    positions = block_size + 2 + (2 if family == "roberta" else 0)
    config = {
        "architectures": [f"{family.capitalize() if family == 'bert' else 'Roberta'}ForMaskedLM"],
        "model_type": family, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 32,
        "intermediate_size": 4 * hidden, "max_position_embeddings": positions, "vocab_size": vocab_size,
        "type_vocab_size": 2, "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    }
    if family == "roberta":
        config.update(pad_token_id=1, bos_token_id=0, eos_token_id=2)
    path.write_text(json.dumps(config))
    return path


def config_text(path, family, text_dir, tokenizer_dir, **overrides):
    """A --config file as users write them."""
    values = {
        "tokenizer_name": tokenizer_dir, "model_type": family, "block_size": 62,
        "do_train": "true", "train_data_file": text_dir / "en.train.raw",
        "do_eval": "true", "eval_data_file": text_dir / "en.valid.raw",
        "shuffle": "true", "mlm": "true",
        "per_gpu_train_batch_size": 8, "per_gpu_eval_batch_size": 32, "max_steps": 12,
        "learning_rate": "2e-3", "weight_decay": 0.1, "warmup_steps": 2,
        "logging_steps": 3, "ckpt_steps": 4, "num_workers": 1,
    }
    if family in ("gpt2", "llama"):
        del values["mlm"]  # a causal LM
    values.update(overrides)
    path.write_text("".join(f"{key} = {value}\n" for key, value in values.items()))
    return path


def setup_run(tmp_path, request, family, **overrides):
    """A tiny model config and a --config file on the session's tokenised sample of ``family``."""
    text_dir = request.getfixturevalue(FAMILY_DATA[family][0])
    tokenizer_dir = request.getfixturevalue(FAMILY_DATA[family][1])
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    model_config = tiny_config(tmp_path / f"{family}-tiny.json", family, len(tokenizer),
                               eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.bos_token_id)
    config = config_text(tmp_path / f"{family}.txt", family, text_dir, tokenizer_dir, **overrides)
    return config, model_config


def lm_command(config_file, model_config, output_dir, *extra, processes=1, python=sys.executable,
               script="run_lm_distributed.py", warm_agent=False):
    """``python`` may be the warm interpreter (tests/warm_python.py); with several processes it runs
    each worker (torchrun's --no-python), while torchrun itself runs on a plain python, so that the
    process tree below it holds every worker's client (see ``crash``). ``warm_agent``: torchrun on
    the warm interpreter too (its torch import is ~2 s of CPU a run), for runs that are neither
    signalled nor crashed: their workers' clients are then not below the command's process."""
    launcher = [python]
    if processes > 1:
        agent = python if warm_agent else sys.executable
        launcher = [agent, "-m", "torch.distributed.run", "--nproc_per_node", str(processes),
                    "--rdzv_backend", "c10d", "--rdzv_endpoint", "127.0.0.1:0"]
        if python != sys.executable:
            launcher += ["--no-python", python]
    return [*launcher, script, "--config", str(config_file), "--config_name", str(model_config),
            "--output_dir", str(output_dir), *map(str, extra)]


def read_metrics(output_dir):
    return [json.loads(line) for line in (output_dir / "metrics.jsonl").read_text().splitlines()]


# --- Crashes and faults, for the fault-tolerance tests ------------------------------------------

WALL_CLOCK_FIELDS = ("train_seconds",)


def process_tree(pid) -> list[int]:
    """``pid`` and every process below it (torchrun starts its workers in sessions of their own,
    so killing its process group would leave them running)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue  # ended meanwhile
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def crash(process):
    """SIGKILL a run and every process it started, all at one moment, as a machine crash would:
    each is stopped first, so none carries on while the others are killed. A command on the warm
    interpreter dies shortly after its client, when it sees the client gone: this waits for that
    too, as a crashed run's processes are gone when the next starts (its output lock with them)."""
    stopped = set()
    while pending := [p for p in process_tree(process.pid) if p not in stopped]:
        for pid in pending:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
        stopped.update(pending)
    commands = _warm_commands(process.args, stopped)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in commands):
        assert time.monotonic() < deadline, f"warm-interpreter commands {commands} outlived their clients by 30 s"
        time.sleep(0.01)


def _warm_commands(args, clients, forget=True) -> list[int]:
    """The warm interpreter's children that ``clients`` (pids) run (tests/warm_python.py notes them)."""
    commands = []
    for folder in {Path(a).parent / "children" for a in map(str, args) if Path(a).name == "python"}:
        for pid in clients:
            note = folder / str(pid)
            with contextlib.suppress(FileNotFoundError, ValueError):
                commands.append(int(note.read_text()))
                if forget:
                    note.unlink()
    return commands


def signal_every_process(process, number):
    """Send signal ``number`` to every process of a run at once, as SLURM does to a job step: the
    launcher, the workers (those the warm interpreter runs too) and their DataLoader workers."""
    tree = process_tree(process.pid)
    for command in _warm_commands(process.args, tree, forget=False):
        tree += process_tree(command)
    for pid in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, number)


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):  # gone before the open, or between it and the read
        return False


def comparable_metrics(output_dir):
    """metrics.jsonl without wall-clock fields: what must not change when a run is interrupted."""
    return [{k: v for k, v in m.items() if k not in WALL_CLOCK_FIELDS} for m in read_metrics(output_dir)]


def tensors_equal(a_file, b_file) -> bool:
    a, b = load_file(str(a_file)), load_file(str(b_file))
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def assert_resumed_exactly(whole, resumed, step: int, keys):
    """A run interrupted and resumed (``resumed``) logged the same ``keys`` of metrics.jsonl as the
    one never stopped (``whole``), and ends with the same weights at checkpoint ``step``."""
    expected = [{k: m[k] for k in keys} for m in read_metrics(whole)]
    assert [{k: m[k] for k in keys} for m in read_metrics(resumed)] == expected
    weights = f"checkpoints/checkpoint-{step:08d}/model.safetensors"
    assert tensors_equal(whole / weights, resumed / weights)


def grow_command(config_file, model_config, output_dir, *extra, processes=1, python=sys.executable, warm_agent=False):
    """run_grow_distributed.py, as lm_command runs run_lm_distributed.py."""
    command = lm_command(config_file, model_config, output_dir, *extra, processes=processes, python=python,
                         warm_agent=warm_agent)
    command[command.index("run_lm_distributed.py")] = "run_grow_distributed.py"
    return command


def growth_pipeline(root, family, tokenized, tokenizer_dir, python, grown_extra=()):
    """The commands of the whole LiGO pipeline at tiny sizes, in order: pretrain a 2L-64H model,
    train a 4L-128H operator from it in two gloo processes, train the grown model, and scratch
    beside it. Returns (commands, the grown runs' config file, the large model's config)."""
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    sizes = {"eos_token_id": tokenizer.eos_token_id} if family == "gpt2" else {}
    if family == "llama":
        sizes = {"eos_token_id": tokenizer.eos_token_id, "bos_token_id": tokenizer.bos_token_id}
    small = tiny_config(root / "small.json", family, len(tokenizer), layers=2, hidden=64, **sizes)
    large = tiny_config(root / "large.json", family, len(tokenizer), layers=4, hidden=128, **sizes)
    pretrain = config_text(root / "pretrain.txt", family, tokenized, tokenizer_dir, max_steps=40,
                           logging_steps=20, ckpt_steps=40, learning_rate="3e-3", warmup_steps=4)
    operator = config_text(root / "operator.txt", family, tokenized, tokenizer_dir, max_steps=6,
                           logging_steps=3, ckpt_steps=3, learning_rate="1e-3", warmup_steps=0)
    # The paper's grown-model setting: a small learning rate and no warm-up (a large one
    # throws the grown model off its start in the first steps).
    grown = config_text(root / "grown.txt", family, tokenized, tokenizer_dir, max_steps=3,
                        logging_steps=3, ckpt_steps=3, warmup_steps=0, learning_rate="2e-4")
    commands = [
        lm_command(pretrain, small, root / "small", python=python),
        # Another seed than the small model's: with the same one, the operator's first batches would be
        # the very blocks and masks a 40-step small model has just memorised, and its eval loss would rise.
        grow_command(operator, large, root / "ligo", "--tune_width", "--tune_depth", "--source_model_path",
                     root / "small", "--fuse_init_scheme", "stackbert_noisy", "rand", "--seed", 7, processes=2,
                     python=python, warm_agent=True),
        lm_command(grown, large, root / "grown", "--grow_scheme", "ligo", "--source_model_path", root / "small",
                   "--pretrained_ligo_path", root / "ligo", *grown_extra, python=python),
        lm_command(grown, large, root / "scratch", python=python),
    ]
    return commands, grown, large


def failing_rank_worker(args):
    """A worker for ligo.training.distributed.spawn: after one all-reduce, rank ``args.failing_rank``
    raises (``args.how == "raise"``) or is killed; the others wait for it in a second one."""
    ctx = distributed.init(timeout_seconds=args.ddp_timeout)
    distributed.all_reduce_sum([1.0], ctx.device)
    if ctx.rank == args.failing_rank:
        if args.how == "raise":
            raise RuntimeError("rank fails on purpose")
        os.kill(os.getpid(), signal.SIGKILL)
    distributed.all_reduce_sum([1.0], ctx.device)


def refused_while_held(out, what, start, lock_path=None):
    """Holds ``out``'s lock in this process, as a first run ``what`` would; ``start()`` runs a second
    one, its own process, which must be refused in one line naming this process."""
    holder = OutputLock(out, what, path=lock_path)
    try:
        result = start()
    finally:
        holder.release()
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert f"'{out}' is in use by another run ({what}, process {os.getpid()} on" in line, line
