"""Tokenise a text file into the authors' three files, next to it:

- ``<file>.<tok>``: token ids as text, one line per kept line;
- ``<file>.<tok>.hdf5``: the same ids as one flat int32 dataset ``tokens`` (attribute ``max_id``: its largest id);
- ``<file>.<tok>.line``: the start offset of each kept line in ``tokens``, then the total;
- with ``--split_sentences`` (spaCy) or ``--lines-are-sents``, also ``<file>.<tok>.sent``:
  the start offset of each sentence, then the total.

    python -m tokenization.tokenize_dataset data/wiki-cased en.train.raw bert-base-uncased

Lines of fewer than 5 words (titles and fragments) are dropped, as by the authors. Lines
are encoded in batches by the fast tokenizer, in worker processes, straight into numpy
and HDF5. Afterwards the first and last lines are checked against a fresh, line-by-line
tokenisation; outputs are written under ``.partial`` names and renamed only then.
"""

import argparse
import collections
import functools
import itertools
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from ligo.base.command_line import OneLineParser
from ligo.base.errors import UserError, exit_on_user_error
from ligo.data.text_files import count_lines
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag

MIN_WORDS = 5
CHUNK_LINES = 1000  # small enough that the last chunks spread over all workers
CHECK_LINES = 10


def keep_line(line: str) -> bool:
    """The authors' filter: drop empty lines, one-word titles and lines under 5 words, "words"
    being what splitting the stripped line on single spaces gives, as theirs: two spaces in a row
    count an empty word, a tab or a non-breaking space joins two. (Theirs applied it where the
    data folder's name holds "wiki", which all of theirs did; ours applies it to every file.)"""
    # maxsplit: no need to split a long line past its fifth word
    return len(line.strip().split(" ", MIN_WORDS - 1)) >= MIN_WORDS


@dataclass
class EncodedChunk:
    n_lines: int  # lines read, kept or not
    lengths: np.ndarray  # tokens per kept line
    ids: np.ndarray  # all ids of the chunk, flat, int32
    text: str  # the ids as text lines
    sentence_starts: np.ndarray | None  # token offsets of sentences, relative to the chunk


@functools.cache
def _cached_tokenizer(name: str):
    """The tokenizer, one load per worker process, with no truncation and no padding: a folder's
    tokenizer.json may store both (many hub folders truncate and pad to 128), and every line would
    then come out as exactly that many ids."""
    tokenizer = load_tokenizer(name)
    backend = tokenizer.backend_tokenizer
    if backend.truncation is not None or backend.padding is not None:
        print(f"note: tokenizer '{name}' stores truncation {backend.truncation} and padding {backend.padding}; "
              "tokenising whole lines without either", flush=True)
        backend.no_truncation()
        backend.no_padding()
    return tokenizer


@functools.cache
def _id_strings(name: str) -> list[str]:
    # Looking ids up in a table is several times faster than str() on each.
    backend = _cached_tokenizer(name).backend_tokenizer
    return [str(i) for i in range(backend.get_vocab_size(with_added_tokens=True))]


def encode_chunk(lines: list[str], tokenizer_name: str, split_sentences: bool, lang: str) -> EncodedChunk:
    tokenizer = _cached_tokenizer(tokenizer_name)
    texts = [line.strip() for line in lines if keep_line(line)]
    if not texts:  # the tokenizer fails on an empty batch
        empty = np.zeros(0, np.int64)
        return EncodedChunk(len(lines), empty, empty.astype(np.int32), "", empty if split_sentences else None)
    # The Rust tokenizer directly: transformers' wrapper adds per-line Python work.
    backend = tokenizer.backend_tokenizer
    encode = backend.encode_batch if split_sentences else backend.encode_batch_fast  # _fast: no offsets
    kept = [(text, e) for text, e in zip(texts, encode(texts, add_special_tokens=False)) if e.ids]
    id_lists = [e.ids for _, e in kept]
    lengths = np.fromiter((len(ids) for ids in id_lists), dtype=np.int64, count=len(id_lists))
    flat = np.fromiter(itertools.chain.from_iterable(id_lists), dtype=np.int32, count=int(lengths.sum()))
    as_text = _id_strings(tokenizer_name).__getitem__
    ids_text = "".join(" ".join(map(as_text, ids)) + "\n" for ids in id_lists)
    sentence_starts = None
    if split_sentences:
        sentence_starts = _sentence_token_starts(
            [text for text, _ in kept], [e.offsets for _, e in kept], lengths, lang
        )
    return EncodedChunk(len(lines), lengths, flat, ids_text, sentence_starts)


def _sentence_token_starts(texts, offsets, lengths, lang) -> np.ndarray:
    from tokenization.sentences import sentence_char_starts  # spaCy takes a second to import: only when asked

    line_starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if len(lengths) else np.zeros(0, np.int64)
    starts = []
    for line_start, char_starts, token_offsets in zip(line_starts, sentence_char_starts(texts, lang), offsets):
        token_char_starts = np.array([start for start, _ in token_offsets])
        # A sentence starts at the first token that begins at or after its first character.
        token_index = np.unique(np.searchsorted(token_char_starts, char_starts))
        token_index = token_index[token_index < len(token_char_starts)]
        starts.append(line_start + np.union1d([0], token_index))
    return np.concatenate(starts).astype(np.int64) if starts else np.zeros(0, np.int64)


def read_chunks(path: Path, size: int):
    with path.open(encoding="utf-8") as f:
        while chunk := list(itertools.islice(f, size)):
            yield chunk


def ordered_map(fn, items, processes: int):
    """``map`` in the input's order, over worker processes when there are several."""
    if processes == 1:
        yield from map(fn, items)
        return
    # Each worker tokenises on one thread; the processes give the parallelism.
    os.environ["RAYON_NUM_THREADS"] = "1"
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        yield from pool.imap(fn, items)


class OutputFiles:
    """The output paths, written under ``.partial`` names until ``commit``."""

    def __init__(self, source: Path, tag: str, with_sentences: bool):
        base = source.with_name(f"{source.name}.{tag}")
        self.final = {"ids": base, "hdf5": Path(f"{base}.hdf5"), "line": Path(f"{base}.line")}
        if with_sentences:
            self.final["sent"] = Path(f"{base}.sent")
        self.partial = {key: Path(f"{path}.partial") for key, path in self.final.items()}

    def discard(self):
        for path in self.partial.values():
            path.unlink(missing_ok=True)

    def commit(self):
        for key in self.final:
            os.replace(self.partial[key], self.final[key])


def write_offsets(path: Path, offsets: np.ndarray):
    path.write_text("\n".join(map(str, offsets.tolist())) + "\n")


def tokenize_file(
    source: Path,
    tokenizer_name: str,
    processes: int = 1,
    lines_are_sents: bool = False,
    split_sentences: bool = False,
    lang: str = "en",
) -> dict[str, Path]:
    if not source.is_file():
        raise UserError(f"text file '{source}' does not exist; prepare it with data/wiki/get_data_cased.bash")
    if source.stat().st_size == 0:
        raise UserError(f"text file '{source}' is empty; prepare the data again")
    if processes < 1:
        raise UserError(f"--processes must be at least 1, got {processes}")
    if lines_are_sents and split_sentences:
        raise UserError("--lines-are-sents and --split_sentences exclude each other; pick one")
    # Loaded (and fails, if it cannot load) before any output is written. Cached in this
    # process before the workers fork, so they inherit it instead of loading it again.
    tokenizer = _cached_tokenizer(tokenizer_name)
    _id_strings(tokenizer_name)
    outputs = OutputFiles(source, tokenizer_tag(tokenizer_name), lines_are_sents or split_sentences)
    try:
        line_starts, sentence_starts = _encode_to_partial_files(
            source, tokenizer_name, outputs.partial, processes, split_sentences, lang
        )
        write_offsets(outputs.partial["line"], line_starts)
        if lines_are_sents:
            write_offsets(outputs.partial["sent"], line_starts)
        elif split_sentences:
            write_offsets(outputs.partial["sent"], sentence_starts)
        validate(source, tokenizer, outputs.partial)
    except UnicodeDecodeError as err:
        outputs.discard()
        raise UserError(f"text file '{source}' is not UTF-8 text ({err.reason}: byte {err.object[err.start]:#04x}); "
                        "convert it to UTF-8 (e.g. `iconv -t UTF-8`) or pass the prepared .raw text") from None
    except BaseException:
        outputs.discard()
        raise
    outputs.commit()
    return outputs.final


def _encode_to_partial_files(source, tokenizer_name, paths, processes, split_sentences, lang):
    encode = functools.partial(
        encode_chunk, tokenizer_name=tokenizer_name, split_sentences=split_sentences, lang=lang
    )
    total, largest = 0, -1
    line_lengths, sentence_starts = [], []
    with h5py.File(paths["hdf5"], "w") as h5, paths["ids"].open("w") as ids_file, tqdm(
        total=count_lines(source), desc=f"tokenizing {source.name}", unit=" lines"
    ) as bar:
        tokens = h5.create_dataset("tokens", shape=(0,), maxshape=(None,), dtype="int32", chunks=(1 << 16,))
        chunks = read_chunks(source, CHUNK_LINES)
        for chunk in ordered_map(encode, chunks, processes):
            tokens.resize((total + len(chunk.ids),))
            tokens[total:] = chunk.ids
            ids_file.write(chunk.text)
            if chunk.sentence_starts is not None:
                sentence_starts.append(chunk.sentence_starts + total)
            line_lengths.append(chunk.lengths)
            total += len(chunk.ids)
            largest = max(largest, int(chunk.ids.max(initial=-1)))
            bar.update(chunk.n_lines)
        tokens.attrs["max_id"] = largest  # lets training check the ids against its tokenizer without a scan
    if total == 0:
        raise UserError(f"no line of '{source}' has {MIN_WORDS} or more words; is it the right file?")
    lengths = np.concatenate(line_lengths)
    line_starts = np.concatenate([[0], np.cumsum(lengths)])
    sentences = np.concatenate(sentence_starts + [[total]]) if split_sentences else None
    return line_starts, sentences


def first_kept_lines(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return list(itertools.islice((line for line in f if keep_line(line)), n))


def last_lines(path: Path, n: int, predicate=lambda line: True, block: int = 1 << 20) -> list[str]:
    """The last ``n`` lines of a file that satisfy ``predicate``, reading from the end."""
    found: collections.deque = collections.deque()
    with path.open("rb") as f:
        end = f.seek(0, os.SEEK_END)
        tail = b""
        while end > 0 and len(found) < n:
            start = max(0, end - block)
            f.seek(start)
            data = f.read(end - start) + tail
            lines = data.split(b"\n")
            # The first piece may be a partial line unless we reached the file's start.
            tail = lines.pop(0) if start > 0 else b""
            for raw in reversed(lines):
                line = raw.decode("utf-8")
                if line and predicate(line) and len(found) < n:
                    found.appendleft(line)
            end = start
    return list(found)


def validate(source: Path, tokenizer, paths: dict[str, Path]):
    """Check the outputs' first and last lines against a fresh, line-by-line tokenisation."""

    def fresh(lines):
        ids = [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line.strip())) for line in lines]
        return [x for x in ids if x]

    head = fresh(first_kept_lines(source, CHECK_LINES))
    tail = fresh(last_lines(source, CHECK_LINES, keep_line))
    offsets = np.loadtxt(paths["line"], dtype=np.int64, ndmin=1)
    with h5py.File(paths["hdf5"], "r") as h5:
        tokens = h5["tokens"]
        head_flat = np.concatenate([np.asarray(x) for x in head])
        tail_flat = np.concatenate([np.asarray(x) for x in tail])
        _check(np.array_equal(tokens[: len(head_flat)], head_flat), "first lines' tokens in hdf5", source)
        _check(np.array_equal(tokens[-len(tail_flat) :], tail_flat), "last lines' tokens in hdf5", source)
        _check(offsets[-1] == len(tokens), ".line total vs hdf5 length", source)
    head_starts = np.concatenate([[0], np.cumsum([len(x) for x in head])])
    _check(np.array_equal(offsets[: len(head_starts)], head_starts), "first .line offsets", source)
    tail_starts = offsets[-1] - np.concatenate([np.cumsum([len(x) for x in reversed(tail)])[::-1], [0]])
    _check(np.array_equal(offsets[-len(tail_starts) :], tail_starts), "last .line offsets", source)
    as_text = [" ".join(map(str, ids)) for ids in head], [" ".join(map(str, ids)) for ids in tail]
    _check(_lines(paths["ids"], len(head)) == as_text[0], "first lines of the id text file", source)
    _check(last_lines(paths["ids"], len(tail)) == as_text[1], "last lines of the id text file", source)
    tqdm.write(f"validated {source.name}: first and last {CHECK_LINES} lines match a fresh tokenisation")


def _lines(path: Path, n: int) -> list[str]:
    with path.open(encoding="utf-8") as f:
        return [line.rstrip("\n") for line in itertools.islice(f, n)]


def _check(ok: bool, what: str, source: Path):
    if not ok:
        raise RuntimeError(f"validation failed for {source}: {what} differ from a fresh tokenisation")


@exit_on_user_error
def main():
    parser = OneLineParser(prog="python -m tokenization.tokenize_dataset", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("fname", help="file name inside data_dir, e.g. en.train.raw")
    parser.add_argument("tokenizer_name", help="hub id (bert-base-uncased) or a local tokenizer folder")
    parser.add_argument("--processes", type=int, default=multiprocessing.cpu_count())
    parser.add_argument("--lines-are-sents", dest="lines_are_sents", action="store_true",
                        help="lines are sentences already: also write them as the .sent index")
    parser.add_argument("--split_sentences", action="store_true",
                        help="find sentences with spaCy's sentencizer and write the .sent index")
    parser.add_argument("--lang", default="en", help="language of the text, for the sentencizer")
    args = parser.parse_args()
    outputs = tokenize_file(
        args.data_dir / args.fname, args.tokenizer_name, args.processes, args.lines_are_sents,
        args.split_sentences, args.lang,
    )
    print("wrote " + ", ".join(str(p) for p in outputs.values()))


if __name__ == "__main__":
    main()
