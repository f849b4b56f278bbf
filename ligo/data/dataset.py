"""Blocks of tokens from the HDF5 token stream that tokenization/tokenize_dataset.py writes.

``<file>.<tag>.hdf5`` holds one flat int dataset ``tokens``. By default the stream is cut
into consecutive blocks of ``block_size`` tokens (the last, partial block is dropped);
with ``pack_sentences`` whole sentences (``.sent`` index) or lines (``.line``) are packed
greedily into blocks of at most ``block_size`` tokens, and a unit longer than a block is
cut. Each block is wrapped in the family's special tokens: ``[CLS] ... [SEP]`` for BERT,
``<s> ... </s>`` for RoBERTa, so a block of 126 tokens makes a sequence of 128.

A family with a document separator (GPT-2's ``<|endoftext|>``) reads the stream with the
separator after every line (from the ``.line`` index; a line is a document), inserted as a
block is read: the file stays the one every family reads. GPT-2's blocks start with one more
``<|endoftext|>`` and have no end token, so that a causal model predicts every token of the
stream, a block's first included, exactly once.

The file is opened lazily in each process that reads it (DataLoader workers, DDP ranks)
and never loaded whole. Its ids are checked against the tokenizer's vocabulary up front
(from its ``max_id`` attribute, or read through once in blocks where it has none).

Items are indexed by a *key*: ``dataset[key]`` is block ``key % len(dataset)``, and the
key travels with the item so that masking can be seeded by it. A sampler that wants a
fresh mask every epoch passes ``epoch * len(dataset) + index``.
"""

import os
from pathlib import Path

import h5py
import numpy as np
import torch
from torch.utils.data import Dataset

from ligo.base.errors import UserError

ID_SCAN_BLOCK = 1 << 24  # tokens read at a time when checking a file's ids


def token_file(text_file: str | Path, tag: str) -> Path:
    return Path(f"{text_file}.{tag}.hdf5")


def pack_units(offsets: np.ndarray, block_size: int) -> np.ndarray:
    """Greedily pack consecutive units (``offsets``: unit starts, then the total) into
    blocks of at most ``block_size`` tokens. Returns an (n, 2) array of [start, end)."""
    total = int(offsets[-1])
    spans = []
    start = 0
    while start < total:
        # The furthest unit boundary that keeps the block within block_size.
        end = int(offsets[np.searchsorted(offsets, start + block_size, side="right") - 1])
        if end <= start:  # a single unit longer than a block: cut it
            end = start + block_size
        spans.append((start, end))
        start = end
    return np.asarray(spans, dtype=np.int64).reshape(-1, 2)


class BlockDataset(Dataset):
    """``start_token``, ``end_token``, ``separator_token``: the tokenizer's special tokens (attribute
    names, e.g. ``cls_token``) before each block, after it, and after each line; ``None``: none."""

    def __init__(self, text_file, tokenizer_tag: str, tokenizer, block_size: int, pack_sentences: bool = False,
                 start_token: str | None = "cls_token", end_token: str | None = "sep_token",
                 separator_token: str | None = None):
        self.path = token_file(text_file, tokenizer_tag)
        self.block_size = block_size
        self.start_id, self.end_id, self.separator_id = (_special_id(tokenizer, role)
                                                         for role in (start_token, end_token, separator_token))
        n_tokens = self._inspect_file(tokenizer)
        if block_size < 1:
            raise UserError(f"--block_size must be at least 1, got {block_size}")
        if block_size > n_tokens:
            raise UserError(
                f"--block_size {block_size} is larger than the {n_tokens} tokens in '{self.path}'; "
                "use a smaller block size or more text"
            )
        # Positions in the stream where a separator stands (none without one).
        self.separators = np.zeros(0, dtype=np.int64)
        if self.separator_id is not None:
            if pack_sentences:
                raise UserError(f"--pack_sentences packs whole sentences into blocks; this model's data is the "
                                f"contiguous stream with {separator_token} between documents: leave it out")
            line_ends = self._unit_offsets(n_tokens, (".line",))[1:]
            self.separators = line_ends + np.arange(len(line_ends))  # each after its line, counting those before
            n_tokens += len(line_ends)
            if block_size > n_tokens:
                raise UserError(f"--block_size {block_size} is larger than the {n_tokens} tokens in '{self.path}'; "
                                "use a smaller block size or more text")
        if pack_sentences:
            self.spans = pack_units(self._unit_offsets(n_tokens), block_size)
        else:
            n_blocks = n_tokens // block_size
            starts = np.arange(n_blocks, dtype=np.int64) * block_size
            self.spans = np.stack([starts, starts + block_size], axis=1)
        self.n_tokens = n_tokens
        self._file = None
        self._pid = None

    def _inspect_file(self, tokenizer) -> int:
        if not self.path.is_file():
            raise UserError(
                f"token file '{self.path}' does not exist; tokenise the text first "
                "(python -m tokenization.tokenize_dataset DATA_DIR FILE TOKENIZER)"
            )
        try:
            with h5py.File(self.path, "r") as h5:
                if "tokens" not in h5:
                    raise UserError(
                        f"'{self.path}' has no dataset 'tokens' (found: {', '.join(h5.keys()) or 'nothing'}); "
                        "it was not written by tokenization/tokenize_dataset.py, tokenise again"
                    )
                tokens = h5["tokens"]
                if tokens.ndim != 1 or not np.issubdtype(tokens.dtype, np.integer):
                    raise UserError(
                        f"'tokens' in '{self.path}' is {tokens.dtype} of shape {tokens.shape}, "
                        "expected a flat integer array; tokenise again"
                    )
                if len(tokens) == 0:
                    raise UserError(f"'{self.path}' holds no tokens; tokenise the text again "
                                    "(python -m tokenization.tokenize_dataset DATA_DIR FILE TOKENIZER)")
                _check_ids_fit(self.path, tokens, tokenizer)
                return len(tokens)
        except OSError as err:
            raise UserError(f"'{self.path}' is not a readable HDF5 file ({err}); tokenise again") from None

    def _unit_offsets(self, n_tokens: int, suffixes=(".sent", ".line")) -> np.ndarray:
        base = str(self.path)[: -len(".hdf5")]
        for suffix in suffixes:
            index = Path(base + suffix)
            if index.is_file():
                offsets = np.loadtxt(index, dtype=np.int64, ndmin=1)
                if len(offsets) == 0 or offsets[-1] != n_tokens or np.any(np.diff(offsets) < 0):
                    raise UserError(f"index '{index}' does not match '{self.path}'; tokenise again")
                return offsets
        what = "the data of this model" if suffixes == (".line",) else "--pack_sentences"
        raise UserError(f"{what} needs {' or '.join(repr(base + s) for s in suffixes)} beside '{self.path}'; "
                        "tokenise again")

    def __len__(self) -> int:
        return len(self.spans)

    def _tokens(self):
        # h5py handles must not cross fork(): each process opens its own. The dataset object is
        # kept too: looking it up by name costs most of a block's read.
        if self._file is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._pid = os.getpid()
            self._token_array = self._file["tokens"]
        return self._token_array

    def __getitem__(self, key: int) -> dict:
        start, end = self.spans[key % len(self.spans)]
        block = self._stream(int(start), int(end))
        parts = [[self.start_id]] if self.start_id is not None else []
        parts.append(block)
        if self.end_id is not None:
            parts.append([self.end_id])
        input_ids = np.concatenate(parts).astype(np.int64) if len(parts) > 1 else block.astype(np.int64)
        return {"input_ids": torch.from_numpy(input_ids), "mask_key": int(key)}

    def _stream(self, start: int, end: int) -> np.ndarray:
        """Positions [start, end) of the token stream: the file's tokens, with the separators."""
        if not len(self.separators):
            return self._tokens()[start:end]
        first, last = np.searchsorted(self.separators, [start, end])  # the separators inside
        tokens = self._tokens()[start - first:end - last]  # the file's tokens, less the separators before
        inside = self.separators[first:last] - start  # their places in the block
        return np.insert(tokens, inside - np.arange(len(inside)), self.separator_id)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None
        state["_pid"] = None
        state.pop("_token_array", None)
        return state


def _check_ids_fit(path: Path, tokens, tokenizer):
    """Ids past the tokenizer's vocabulary (a file tokenised by another tokenizer of the same
    name) would index past the model's embeddings in the middle of training."""
    if "max_id" in tokens.attrs:  # written by tokenize_dataset.py
        largest = int(tokens.attrs["max_id"])
    else:  # an older file: read it through once, in blocks
        largest = max(int(tokens[i:i + ID_SCAN_BLOCK].max()) for i in range(0, len(tokens), ID_SCAN_BLOCK))
    if largest >= len(tokenizer):
        raise UserError(
            f"'{path}' holds token id {largest} but tokenizer '{tokenizer.name_or_path}' has only {len(tokenizer)} "
            "tokens: it was tokenised with another tokenizer; tokenise it again with this one "
            "(python -m tokenization.tokenize_dataset DATA_DIR FILE TOKENIZER)"
        )


def _special_id(tokenizer, role: str | None) -> int | None:
    if role is None:
        return None
    token_id = getattr(tokenizer, f"{role}_id")
    if token_id is None:
        raise UserError(
            f"tokenizer {type(tokenizer).__name__} ('{tokenizer.name_or_path}') has no {role}, which this model's "
            f"data needs (BERT: cls_token and sep_token; GPT-2: eos_token); use a tokenizer of the model's family "
            "(python -m tokenization.train_tokenizer --kind ...)"
        )
    return token_id
