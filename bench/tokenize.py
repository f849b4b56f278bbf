"""Tokenisation: time to turn a raw text file into validated ``.hdf5`` and ``.line`` files.

- ours: ``tokenization.tokenize_dataset.tokenize_file``, with 1 process and with one per core;
- baseline: the authors' procedure, reimplemented below (``authors_tokenize_file``).

Both read the same input (``en.train.raw`` of ``make mini``, concatenated COPIES times) with
the same tokenizer, each run in a fresh temporary folder and a freshly forked process, and
every run's outputs must equal the baseline's, byte for byte.
"""

import collections
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
import traceback
from pathlib import Path

import h5py
import numpy as np

from ligo.errors import UserError
from ligo.tokenizer import load_tokenizer, tokenizer_tag
from tokenization.tokenize_dataset import keep_line, tokenize_file

REPO = Path(__file__).resolve().parents[1]
SOURCE = REPO / "data/wiki-sample-cased/en.train.raw"
TOKENIZER = REPO / "data/tokenizers/bert-sample-uncased"
COPIES = 4  # ~10 MB of text, for a steadier measurement
REPEATS = 3  # the median of 3 runs is reported


# --- The baseline: the authors' procedure, one line at a time -----------------------------
# Written from the description of their tokenize_dataset.py (tokenise, then to_hdf5, then
# validate); the constants are theirs.
AUTHORS_CACHE_TOKENS = 100_000  # the ids text cache is flushed to disk every ~100k tokens
AUTHORS_HDF5_TOKENS = 1_000_000  # to_hdf5 resizes and writes the dataset every 1M tokens
AUTHORS_CHECK_LINES = 10


def authors_tokenize_file(source: Path, tokenizer_name: str) -> dict[str, Path]:
    """The baseline: the authors' procedure, producing the same three files as ours."""
    tokenizer = load_tokenizer(tokenizer_name)
    ids_path = source.with_name(f"{source.name}.{tokenizer_tag(tokenizer_name)}")
    paths = {"ids": ids_path, "hdf5": Path(f"{ids_path}.hdf5"), "line": Path(f"{ids_path}.line")}
    line_starts, n_tokens = [], 0
    cache, cache_tokens = "", 0
    with source.open(encoding="utf-8") as f, ids_path.open("w", encoding="utf-8") as ids_file:
        for line in f:
            if not keep_line(line):
                continue
            ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))
            line_starts.append(n_tokens)
            n_tokens += len(ids)
            cache += " ".join(map(str, ids)) + "\n"
            cache_tokens += len(ids)
            if cache_tokens >= AUTHORS_CACHE_TOKENS:
                ids_file.write(cache)
                cache, cache_tokens = "", 0
        ids_file.write(cache)
    with paths["line"].open("w") as f:
        for start in line_starts:
            f.write(f"{start}\n")
        f.write(f"{n_tokens}\n")
    authors_to_hdf5(paths["ids"], paths["hdf5"])
    authors_validate(source, tokenizer, paths["hdf5"])
    return paths


def authors_to_hdf5(ids_path: Path, hdf5_path: Path):
    """Their second pass: the ids text file, read back line by line, into one int32 dataset."""
    with ids_path.open(encoding="utf-8") as f, h5py.File(hdf5_path, "w") as h5:
        tokens = h5.create_dataset("tokens", (0,), maxshape=(None,), dtype="int32")
        buffer, written = [], 0

        def flush():
            nonlocal buffer, written
            tokens.resize((written + len(buffer),))
            tokens[written:] = buffer
            written += len(buffer)
            buffer = []

        for line in f:
            buffer.extend(map(int, line.split(" ")))
            if len(buffer) >= AUTHORS_HDF5_TOKENS:
                flush()
        if buffer:
            flush()


def authors_validate(source: Path, tokenizer, hdf5_path: Path):
    """Their check: the first and last kept lines, tokenised again, against the HDF5 tokens."""
    head, tail = [], collections.deque(maxlen=AUTHORS_CHECK_LINES)
    with source.open(encoding="utf-8") as f:
        for line in f:
            if keep_line(line):
                if len(head) < AUTHORS_CHECK_LINES:
                    head.append(line)
                tail.append(line)

    def ids_of(lines):
        return [i for line in lines for i in tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line))]

    first, last = ids_of(head), ids_of(tail)
    with h5py.File(hdf5_path, "r") as h5:
        tokens = h5["tokens"]
        if list(tokens[: len(first)]) != first or list(tokens[len(tokens) - len(last) :]) != last:
            raise RuntimeError(f"baseline validation failed for {source}")


# --- Measuring --------------------------------------------------------------------------


def in_fresh_process(fn, *args):
    """``fn(*args)`` in a forked child, silenced: no run inherits another's loaded tokenizer,
    tokenizer thread pool or environment (ours sets RAYON_NUM_THREADS for its workers)."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)

    def child():
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # progress bars and "validated" lines
        os.dup2(devnull, 2)
        try:
            sender.send(("ok", fn(*args)))
        except BaseException:
            sender.send(("error", traceback.format_exc()))

    process = context.Process(target=child)
    process.start()
    sender.close()
    try:
        status, value = receiver.recv()
    except EOFError:
        status, value = "error", "the child process died without an answer"
    process.join()
    if status != "ok":
        raise RuntimeError(f"{getattr(fn, '__name__', fn)} failed in its process:\n{value}")
    return value


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def make_input(folder: Path) -> Path:
    for path, what in [(SOURCE, "text file"), (TOKENIZER / "tokenizer.json", "tokenizer")]:
        if not path.is_file():
            raise UserError(f"the benchmark's {what} '{path}' is missing; run `make mini` first")
    source = folder / SOURCE.name
    with source.open("wb") as out:
        for _ in range(COPIES):
            with SOURCE.open("rb") as f:
                shutil.copyfileobj(f, out)
    return source


def read_outputs(paths: dict) -> dict:
    with h5py.File(paths["hdf5"], "r") as h5:
        tokens = h5["tokens"][:]
    return {"tokens": tokens, "line": paths["line"].read_bytes(), "ids": paths["ids"].read_bytes()}


def check_same(reference: dict, outputs: dict, name: str):
    different = [
        what
        for what, same in [
            ("HDF5 tokens", np.array_equal(reference["tokens"], outputs["tokens"])),
            (".line file", reference["line"] == outputs["line"]),
            ("ids text file", reference["ids"] == outputs["ids"]),
        ]
        if not same
    ]
    if different:
        raise RuntimeError(f"{name} and the baseline wrote different outputs: {', '.join(different)}")


def run() -> list[dict]:
    cores = os.cpu_count() or 1
    runners = {
        "baseline": (authors_tokenize_file,),
        "ours, 1 process": (tokenize_file, 1),
        f"ours, {cores} processes": (tokenize_file, cores),
    }
    times = {name: [] for name in runners}
    load_tokenizer(str(TOKENIZER))  # imports transformers' tokenizer modules once, for every child
    with tempfile.TemporaryDirectory(prefix="bench-tokenize-") as tmp:
        source = make_input(Path(tmp))
        reference = None
        for repeat in range(REPEATS):  # interleaved, so that a drift of the machine hits all alike
            for name, (fn, *args) in runners.items():
                folder = Path(tmp) / f"run{repeat}-{list(runners).index(name)}"
                folder.mkdir()
                copy = folder / source.name
                os.link(source, copy)
                times[name].append(in_fresh_process(timed, fn, copy, str(TOKENIZER), *args))
                tag = tokenizer_tag(str(TOKENIZER))
                base = folder / f"{copy.name}.{tag}"
                outputs = read_outputs({"ids": base, "hdf5": Path(f"{base}.hdf5"), "line": Path(f"{base}.line")})
                if reference is None:
                    reference = outputs
                check_same(reference, outputs, name)
                shutil.rmtree(folder)
                print(f"  {name}: {times[name][-1]:.2f} s", flush=True)
        n_lines = sum(1 for _ in source.open(encoding="utf-8"))
        megabytes = source.stat().st_size / 1e6
    n_tokens = len(reference["tokens"])
    n_kept = len(reference["line"].splitlines()) - 1
    median = {name: statistics.median(t) for name, t in times.items()}

    def figures(name):
        seconds = median[name]
        return (
            f"{seconds:.2f} s (runs {', '.join(f'{t:.2f}' for t in times[name])}); "
            f"{n_lines / seconds:,.0f} lines/s; {n_tokens / seconds / 1e6:.2f}M tokens/s"
        )

    data = (
        f"{SOURCE.name} x{COPIES}: {megabytes:.1f} MB, "
        f"{n_lines:,} lines ({n_kept:,} kept), {n_tokens / 1e6:.2f}M tokens, {TOKENIZER.name}; "
        f"median of {REPEATS} runs, each in a fresh process; outputs identical to the baseline's"
    )
    ours_many = f"ours, {cores} processes"
    rows = [
        {"benchmark": "tokenisation, ours with 1 process", "ratio": median["baseline"] / median["ours, 1 process"],
         "ours": figures("ours, 1 process"), "baseline": figures("baseline"), "notes": data},
        {"benchmark": f"tokenisation, ours with {cores} processes", "ratio": median["baseline"] / median[ours_many],
         "ours": figures(ours_many), "baseline": figures("baseline"),
         "notes": f"{cores} processes are {median['ours, 1 process'] / median[ours_many]:.2f}x "
                  f"as fast as 1 ({cores} cores)"},
    ]
    return rows
