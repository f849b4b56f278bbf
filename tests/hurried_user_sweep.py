"""What a hurried user types, over every tool (docs/reliability.md): every numeric flag with nan,
inf, -1 and 0; the path flags with a missing path, a file for a folder (or the reverse), an
unwritable place; everything inside a folder whose name has spaces. Not a test (about 560
commands, ~9 min here): a sweep to rerun when flags change; what it finds goes into
tests/test_bad_inputs.py.

    PYTHONPATH=tests python tests/hurried_user_sweep.py /tmp/sweep > sweep.jsonl

One JSON line per command: verdict (accepted: exit 0; refused: exit 2 with an "error:" line;
FAIL: a traceback or another exit code; data/wiki/split_lines.py, run inside the bash data
scripts, exits 1 with its one line by design), tool, flag, value, exit code, last stderr line.
Read the accepted ones: a value that makes no sense there is a failure too."""
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import warm_python as warm
from glue_fixtures import write_glue
from squad_fixtures import write_squad
from tiny_world import ENV, build_world, save_operator_run
from training_helpers import grow_command, lm_command

from ligo.finetune.glue.arguments import build_glue_parser
from ligo.finetune.squad.arguments import build_squad_parser
from ligo.tasks.arguments import build_parser

REPO = Path(__file__).resolve().parents[1]
root = Path(sys.argv[1])
only = sys.argv[2:]  # tool names, to sweep only those
shutil.rmtree(root, ignore_errors=True)
spaced = root / "with spaces"
with contextlib.redirect_stdout(sys.stderr):  # stdout holds the JSON lines only
    world = build_world(spaced / "world")
    glue_dir = write_glue(spaced / "glue")
    # The tiny world's words, in sentences with a year and without a digit (what write_squad asks).
    words = (world.text_dir / "en.train.raw").read_text().split()
    squad_text = spaced / "squad-text.raw"
    squad_text.write_text("".join(
        f"{' '.join(words[i:i + 8])} in {1900 + i // 16} .\n{' '.join(words[i + 8:i + 16])} and more words here .\n"
        for i in range(0, 16 * 30, 16)))
    squad_dir = write_squad(spaced / "squad", squad_text, train_questions=16, dev_questions=8)
    op_run = spaced / "op-run"
    save_operator_run(world, op_run)
PY = "PY"
scratch = spaced / "scratch"
scratch.mkdir()
(scratch / "metrics.jsonl").write_text('{"step": 0, "flops": 0, "train_seconds": 0, "eval_loss": 5.0}\n'
                                       '{"step": 10, "flops": 100, "train_seconds": 1.0, "eval_loss": 4.0}\n')
a_file = spaced / "a file.txt"
a_file.write_text("x\n")
a_dir = spaced / "a folder"
a_dir.mkdir()
UNWRITABLE = "/proc/ligo out"
NUM_VALUES = ["nan", "inf", "-1", "0"]

def numeric(parser):
    for a in parser._actions:
        if a.option_strings and a.type in (int, float) :
            yield a.option_strings[-1], a
def counter():
    c = itertools.count()
    return lambda: next(c)
n = counter()

def out(): return spaced / f"out-{n()}"
cases = []  # (tool, flag, value, argv)
def lm(*extra):
    return [PY if x == sys.executable else x for x in lm_command(world.run_config, world.small_config, out(), *extra)]
def op(*extra):
    argv = grow_command(world.run_config, world.large_config, out(), "--tune_depth", "--tune_width",
                        "--source_model_path", world.small_model, *extra)
    return [PY if x == sys.executable else x for x in argv]
def glue(*extra, o=None):
    return [PY, "run_glue.py", "--model_name_or_path", world.small_model, "--glue_dir", glue_dir, "--output_dir",
            o or out(), *"--max_steps 1 --max_seq_length 32 --seeds 1 --tasks rte".split(), *extra]
def squad(*extra, o=None):
    return [PY, "run_squad.py", "--model_name_or_path", world.small_model, "--squad_dir", squad_dir, "--output_dir",
            o or out(), *"--max_steps 1 --max_seq_length 64 --doc_stride 16 --seeds 1".split(), *extra]
def grow(*extra, o=None):
    return grow_with("--grow_scheme", "bert2bert_fpi", "--source_model_path", world.small_model, extra=extra, o=o)
def grow_with(*scheme, extra=(), o=None):
    """``python -m ligo.grow`` of the tiny world's large model, grown as ``scheme`` says."""
    return [PY, "-m", "ligo.grow", "--model_type", "bert", "--config_name", world.large_config, *scheme,
            "--output_dir", o or out(), *extra]
def rep(*extra, o=None, scratch_run=scratch):
    return [PY, "-m", "ligo.report", "--scratch", scratch_run, "--run", f"A={scratch}", "--output_dir", o or out(),
            *extra]
def tokenize(data_dir, tokenizer):
    return [PY, "tokenization/tokenize_dataset.py", data_dir, "en.valid.raw", tokenizer]
def train_tok(text, output_dir):
    return [PY, "tokenization/train_tokenizer.py", "--kind", "bert-uncased", "--input", text,
            "--output_dir", output_dir]
def split(output_dir, all_file=world.text_dir / "en.train.raw"):
    return [PY, "data/wiki/split_lines.py", all_file, output_dir]
def add(tool, flag, value, argv):
    cases.append((tool, flag, value, argv))
# baselines (must succeed)
for tool, command in [("lm", lm), ("operator", op), ("glue", glue), ("grow", grow), ("report", rep), ("squad", squad)]:
    add(tool, "-", "baseline", command())
skip_lm = {"--local_rank"}
for flag, _ in numeric(build_parser()):
    if flag in skip_lm:
        continue
    for v in NUM_VALUES:
        add("lm", flag, v, lm(flag, v))
        add("operator", flag, v, op(flag, v))
for flag, _ in numeric(build_glue_parser()):
    for v in NUM_VALUES:
        add("glue", flag, v, glue(flag, v))
for flag, _ in numeric(build_squad_parser()):
    for v in NUM_VALUES:
        add("squad", flag, v, squad(flag, v))
for v in NUM_VALUES:
    add("grow", "--seed", v, grow("--seed", v))
    add("tok", "--processes", v, [*tokenize(world.text_dir, world.tokenizer), "--processes", v])
    for flag in ("--vocab_size", "--min_frequency"):
        add("train_tok", flag, v, [*train_tok(world.text_dir / "en.valid.raw", out()), flag, v])
    for flag in ("--valid_lines", "--test_lines"):
        add("split", flag, v, [*split(out()), flag, v])
# paths
missing = spaced / "no such"
for flag in ["--train_data_file", "--eval_data_file"]:
    for name, v in [("missing", missing), ("folder", a_dir), ("unwritable", UNWRITABLE)]:
        add("lm", flag, name, lm(flag, v))
for flag in ["--tokenizer_name", "--config_name", "--cache_dir"]:
    for name, v in [("missing", missing), ("file", a_file), ("folder", a_dir)]:
        add("lm", flag, name, lm(flag, v))
for name, v in [("file", a_file), ("unwritable", UNWRITABLE), ("inside-file", a_file / "x")]:
    add("lm", "--output_dir", name, lm("--output_dir", v))
    add("glue", "--output_dir", name, glue(o=v))
    add("squad", "--output_dir", name, squad(o=v))
    add("grow", "--output_dir", name, grow(o=v))
    add("report", "--output_dir", name, rep(o=v))
    add("train_tok", "--output_dir", name, train_tok(world.text_dir / "en.valid.raw", v))
    add("split", "out_dir", name, split(v))
for flag in ["--source_model_path", "--pretrained_ligo_path"]:
    for name, v in [("missing", missing), ("file", a_file), ("empty-folder", a_dir)]:
        if flag == "--source_model_path":
            add("operator", flag, name, op(flag, v))
            add("grow", flag, name, grow(flag, v))
        else:
            add("lm", flag, name, lm(flag, v, "--grow_scheme", "ligo", "--source_model_path", world.small_model))
            add("grow", flag, name, grow_with("--grow_scheme", "ligo", "--pretrained_ligo_path", v))
for tool, command, data_flag in [("glue", glue, "--glue_dir"), ("squad", squad, "--squad_dir")]:
    for flag in ["--model_name_or_path", data_flag, "--tokenizer_name", "--results_table"]:
        for name, v in [("missing", missing), ("file", a_file), ("folder", a_dir)]:
            argv = command()
            if flag in argv:
                argv[argv.index(flag) + 1] = v
            else:
                argv += [flag, v]
            add(tool, flag, name, argv)
for name, v in [("missing", missing), ("file", a_file), ("folder", a_dir)]:
    add("report", "--scratch", name, rep(scratch_run=v))
    add("report", "--small", name, rep("--small", v))
    add("seeds", "--report", name, [PY, "-m", "ligo.report.seeds", "--report", f"s1={v}", "--output_dir", out()])
    add("unigram", "--scratch", name, [PY, "-m", "ligo.report.unigram", "--tokenizer_name", world.tokenizer,
                                       "--train_data_file", world.text_dir / "en.train.raw", "--scratch", v])
    add("unigram", "--config", name, [PY, "-m", "ligo.report.unigram", "--config", v, "--scratch", scratch])
    add("tok", "data_dir", name, tokenize(v, world.tokenizer))
    add("tok", "tokenizer", name, tokenize(world.text_dir, v))
    add("train_tok", "--input", name, train_tok(v, out()))
    add("split", "all_file", name, split(out(), all_file=v))
    add("diag", "--operator", name, [PY, "-m", "ligo.growth.diagnostics", "movement", "--operator", v])
    add("lm", "--config", name, [PY, "run_lm_distributed.py", "--config", v, "--config_name", world.small_config,
                                 "--output_dir", out()])
    add("glue", "--config", name, glue("--config", v))
    add("squad", "--config", name, squad("--config", v))
print(f"{len(cases)} cases in all", file=sys.stderr, flush=True)
if only:
    cases = [c for c in cases if c[0] in only]
(root / "warm").mkdir()
client, server = warm.start(root / "warm")

def go(case):
    tool, flag, value, argv = case
    argv = [client if x == PY else str(x) for x in argv]
    try:
        r = subprocess.run(argv, cwd=REPO, env={**os.environ, **ENV, "PYTHON": client}, capture_output=True, text=True,
                           timeout=180)
    except subprocess.TimeoutExpired:
        return case, "TIMEOUT", None, ""
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    last = lines[-1] if lines else ""
    if "Traceback" in r.stderr or r.returncode not in (0, 2):
        verdict = "FAIL"
    elif r.returncode == 2:
        verdict = "refused" if last.startswith("error:") or "error:" in last else "FAIL-msg"
    else:
        verdict = "accepted"
    if verdict == "FAIL":
        tb = lines[-3:]
        last = " || ".join(tb)
    return case, verdict, r.returncode, last[:400]

print(f"{len(cases)} cases", file=sys.stderr, flush=True)
with ThreadPoolExecutor(3) as pool:
    for case, verdict, rc, last in pool.map(go, cases):
        record = {"verdict": verdict, "tool": case[0], "flag": case[1], "value": case[2], "rc": rc, "last": last}
        print(json.dumps(record), flush=True)
server.kill()
