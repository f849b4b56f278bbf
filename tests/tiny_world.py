"""A small, self-contained world for the tests of refused inputs and output safety: a tokenizer
trained on a small corpus, that corpus tokenised to HDF5, tiny BERT configs and saved models, a
LiGO operator checkpoint. Built in seconds, in-process, by the project's own functions, so these
tests need none of the session's Wikipedia fixtures."""

import json
import os
from dataclasses import dataclass
from pathlib import Path

from glue_fixtures import corpus_lines
from training_helpers import config_text, tiny_config

from ligo.growth.operator import LiGOOperator, LiGOOptions
from ligo.models.loading import load_config, new_model
from ligo.training.checkpoint import STATE_FILE, checkpoint_dir
from tokenization.tokenize_dataset import tokenize_file
from tokenization.train_tokenizer import train_tokenizer

# Tiny models gain nothing from a second thread; on a shared 2-core machine spinning OpenMP
# threads only slow every process down.
ENV = {"OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}


@dataclass
class World:
    tokenizer: Path  # a bert-uncased tokenizer folder
    vocab: int  # its number of tokens
    text_dir: Path  # en.train.raw and en.valid.raw, tokenised with it
    small_config: Path  # bert 2L-64H
    large_config: Path  # bert 4L-128H
    run_config: Path  # a --config file: the tokenised corpus, a few steps
    small_model: Path  # a saved (untrained) small BERT, with its tokenizer


def build_world(root: Path) -> World:
    root.mkdir(parents=True, exist_ok=True)
    text_dir = root / "text"
    text_dir.mkdir()
    lines = corpus_lines()
    (text_dir / "en.train.raw").write_text("\n".join(lines) + "\n")
    (text_dir / "en.valid.raw").write_text("\n".join(lines[::16]) + "\n")
    tokenizer_dir = root / "bert-tiny-uncased"
    tokenizer = train_tokenizer("bert-uncased", [text_dir / "en.train.raw"], 1000)
    tokenizer.save_pretrained(str(tokenizer_dir))
    for name in ("en.train.raw", "en.valid.raw"):
        tokenize_file(text_dir / name, str(tokenizer_dir), processes=1)
    vocab = len(tokenizer)
    small_config = tiny_config(root / "bert-2L-64H.json", "bert", vocab, layers=2, hidden=64)
    large_config = tiny_config(root / "bert-4L-128H.json", "bert", vocab, layers=4, hidden=128)
    run_config = config_text(root / "run.txt", "bert", text_dir, tokenizer_dir, max_steps=2, logging_steps=2,
                             ckpt_steps=2, warmup_steps=0, per_gpu_eval_batch_size=64, num_workers=0)
    small_model = save_model(root / "bert-small", small_config, "bert", tokenizer_dir)
    return World(tokenizer_dir, vocab, text_dir, small_config, large_config, run_config, small_model)


def save_model(folder: Path, config_file: Path, family: str, tokenizer_dir: Path | None = None) -> Path:
    """An untrained model saved as our checkpoints are (safetensors), with a tokenizer if given."""
    model = new_model(family, load_config(family, str(config_file)), seed=0)
    model.save_pretrained(str(folder))
    if tokenizer_dir is not None:
        for name in os.listdir(tokenizer_dir):
            (folder / name).write_bytes((tokenizer_dir / name).read_bytes())
    return folder


def save_operator_run(world: World, output_dir: Path) -> Path:
    """The output_dir of an operator run from the small to the large config, its step-0 checkpoint
    written as run_grow_distributed.py writes it (LiGOOperator.save); returns that checkpoint."""
    small_config = load_config("bert", str(world.small_config))
    large_config = load_config("bert", str(world.large_config))
    small = new_model("bert", small_config, seed=0)
    operator = LiGOOperator(small.state_dict(), small_config, large_config, LiGOOptions())
    folder = checkpoint_dir(output_dir, 0)
    folder.mkdir(parents=True)
    operator.save(folder)
    large_config.save_pretrained(str(folder))
    (folder / STATE_FILE).write_text(json.dumps({"step": 0}))  # last: marks the checkpoint complete
    return folder
