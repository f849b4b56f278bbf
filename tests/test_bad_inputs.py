"""Bad inputs across the tools, each typed as a user would: the data scripts, tokenisation, both
entry scripts, growing, the savings report, run_glue.py and run_squad.py. Every one must be refused with exit
code 2 (1 for the bash scripts), no traceback, a last line that names the bad value and the fix,
and nothing written that a later step could take for a result: the case's folder holds no new or
changed file afterwards.

Each case prepares its inputs in a fresh folder; the commands then run a few at a time (each
spends seconds importing torch), and the assertions are made per case. A non-finite training
loss is left to the tests of the trainer's numerics guard. Bad inputs refused in-process are
tested beside their modules (test_arguments.py, test_report.py, test_glue.py, test_dataset.py,
test_tokenize_dataset.py, test_wiki_pipeline.py); these are other values, through the scripts.
"""

import bz2
import json
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import run
from glue_fixtures import write_glue
from tiny_world import ENV, World, build_world, save_model, save_operator_run
from training_helpers import config_text, grow_command, lm_command, tiny_config

from ligo.base.checksums import write_checksums
from ligo.training.checkpoint import STATE_FILE, checkpoint_dir
from tokenization.train_tokenizer import train_tokenizer

PY = sys.executable
WORKERS = 3  # concurrent commands: enough to keep 2 cores busy while others import


@dataclass
class Case:
    argv: list  # the command line, run in the repository root
    expect: tuple[str, ...]  # each in the last line on stderr: the bad value and the fix
    env: dict = field(default_factory=dict)
    code: int = 2  # a UserError; the bash scripts' die() exits 1


CASES: dict[str, Callable[[Path, World], Case]] = {}


def case(build):
    CASES[build.__name__] = build
    return build


# ---------------------------------------------------------------- inputs

MEDIAWIKI = (b'<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">\n'
             + b"<page><title>Anarchism</title><text>Anarchism is a political philosophy .</text></page>\n" * 3000
             + b"</mediawiki>\n")
UNWRITABLE = "/proc/ligo out"  # no one creates a folder in /proc, root included
LATIN1 = "Le café est très animé à cette heure de la journée , dit-il .\n".encode("latin-1") * 50


def wiki_env(tmp: Path, **settings) -> dict:
    return {"WIKI_OUT_DIR": str(tmp / "wiki"), **settings}


def token_file(tmp: Path, world: World, tokens: np.ndarray) -> Path:
    """A text file whose token file for the world's tokenizer holds ``tokens``."""
    text = tmp / "en.train.raw"
    text.write_text("some text\n")
    with h5py.File(f"{text}.{world.tokenizer.name}.hdf5", "w") as h5:
        h5["tokens"] = tokens
    return text


def metrics_run(folder: Path, rows: list[str]) -> Path:
    folder.mkdir()
    (folder / "metrics.jsonl").write_text("".join(row + "\n" for row in rows))
    return folder


SCRATCH_ROWS = ['{"step": 0, "flops": 0, "train_seconds": 0, "eval_loss": 5.0}',
                '{"step": 10, "flops": 100, "train_seconds": 1.0, "eval_loss": 4.0}']


def report(tmp: Path, *runs: str, output_dir=None) -> list:
    scratch = metrics_run(tmp / "scratch", SCRATCH_ROWS)
    return [PY, "-m", "ligo.report", "--scratch", scratch, *[a for spec in runs for a in ("--run", spec)],
            "--output_dir", output_dir or tmp / "report"]


def glue(tmp: Path, model, *extra, glue_dir=None) -> list:
    if glue_dir is None:
        glue_dir = tmp / "glue"
        glue_dir.mkdir()
    return [PY, "run_glue.py", "--model_name_or_path", model, "--glue_dir", glue_dir,
            "--output_dir", tmp / "glue-results", "--max_steps", "1", "--max_seq_length", "32",
            "--seeds", "1", *extra]


def squad_files(folder: Path, version="1.1", context="Albania was declared an atheist state in 1967 .",
                answer_start=None) -> Path:
    """A SQuAD folder with train and dev files of ``version``: one question, on ``context``."""
    folder.mkdir(parents=True, exist_ok=True)
    start = context.find("1967") if answer_start is None else answer_start
    qa = {"id": "q1", "question": "In what year ?", "answers": [{"text": "1967", "answer_start": start}]}
    for split in ("train", "dev"):
        data = {"version": f"v{version}", "data": [{"title": "Albania", "paragraphs": [{"context": context,
                                                                                         "qas": [qa]}]}]}
        (folder / f"{split}-v{version}.json").write_text(json.dumps(data))
    return folder


def squad(tmp: Path, model, squad_dir, *extra) -> list:
    return [PY, "run_squad.py", "--model_name_or_path", model, "--squad_dir", squad_dir, "--output_dir",
            tmp / "squad-results", "--max_steps", "1", "--max_seq_length", "32", "--doc_stride", "8", "--seeds", "1",
            "--versions", "1.1", *extra]


def grow(world: World, tmp: Path, *extra, config=None) -> list:
    return [PY, "-m", "ligo.grow", "--model_type", "bert", "--config_name", config or world.large_config,
            "--output_dir", tmp / "grown", *extra]


def lm(world: World, tmp: Path, *extra, config=None) -> list:
    return lm_command(world.run_config, config or world.small_config, tmp / "run", *extra)


def operator(world: World, tmp: Path, *extra, config=None) -> list:
    return grow_command(world.run_config, config or world.large_config, tmp / "run", "--tune_depth", "--tune_width",
                        *extra)


# ---------------------------------------------------------------- the data scripts (bash)

@case
def wiki_language_code(tmp, world):
    return Case(["bash", "data/wiki/get_data_cased.bash", "EN_us", tmp / "dump.xml.bz2"],
                ("language 'EN_us'", "such as 'en'"), wiki_env(tmp), code=1)


@case
def wiki_held_out_lines_not_a_number(tmp, world):
    dump = tmp / "dump.xml.bz2"
    dump.write_bytes(bz2.compress(MEDIAWIKI))
    return Case(["bash", "data/wiki/get_data_cased_untokenized.bash", "en", dump],
                ("VALID_LINES '1k'", "set e.g. VALID_LINES=5000"), wiki_env(tmp, VALID_LINES="1k"), code=1)


@case
def wiki_truncated_dump(tmp, world):
    dump = tmp / "enwiki-latest-pages-articles.xml.bz2"
    whole = bz2.compress(MEDIAWIKI)
    dump.write_bytes(whole[: len(whole) // 2])  # an interrupted download
    return Case(["bash", "data/wiki/get_data_cased.bash", "en", dump],
                (f"dump '{dump}' could not be decompressed", "download it again"), wiki_env(tmp), code=1)


# ---------------------------------------------------------------- tokenisation

@case
def tokenize_text_not_utf8(tmp, world):
    (tmp / "en.train.raw").write_bytes(LATIN1)
    return Case([PY, "-m", "tokenization.tokenize_dataset", tmp, "en.train.raw", world.tokenizer, "--processes", "1"],
                (f"text file '{tmp / 'en.train.raw'}' is not UTF-8 text", "convert it to UTF-8"))


@case
def tokenize_zero_processes(tmp, world):
    (tmp / "en.train.raw").write_bytes((world.text_dir / "en.valid.raw").read_bytes())
    return Case([PY, "-m", "tokenization.tokenize_dataset", tmp, "en.train.raw", world.tokenizer, "--processes", "0"],
                ("--processes must be at least 1, got 0",))


@case
def tokenize_text_file_is_a_folder(tmp, world):
    (tmp / "en.train.raw").mkdir()
    return Case([PY, "-m", "tokenization.tokenize_dataset", tmp, "en.train.raw", world.tokenizer],
                (f"{tmp / 'en.train.raw'}",))


@case
def tokenize_data_dir_is_a_file(tmp, world):
    (tmp / "corpus.txt").write_text("some text\n")
    return Case([PY, "-m", "tokenization.tokenize_dataset", tmp / "corpus.txt", "en.train.raw", world.tokenizer],
                (f"{tmp / 'corpus.txt'}",))


@case
def tokenize_empty_tokenizer_folder(tmp, world):
    (tmp / "en.train.raw").write_bytes((world.text_dir / "en.valid.raw").read_bytes())
    (tmp / "bert-wiki-uncased").mkdir()
    return Case([PY, "-m", "tokenization.tokenize_dataset", tmp, "en.train.raw", tmp / "bert-wiki-uncased"],
                (f"tokenizer folder '{tmp / 'bert-wiki-uncased'}' is empty", "python -m tokenization.train_tokenizer"))


@case
def train_tokenizer_text_not_utf8(tmp, world):
    text = tmp / "en.train.raw"
    text.write_bytes(LATIN1)
    return Case([PY, "-m", "tokenization.train_tokenizer", "--kind", "roberta", "--input", text, "--vocab_size", "1000",
                 "--output_dir", tmp / "tokenizer"], (f"training text '{text}' is not UTF-8 text",
                                                      "convert it to UTF-8"))


@case
def train_tokenizer_zero_vocab_size(tmp, world):
    return Case([PY, "-m", "tokenization.train_tokenizer", "--kind", "bert-uncased", "--input",
                 world.text_dir / "en.train.raw", "--vocab_size", "0", "--output_dir", tmp / "tokenizer"],
                ("--vocab_size 0 is too small", "use >= 1000"))



@case
def train_tokenizer_output_dir_is_a_file(tmp, world):
    (tmp / "tokenizer.json").write_text("{}\n")
    return Case([PY, "-m", "tokenization.train_tokenizer", "--kind", "bert-uncased", "--input",
                 world.text_dir / "en.valid.raw", "--output_dir", tmp / "tokenizer.json"],
                (f"--output_dir '{tmp / 'tokenizer.json'}' is a file", "pass a folder"))


@case
def train_tokenizer_output_dir_unwritable(tmp, world):
    return Case([PY, "-m", "tokenization.train_tokenizer", "--kind", "bert-uncased", "--input",
                 world.text_dir / "en.valid.raw", "--output_dir", f"{UNWRITABLE}/tokenizer"],
                (f"cannot create --output_dir's parent folder '{UNWRITABLE}'", "choose a folder you can write to"))


# ---------------------------------------------------------------- run_lm_distributed.py

@case
def lm_malformed_model_config(tmp, world):
    config = tmp / "bert-small.json"
    config.write_text(world.small_config.read_text()[:-30])  # cut short, as by a bad copy
    return Case(lm(world, tmp, config=config), (f"model config '{config}' is not a valid JSON config", "fix it"))


@case
def lm_missing_model_config(tmp, world):
    config = tmp / "bert-6L-512H.json"
    return Case(lm(world, tmp, config=config), (f"model config '{config}' is neither a file", "pass a JSON file"))


@case
def lm_vocabulary_larger_than_config(tmp, world):
    config = tiny_config(tmp / "bert-vocab-100.json", "bert", 100)
    return Case(lm(world, tmp, config=config),
                (f"has {world.vocab} tokens but config '{config}' has vocab_size 100", f"at least {world.vocab}"))


@case
def lm_block_size_above_positions(tmp, world):
    return Case(lm(world, tmp, "--block_size", 600), ("--block_size 600 is above the model's limit of 62",
                                                      "use at most 62"))


@case
def lm_negative_steps(tmp, world):
    return Case(lm(world, tmp, "--max_steps", -5), ("--max_steps must be at least 1, got -5",))


@case
def lm_token_file_of_wrong_layout(tmp, world):
    text = token_file(tmp, world, np.zeros((10, 10), np.float32))
    return Case(lm(world, tmp, "--train_data_file", text), ("is float32 of shape (10, 10)", "tokenise again"))


@case
def lm_empty_token_file(tmp, world):
    text = token_file(tmp, world, np.zeros(0, np.int32))
    return Case(lm(world, tmp, "--train_data_file", text),
                (f"'{text}.{world.tokenizer.name}.hdf5' holds no tokens", "tokenise"))


@case
def lm_token_file_of_another_tokenizer(tmp, world):
    text = token_file(tmp, world, np.arange(world.vocab + 100, dtype=np.int32))
    return Case(lm(world, tmp, "--train_data_file", text),
                (f"holds token id {world.vocab + 99}", f"has only {world.vocab} tokens", "tokenise it again"))


@case
def lm_gpt2_with_mlm(tmp, world):
    config = tiny_config(tmp / "gpt2-tiny.json", "gpt2", world.vocab, eos_token_id=0)
    return Case(lm(world, tmp, "--model_type", "gpt2", config=config),
                ("gpt2 is a causal LM", "leave --mlm out"))


@case
def lm_gpt2_with_a_bert_tokenizer(tmp, world):
    config = tiny_config(tmp / "gpt2-tiny.json", "gpt2", world.vocab, eos_token_id=0)
    recipe = config_text(tmp / "gpt2.txt", "gpt2", world.text_dir, world.tokenizer, max_steps=2)
    return Case(lm_command(recipe, config, tmp / "run"),
                ("has no eos_token, which gpt2's data needs", "--kind gpt2"))


# ---------------------------------------------------------------- run_grow_distributed.py

@case
def operator_gpt2_target_for_a_bert_run(tmp, world):
    config = tiny_config(tmp / "gpt2-4L-128H.json", "gpt2", world.vocab, layers=4, hidden=128, eos_token_id=0)
    return Case(operator(world, tmp, "--source_model_path", world.small_model, config=config),
                (f"model config '{config}' is a gpt2 config but --model_type is bert",))

@case
def lm_learning_rate_nan(tmp, world):
    return Case(lm(world, tmp, "--learning_rate", "nan"), ("--learning_rate must be a finite number, got nan",))



@case
def lm_seed_negative(tmp, world):
    return Case(lm(world, tmp, "--seed", "-1"), ("--seed must not be negative, got -1",))


@case
def lm_adam_epsilon_zero(tmp, world):
    # Found by the hurried-user sweep: accepted, and every embedding row no batch used became NaN.
    return Case(lm(world, tmp, "--adam_epsilon", "0"), ("--adam_epsilon must be positive", "got 0",
                                                        "the default is 1e-6"))


@case
def operator_ddp_timeout_zero(tmp, world):
    return Case(operator(world, tmp, "--ddp_timeout", "0"), ("--ddp_timeout must be positive, got 0",))


@case
def operator_fuse_init_noise_negative(tmp, world):
    return Case(operator(world, tmp, "--fuse_init_noise", "0.03", "-0.01"),
                ("--fuse_init_noise must not be negative, got 0.03 -0.01",))


@case
def lm_grow_noise_for_a_scheme_that_copies_nothing(tmp, world):
    return Case(lm(world, tmp, "--grow_scheme", "stackbert", "--source_model_path", world.small_model,
                   "--grow_noise", "0.1"),
                ("--grow_noise 0.1 splits the copies of Net2Net widening; --grow_scheme stackbert makes none",
                 "use one of net2net, bert2bert_fpi, bert2bert_aki, or drop --grow_noise"))


@case
def lm_fsdp_cpu_offload_without_fsdp(tmp, world):
    return Case(lm(world, tmp, "--fsdp_cpu_offload"),
                ("--fsdp_cpu_offload offloads FSDP's shards: pass --data_parallel fsdp too, or drop it",))


@case
def lm_fsdp_with_skip_nonfinite_steps(tmp, world):
    return Case(lm(world, tmp, "--data_parallel", "fsdp", "--skip_nonfinite_steps"),
                ("--skip_nonfinite_steps does not run with --data_parallel fsdp yet; use --data_parallel ddp (the "
                 "default) for it",))


@case
def operator_fsdp_fp16(tmp, world):
    return Case(operator(world, tmp, "--source_model_path", world.small_model, "--data_parallel", "fsdp", "--fp16"),
                ("--fp16 with --data_parallel fsdp: FSDP's mixed precision is bfloat16 here; use --bf16",))


@case
def operator_gradient_checkpointing_grown_whole(tmp, world):
    return Case(operator(world, tmp, "--source_model_path", world.small_model, "--gradient_checkpointing",
                         "--operator_growth", "whole"),
                ("--gradient_checkpointing with --operator_growth whole: the operator step recomputes each layer (its "
                 "growth too) only when grown per layer; drop --operator_growth whole",))


@case
def lm_output_dir_unwritable(tmp, world):
    return Case(lm(world, tmp, "--output_dir", f"{UNWRITABLE}/run"),
                (f"cannot create --output_dir '{UNWRITABLE}/run'", "choose a folder you can write to"))

@case
def lm_output_dir_inside_a_file(tmp, world):
    (tmp / "notes.txt").write_text("a file, not a folder\n")
    return Case(lm(world, tmp, "--output_dir", tmp / "notes.txt" / "run"),
                (f"cannot create --output_dir '{tmp / 'notes.txt' / 'run'}'", "choose a folder you can write to"))


@case
def lm_preempt_signal_unknown(tmp, world):
    return Case(lm(world, tmp, "--preempt_signals", "SIGTERM", "SIGFOO"),
                ("--preempt_signals: 'SIGFOO' is not a signal", "SIGTERM SIGUSR1 SIGINT, or none"))


@case
def lm_preempt_signal_that_cannot_be_caught(tmp, world):
    return Case(lm(world, tmp, "--preempt_signals", "KILL"), ("'KILL' is not a signal a process can catch",))


@case
def operator_preempt_grace_negative(tmp, world):
    return Case(operator(world, tmp, "--preempt_grace_seconds", "-5"),
                ("--preempt_grace_seconds must not be negative (0: no limit), got -5.0",))


@case
def lm_model_config_is_a_folder(tmp, world):
    # transformers gave BERT-Base's default config for a folder without config.json, and it trained
    return Case(lm(world, tmp, config=tmp), (f"model config '{tmp}' is a folder without config.json",))


@case
def lm_train_data_file_is_a_folder(tmp, world):
    return Case(lm(world, tmp, "--train_data_file", tmp), (f"'{tmp}",))


@case
def lm_tokenizer_is_a_file(tmp, world):
    (tmp / "tokenizer.txt").write_text("not a tokenizer\n")
    return Case(lm(world, tmp, "--tokenizer_name", tmp / "tokenizer.txt"), (f"'{tmp / 'tokenizer.txt'}'",))


@case
def glue_output_dir_is_a_file(tmp, world):
    (tmp / "results.txt").write_text("a file\n")
    return Case(glue(tmp, world.small_model, "--output_dir", tmp / "results.txt"), ("is a file; pass a folder",))


@case
def operator_source_larger_than_target(tmp, world):
    large = save_model(tmp / "bert-large", world.large_config, "bert")
    return Case(operator(world, tmp, "--source_model_path", large, config=world.small_config),
                (f"cannot grow '{large}' (bert 4L-128H) to '{world.small_config}' (bert 2L-64H)",
                 "the target must be at least as large"))


@case
def operator_source_of_other_family(tmp, world):
    roberta = save_model(tmp / "roberta-small", tiny_config(tmp / "roberta.json", "roberta", world.vocab), "roberta")
    return Case(operator(world, tmp, "--source_model_path", roberta),
                (f"model '{roberta}' is a roberta model but --model_type is bert", "pass a bert checkpoint"))


@case
def operator_zero_batch_size(tmp, world):
    return Case(operator(world, tmp, "--source_model_path", world.small_model, "--per_gpu_train_batch_size", 0),
                ("--per_gpu_train_batch_size must be at least 1, got 0",))


# ---------------------------------------------------------------- python -m ligo.grow

@case
def grow_with_operator_for_other_sizes(tmp, world):
    save_operator_run(world, tmp / "ligo")  # 2L-64H -> 4L-128H
    other = tiny_config(tmp / "bert-6L-128H.json", "bert", world.vocab, layers=6, hidden=128)
    return Case(grow(world, tmp, "--grow_scheme", "ligo", "--pretrained_ligo_path", tmp / "ligo", config=other),
                (f"the LiGO operator in '{tmp / 'ligo'}' was trained for other model sizes", "num_hidden_layers 4 vs 6",
                 "train an operator for these models"))


@case
def grow_gpt2_from_a_bert_model(tmp, world):
    config = tiny_config(tmp / "gpt2-4L-128H.json", "gpt2", world.vocab, layers=4, hidden=128, eos_token_id=0)
    argv = grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", world.small_model, config=config)
    argv[argv.index("bert")] = "gpt2"  # --model_type
    return Case(argv, (f"model '{world.small_model}' is a bert model but --model_type is gpt2", "one family"))


@case
def grow_with_damaged_operator(tmp, world):
    checkpoint = save_operator_run(world, tmp / "ligo")
    settings = checkpoint / "ligo_operator.json"
    settings.write_text(settings.read_text()[:100])
    return Case(grow(world, tmp, "--grow_scheme", "ligo", "--pretrained_ligo_path", tmp / "ligo"),
                (f"the LiGO operator in '{checkpoint}' cannot be read", "train it again"))


@case
def grow_with_missing_tokenizer(tmp, world):
    save_operator_run(world, tmp / "ligo")
    return Case(grow(world, tmp, "--grow_scheme", "ligo", "--pretrained_ligo_path", tmp / "ligo", "--tokenizer_name",
                     tmp / "bert-wiki-uncased"),
                (f"tokenizer '{tmp / 'bert-wiki-uncased'}' is not a local folder", "pass a tokenizer folder"))



@case
def grow_output_dir_unwritable(tmp, world):
    return Case(grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", world.small_model,
                     "--output_dir", f"{UNWRITABLE}/grown"),
                ("cannot", f"'{UNWRITABLE}", "choose a folder you can write to"))

# ---------------------------------------------------------------- python -m ligo.report

@case
def report_output_dir_is_a_file(tmp, world):
    notes = tmp / "savings.md"
    notes.write_text("# my notes\n")
    return Case(report(tmp, f"A={metrics_run(tmp / 'grown', SCRATCH_ROWS)}", output_dir=notes),
                (f"--output_dir '{notes}' is a file", "pass a folder"))


@case
def report_empty_metrics(tmp, world):
    grown = metrics_run(tmp / "grown", [])
    return Case(report(tmp, f"LiGO={grown}"), (f"{grown / 'metrics.jsonl'} is empty", "pass it once it has logged"))


@case
def report_metrics_of_another_program(tmp, world):
    grown = metrics_run(tmp / "grown", ['{"epoch": 1, "eval_loss": 3.2}'])
    return Case(report(tmp, f"LiGO={grown}"), (f"{grown / 'metrics.jsonl'} line 1 has no numeric 'flops'",
                                                "pass the --output_dir of a run_lm_distributed.py"))


@case
def report_missing_operator_run(tmp, world):
    grown = metrics_run(tmp / "grown", SCRATCH_ROWS)
    return Case(report(tmp, f"LiGO={grown}+{tmp / 'ligo-operator'}"),
                (f"run directory {tmp / 'ligo-operator'} does not exist", "pass the --output_dir"))


# ---------------------------------------------------------------- run_glue.py

@case
def report_scratch_is_a_file(tmp, world):
    (tmp / "metrics.jsonl").write_text(SCRATCH_ROWS[0] + "\n")
    return Case([PY, "-m", "ligo.report", "--scratch", tmp / "metrics.jsonl", "--run", f"LiGO={tmp / 'metrics.jsonl'}",
                 "--output_dir", tmp / "report"],
                (f"run directory {tmp / 'metrics.jsonl'} is a file, not a run's folder",))


@case
def report_run_without_a_name(tmp, world):
    ligo = metrics_run(tmp / "ligo", SCRATCH_ROWS)
    return Case(report(tmp, str(ligo)), ("NAME=RUN_DIR",))


@case
def report_output_dir_unwritable(tmp, world):
    return Case(report(tmp, f"A={metrics_run(tmp / 'grown', SCRATCH_ROWS)}", output_dir=f"{UNWRITABLE}/report"),
                (f"cannot create --output_dir '{UNWRITABLE}/report'", "choose a folder you can write to"))


@case
def unigram_config_missing(tmp, world):
    scratch = metrics_run(tmp / "scratch", SCRATCH_ROWS)
    return Case([PY, "-m", "ligo.report.unigram", "--config", tmp / "bert.txt", "--scratch", scratch],
                (f"--config '{tmp / 'bert.txt'}' is not a file", "pass a training config file"))


@case
def glue_epochs_inf(tmp, world):
    return Case(glue(tmp, world.small_model, "--num_train_epochs", "inf"),
                ("--num_train_epochs must be a finite number, got inf",))


@case
def glue_adam_epsilon_nan(tmp, world):
    return Case(glue(tmp, world.small_model, "--adam_epsilon", "nan"), ("--adam_epsilon must be a finite number",))


@case
def glue_seed_negative(tmp, world):
    return Case(glue(tmp, world.small_model, "--seeds", "1", "-1"),
                ("--seeds 1 -1: a seed must be in [0, 2**32)",))


@case
def glue_split_missing(tmp, world):
    glue_dir = write_glue(tmp / "glue", train_rows=8, dev_rows=4)
    (glue_dir / "MNLI" / "dev_mismatched.tsv").unlink()
    return Case(glue(tmp, world.small_model, "--tasks", "mnli", glue_dir=glue_dir),
                (f"'{glue_dir / 'MNLI' / 'dev_mismatched.tsv'}' is missing", "as the GLUE download lays them out"))


@case
def glue_model_folder_without_config(tmp, world):
    model = tmp / "bert-small"
    model.mkdir()
    (model / "README.md").write_text("weights to come\n")
    return Case(glue(tmp, model, "--tasks", "rte"),
                (f"--model_name_or_path '{model}' holds no config.json", "pass a training run's --output_dir"))


@case
def glue_tokenizer_larger_than_model_vocabulary(tmp, world):
    model = save_model(tmp / "bert-vocab-100", tiny_config(tmp / "bert.json", "bert", 100), "bert")
    return Case(glue(tmp, model, "--tasks", "rte", "--tokenizer_name", world.tokenizer),
                (f"tokenizer '{world.tokenizer}' ({world.vocab} tokens", "(vocab_size 100",
                 "pass the tokenizer it was pretrained with"))


# ---------------------------------------------------------------- run_squad.py

@case
def squad_split_missing(tmp, world):
    folder = squad_files(tmp / "squad")
    (folder / "dev-v1.1.json").unlink()
    return Case(squad(tmp, world.small_model, folder), (f"--squad_dir '{folder}' lacks dev-v1.1.json",
                                                        "put SQuAD's official files there"))


@case
def squad_malformed_json(tmp, world):
    folder = squad_files(tmp / "squad")
    (folder / "dev-v1.1.json").write_text((folder / "dev-v1.1.json").read_text()[:-20])  # cut short
    return Case(squad(tmp, world.small_model, folder), (f"'{folder / 'dev-v1.1.json'}' is not valid JSON",
                                                        "download it again"))


@case
def squad_answer_start_off_its_text(tmp, world):
    folder = squad_files(tmp / "squad", answer_start=5)
    return Case(squad(tmp, world.small_model, folder),
                ("question q1: answer '1967' is not at answer_start 5 of its context (found 'ia w')",
                 "fix answer_start"))


@case
def squad_context_without_text(tmp, world):
    folder = squad_files(tmp / "squad", context="   ")
    return Case(squad(tmp, world.small_model, folder), ("a paragraph of 'Albania' has no context text",))


@case
def squad_adam_epsilon_zero(tmp, world):
    return Case(squad(tmp, world.small_model, squad_files(tmp / "squad"), "--adam_epsilon", "0"),
                ("--adam_epsilon must be positive", "got 0"))


@case
def squad_model_folder_without_tokenizer(tmp, world):
    model = save_model(tmp / "bert-small", world.small_config, "bert")
    return Case(squad(tmp, model, squad_files(tmp / "squad")),
                (f"--model_name_or_path '{model}' holds no tokenizer", "--tokenizer_name"))


@case
def image_digits_val_fraction_too_large(tmp, world):
    return Case([PY, "-m", "ligo.data.digits", "--output_dir", tmp / "digits", "--val_fraction", "0.999"],
                ("--val_fraction 0.999", "must leave each of the 10 digits an image in both"))


def vit_config_file(tmp: Path) -> Path:
    config = {"model_type": "vit", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
              "intermediate_size": 64, "image_size": 16, "patch_size": 4, "num_labels": 10}
    (tmp / "vit.json").write_text(json.dumps(config))
    return tmp / "vit.json"


@case
def image_data_path_missing(tmp, world):
    return Case([PY, "run_image_distributed.py", "--model_type", "vit", "--config_name", vit_config_file(tmp),
                 "--data_path", tmp / "imagenet", "--output_dir", tmp / "out", "--do_train"],
                (f"image folder '{tmp / 'imagenet'}' does not exist", "train/<class>/<images>"))


@case
def image_input_size_not_the_models(tmp, world):
    data = tmp / "images"
    (data / "train" / "cat").mkdir(parents=True)
    (data / "train" / "cat" / "a.png").write_bytes(b"")
    return Case([PY, "run_image_distributed.py", "--model_type", "vit", "--config_name", vit_config_file(tmp),
                 "--data_path", data, "--output_dir", tmp / "out", "--do_train", "--input_size", "224"],
                ("--input_size 224 differs from the model's image_size 16", "leave --input_size out"))


# ---------------------------------------------------------------- flags

# Abbreviations are unknown flags; argparse's own errors are one line naming the closest flag or
# choice (ligo/base/command_line.py), not a usage block.

@case
def lm_abbreviated_flag(tmp, world):
    return Case(lm(world, tmp, "--max_step", "1"),  # once run silently as --max_steps 1
                ("unrecognized arguments: --max_step 1; did you mean --max_steps?",
                 "See `python run_lm_distributed.py --help`"))


@case
def operator_misspelt_flag(tmp, world):
    return Case(operator(world, tmp, "--lerning_rate", "1e-3"),
                ("unrecognized arguments: --lerning_rate 1e-3; did you mean --learning_rate?",))


@case
def grow_invalid_choice(tmp, world):
    return Case(grow(world, tmp, "--grow_scheme", "stackbrt"),
                ("argument --grow_scheme: invalid choice: 'stackbrt'", "did you mean stackbert?",
                 "See `python -m ligo.grow --help`"))


@case
def glue_abbreviated_flag(tmp, world):
    return Case(glue(tmp, world.small_model, "--learning_rat", "1e-4"),  # once "ambiguous option" after the usage
                ("unrecognized arguments: --learning_rat 1e-4; did you mean --learning_rate?",))


@case
def lm_config_is_a_folder(tmp, world):
    return Case(lm_command(tmp, world.small_config, tmp / "run", "--do_train"),
                (f"--config '{tmp}' is a folder; give a config file (name = value lines), e.g. configs/bert_wiki.txt",))


# ---------------------------------------------------------------- fine-tuning other families

# The scripts fine-tune families that declare their head (ligo/models/family.py, finetune_heads);
# any other is refused before the output folder is made, not midway through its data.

def gpt2_model(tmp: Path, folder: Path, world: World) -> Path:
    """An untrained tiny GPT-2 saved with a GPT-2 tokenizer of its own, as a GPT-2 run saves it."""
    tokenizer_dir = tmp / "gpt2-tokenizer"
    train_tokenizer("gpt2", [world.text_dir / "en.train.raw"], 300).save_pretrained(str(tokenizer_dir))
    config = tiny_config(tmp / "gpt2-tiny.json", "gpt2", 300, eos_token_id=0)
    return save_model(folder, config, "gpt2", tokenizer_dir)


@case
def glue_gpt2_run(tmp, world):
    run_dir = tmp / "gpt2-small"  # a pretraining run's output_dir: its latest checkpoint is fine-tuned
    checkpoint = gpt2_model(tmp, checkpoint_dir(run_dir, 8), world)
    (checkpoint / STATE_FILE).write_text(json.dumps({"step": 8}))
    return Case(glue(tmp, run_dir, "--tasks", "rte", glue_dir=write_glue(tmp / "glue", train_rows=8, dev_rows=4)),
                (f"--model_name_or_path '{run_dir}' is a gpt2 model", "run_glue.py fine-tunes",
                 "sequence-classification head (bert, roberta)", "pass a bert or roberta checkpoint"))


@case
def squad_gpt2_checkpoint(tmp, world):
    model = gpt2_model(tmp, tmp / "gpt2-small", world)
    return Case(squad(tmp, model, squad_files(tmp / "squad")),
                (f"--model_name_or_path '{model}' is a gpt2 model", "run_squad.py fine-tunes",
                 "question-answering head (bert, roberta)", "pass a bert or roberta checkpoint"))


@case
def glue_vit_model(tmp, world):
    model = save_model(tmp / "vit-small", vit_config_file(tmp), "vit")
    return Case(glue(tmp, model, "--tasks", "rte", glue_dir=write_glue(tmp / "glue", train_rows=8, dev_rows=4)),
                (f"--model_name_or_path '{model}' is a vit model", "run_glue.py fine-tunes",
                 "pass a bert or roberta checkpoint"))


@case
def squad_vit_model(tmp, world):
    model = save_model(tmp / "vit-small", vit_config_file(tmp), "vit")
    return Case(squad(tmp, model, squad_files(tmp / "squad")),
                (f"--model_name_or_path '{model}' is a vit model", "run_squad.py fine-tunes",
                 "pass a bert or roberta checkpoint"))


@pytest.mark.parametrize("name", ["glue_gpt2_run", "squad_gpt2_checkpoint", "glue_vit_model", "squad_vit_model"])
def test_other_family_is_refused_before_its_output_folder_is_made(name, outcomes):
    built, result, _ = outcomes[name]
    output_dir = Path(built.argv[built.argv.index("--output_dir") + 1])
    assert result.returncode == 2, result.stderr
    assert not output_dir.exists(), f"the refused run made {output_dir}"


# ---------------------------------------------------------------- checkpoints and disks

# A full disk needs a real one (a tmpfs, a file-size limit): tests/test_checkpoint_integrity.py.

def run_checkpoint(world: World, output_dir: Path, step: int, checksums=True) -> Path:
    """A checkpoint of a run in ``output_dir`` as far as checking it goes: the small model, its
    tokenizer, the trainer state and (``checksums``) the record of them all."""
    folder = checkpoint_dir(output_dir, step)
    folder.mkdir(parents=True)
    for file in world.small_model.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    (folder / STATE_FILE).write_text(json.dumps({"step": step}))
    if checksums:
        write_checksums(folder)
    return folder


def flip_last_byte(path: Path):
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


@case
def lm_resume_from_a_checkpoint_with_a_flipped_byte(tmp, world):
    first, last = run_checkpoint(world, tmp / "run", 0), run_checkpoint(world, tmp / "run", 2)
    flip_last_byte(last / "model.safetensors")
    return Case(lm(world, tmp, "--should_continue"),
                (f"checkpoint file '{last / 'model.safetensors'}' does not match the checksum recorded",
                 f"delete '{last}' to resume from '{first}'"))


@case
def lm_resume_from_a_cut_short_model_without_checksums(tmp, world):
    only = run_checkpoint(world, tmp / "run", 0, checksums=False)  # written before checkpoints had checksums
    weights = only / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    return Case(lm(world, tmp, "--should_continue"),
                (f"checkpoint file '{weights}' cannot be loaded safely", "it is damaged",
                 "there is no earlier checkpoint: start afresh with --overwrite_output_dir"))


@case
def grow_from_a_source_model_with_a_flipped_byte(tmp, world):
    model = run_checkpoint(world, tmp / "small-run", 4)
    flip_last_byte(model / "model.safetensors")
    return Case(grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", model),
                (f"model file '{model / 'model.safetensors'}' does not match the checksum recorded",
                 "pass another checkpoint folder"))



# ---------------------------------------------------------------- target configs

def changed_config(path: Path, world: World, layers: int, hidden: int, **changes) -> Path:
    tiny_config(path, "bert", world.vocab, layers=layers, hidden=hidden)
    path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    return path


@case
def grow_target_with_another_activation(tmp, world):
    # Accepted once: Net2Net's copy then computed another function than its source.
    config = changed_config(tmp / "bert-4L-128H-relu.json", world, 4, 128, hidden_act="relu")
    return Case(grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", world.small_model,
                     config=config),
                (f"cannot grow '{world.small_model}' (bert 2L-64H) to '{config}' (bert 4L-128H)",
                 "hidden_act (source 'gelu', target 'relu')", "--allow_config_mismatch hidden_act"))


@case
def operator_target_heads_of_another_size(tmp, world):
    config = changed_config(tmp / "bert-4L-128H-2heads.json", world, 4, 128, num_attention_heads=2)
    return Case(operator(world, tmp, "--source_model_path", world.small_model, config=config),
                ("the attention head size differs (source 32: 64 / 2 heads; target 64: 128 / 2 heads)",
                 "set num_attention_heads to 4 in the target config (128 / 32)", "--target_hidden 128"))


@case
def lm_config_name_and_target_hidden(tmp, world):
    return Case(lm(world, tmp, "--source_model_path", world.small_model, "--target_hidden", "128"),
                ("--config_name and --target_hidden both give the target model; pass one",))


# ---------------------------------------------------------------- checkpoints users bring

def base_model_source(tmp: Path, world: World) -> Path:
    """A public sentence-embedding BERT's layout: BertModel weights (no masked-LM head, a pooler) in
    float16, with its tokenizer."""
    from transformers import BertModel  # this section's own imports

    from ligo.models.loading import load_config

    folder = tmp / "minilm"
    BertModel(load_config("bert", str(world.small_config))).half().save_pretrained(str(folder))
    for file in world.tokenizer.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    return folder


def other_vocabulary(tmp: Path, world: World) -> Path:
    """A tokenizer of the world's alphabet and size, trained on other words (half the sample's
    lines, each word reversed): not the vocabulary of the world's models."""
    text = tmp / "reversed.txt"
    lines = (world.text_dir / "en.train.raw").read_text().splitlines()[::2]
    text.write_text("".join(" ".join(word[::-1] for word in line.split()) + "\n" for line in lines))
    folder = tmp / "bert-reversed-uncased"
    train_tokenizer("bert-uncased", [text], 1000).save_pretrained(str(folder))
    return folder


@case
def grow_from_a_base_model_without_its_head(tmp, world):
    # Accepted once: the masked-LM head was made at random, another in every run of the same --seed.
    source = base_model_source(tmp, world)
    return Case(grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source),
                (f"model '{source}' has no masked-LM head (cls.predictions.*: a BertModel checkpoint)",
                 "pass --source_head random to initialise one from --seed"))


@case
def grow_from_a_source_without_a_tokenizer(tmp, world):
    # Accepted once: the grown folder held no tokenizer, and AutoTokenizer built a 5-token one.
    source = save_model(tmp / "bare", world.small_config, "bert")
    return Case(grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source),
                (f"no tokenizer to save with the grown model: source model '{source}' holds none",
                 "pass the tokenizer the source was trained with as --tokenizer_name"))


@case
def grow_with_a_tokenizer_of_another_vocabulary(tmp, world):
    other = other_vocabulary(tmp, world)
    return Case(grow(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", world.small_model,
                     "--tokenizer_name", other),
                (f"tokenizer '{other}' is not the vocabulary of model '{world.small_model}': token '",
                 "leave --tokenizer_name out to save the source's own"))


@case
def operator_with_a_tokenizer_of_another_vocabulary(tmp, world):
    from tokenization.tokenize_dataset import tokenize_file  # this section's own imports

    other = other_vocabulary(tmp, world)
    text_dir = tmp / "text"  # the world's text, tokenised with it: the run's data is its own
    text_dir.mkdir()
    for name in ("en.train.raw", "en.valid.raw"):
        (text_dir / name).write_bytes((world.text_dir / name).read_bytes())
        tokenize_file(text_dir / name, str(other), processes=1)
    return Case(operator(world, tmp, "--source_model_path", world.small_model, "--tokenizer_name", other,
                         "--train_data_file", text_dir / "en.train.raw", "--eval_data_file", text_dir / "en.valid.raw"),
                (f"tokenizer '{other}' is not the vocabulary of model '{world.small_model}'",
                 f"tokenise the data with its own tokenizer (in '{world.small_model}')"))


@case
def lm_grown_from_a_base_model_without_its_head(tmp, world):
    source = base_model_source(tmp, world)
    return Case(lm(world, tmp, "--grow_scheme", "bert2bert_fpi", "--source_model_path", source,
                   config=world.large_config),
                (f"model '{source}' has no masked-LM head", "pass --source_head random"))


# ---------------------------------------------------------------- running and checking

def files_in(folder: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def run_case(prepared: Case, python: str):
    """The case's command, with the warm interpreter for python (none is killed or launched by torchrun)."""
    argv = [python if arg == PY else str(arg) for arg in prepared.argv]
    return run(argv, env={**ENV, "PYTHON": python, **prepared.env}, check=False)


@pytest.fixture(scope="module")
def outcomes(request, tmp_path_factory, warm_python) -> dict:
    """Every selected case, prepared in its own folder and run: name -> (case, result, files it wrote)."""
    world = build_world(tmp_path_factory.mktemp("world"))
    selected = list(dict.fromkeys(item.callspec.params["name"] for item in request.session.items  # once each
                                  if item.module is request.module and hasattr(item, "callspec")))
    prepared = {}
    for name in selected:
        folder = tmp_path_factory.mktemp(name)
        built = CASES[name](folder, world)
        prepared[name] = (folder, built, files_in(folder))
    with ThreadPoolExecutor(WORKERS) as pool:
        results = dict(zip(prepared, pool.map(run_case, [built for _, built, _ in prepared.values()],
                                                   [warm_python] * len(prepared))))
    return {name: (built, results[name], sorted(str(p) for p, stat in files_in(folder).items()
                                                       if before.get(p) != stat))
            for name, (folder, built, before) in prepared.items()}


def test_the_matrix_is_wide():
    tools = {name.split("_")[0] for name in CASES}
    assert len(CASES) >= 92
    assert tools == {"wiki", "tokenize", "train", "lm", "operator", "grow", "report", "unigram", "glue", "squad",
                     "image"}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_refused_in_one_line(name, outcomes):
    expected, result, written = outcomes[name]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == expected.code, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and lines[-1].startswith("error: "), result.stderr
    for text in expected.expect:
        assert text in lines[-1], lines[-1]
    assert written == [], f"a refused command wrote {written}"
