"""The HDF5 block dataset (ligo/data/dataset.py) on the real tokenised sample."""

import pickle

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from ligo.base.errors import UserError
from ligo.data.dataset import BlockDataset, pack_units
from ligo.data.text_run_data import text_run_data
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from ligo.models.loading import load_config
from ligo.tasks.arguments import parse_args


def dataset(text_dir, tokenizer_dir, block_size=126, split="valid", **kwargs):
    tokenizer = load_tokenizer(str(tokenizer_dir))
    return BlockDataset(text_dir / f"en.{split}.raw", tokenizer_tag(str(tokenizer_dir)), tokenizer, block_size,
                        **kwargs)


def stream(ds):
    with h5py.File(ds.path, "r") as h5:
        return h5["tokens"][:]


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_blocks_are_consecutive_and_wrapped_in_special_tokens(family, request):
    text_dir = request.getfixturevalue(f"{family}_tokenized")
    tokenizer_dir = request.getfixturevalue(f"{family}_tokenizer_dir")
    ds = dataset(text_dir, tokenizer_dir, block_size=126)
    tokens = stream(ds)
    tokenizer = load_tokenizer(str(tokenizer_dir))
    assert len(ds) == len(tokens) // 126
    for i in (0, 1, len(ds) - 1):
        item = ds[i]["input_ids"]
        assert item.dtype == torch.long and len(item) == 128
        assert item[0] == tokenizer.cls_token_id and item[-1] == tokenizer.sep_token_id
        assert item[1:-1].tolist() == tokens[i * 126 : (i + 1) * 126].tolist()
    expected = {"bert": ("[CLS]", "[SEP]"), "roberta": ("<s>", "</s>")}[family]
    assert (tokenizer.cls_token, tokenizer.sep_token) == expected


def test_keys_past_the_end_wrap_and_travel_with_the_item(bert_tokenized, bert_tokenizer_dir):
    ds = dataset(bert_tokenized, bert_tokenizer_dir)
    wrapped = ds[3 * len(ds) + 5]
    assert torch.equal(wrapped["input_ids"], ds[5]["input_ids"])
    assert wrapped["mask_key"] == 3 * len(ds) + 5


def test_pack_sentences_packs_whole_sentences(roberta_tokenized, roberta_tokenizer_dir):
    ds = dataset(roberta_tokenized, roberta_tokenizer_dir, block_size=64, pack_sentences=True)
    base = str(ds.path)[: -len(".hdf5")]
    sentence_starts = set(np.loadtxt(base + ".sent", dtype=np.int64).tolist())
    spans = ds.spans
    assert spans[0][0] == 0 and spans[-1][1] == ds.n_tokens
    assert np.array_equal(spans[1:, 0], spans[:-1, 1]), "blocks cover the stream without gaps"
    assert np.all(spans[:, 1] - spans[:, 0] <= 64)
    # a block ends at a sentence start unless one sentence alone overflows it (then it is cut, full)
    assert all(end in sentence_starts or end - start == 64 for start, end in spans)
    assert np.mean([end in sentence_starts for _, end in spans]) > 0.5
    assert max(len(ds[i]["input_ids"]) for i in range(len(ds))) <= 66


def test_pack_units_by_hand():
    # units of 3, 4, 10 and 2 tokens
    offsets = np.array([0, 3, 7, 17, 19])
    # a cut unit's remainder (15-17) packs with the next unit like any other unit
    assert pack_units(offsets, 8).tolist() == [[0, 7], [7, 15], [15, 19]]
    assert pack_units(offsets, 20).tolist() == [[0, 19]]
    assert pack_units(offsets, 3).tolist() == [[0, 3], [3, 6], [6, 7], [7, 10], [10, 13], [13, 16], [16, 19]]


def test_workers_read_the_same_items_as_the_main_process(bert_tokenized, bert_tokenizer_dir):
    ds = dataset(bert_tokenized, bert_tokenizer_dir)
    ds[0]  # open the file in this process first: workers must not share the handle
    direct = torch.stack([ds[i]["input_ids"] for i in range(len(ds))])
    loader = DataLoader(ds, batch_size=16, num_workers=2, collate_fn=lambda b: torch.stack([x["input_ids"] for x in b]))
    assert torch.equal(torch.cat(list(loader)), direct)
    assert torch.equal(pickle.loads(pickle.dumps(ds))[7]["input_ids"], direct[7])


@pytest.mark.parametrize("block_size, message", [(0, "at least 1"), (-5, "at least 1"), (10**9, "is larger than")])
def test_bad_block_size_is_refused(bert_tokenized, bert_tokenizer_dir, block_size, message):
    with pytest.raises(UserError, match=message):
        dataset(bert_tokenized, bert_tokenizer_dir, block_size=block_size)


def test_missing_token_file_names_the_fix(tmp_path, bert_tokenizer_dir):
    with pytest.raises(UserError, match="tokenise the text first"):
        dataset(tmp_path, bert_tokenizer_dir)


def test_hdf5_without_tokens_is_refused(tmp_path, bert_tokenizer_dir):
    tag = tokenizer_tag(str(bert_tokenizer_dir))
    with h5py.File(tmp_path / f"en.valid.raw.{tag}.hdf5", "w") as h5:
        h5.create_dataset("ids", data=np.arange(1000, dtype=np.int32))
    with pytest.raises(UserError, match="has no dataset 'tokens' \\(found: ids\\)"):
        dataset(tmp_path, bert_tokenizer_dir)


def test_not_an_hdf5_file_is_refused(tmp_path, bert_tokenizer_dir):
    tag = tokenizer_tag(str(bert_tokenizer_dir))
    (tmp_path / f"en.valid.raw.{tag}.hdf5").write_text("1 2 3\n")
    with pytest.raises(UserError, match="not a readable HDF5 file"):
        dataset(tmp_path, bert_tokenizer_dir)


def test_the_authors_split_sent_trains_on_contiguous_windows_as_their_code_did(roberta_tokenized,
                                                                               roberta_tokenizer_dir):
    # Their configs set split_sent = True and their dataset never read it (configs/bert_wiki.txt).
    authors = parse_args(["--config", "configs/roberta_wiki.txt", "--config_name", "configs/roberta-6L-512H.json",
                          "--output_dir", "unused", "--tokenizer_name", str(roberta_tokenizer_dir),
                          "--train_data_file", str(roberta_tokenized / "en.train.raw"),
                          "--eval_data_file", str(roberta_tokenized / "en.valid.raw")])
    assert authors.split_sent and not authors.pack_sentences
    authors.block_size = 64
    train = text_run_data(authors, load_config("roberta", "configs/roberta-6L-512H.json")).train
    assert np.array_equal(train.spans[:, 0], np.arange(len(train)) * 64)
    assert np.all(train.spans[:, 1] - train.spans[:, 0] == 64)


def _stream_with_separators(ds, separator_id):
    """The token stream with ``separator_id`` after every line, built the slow, obvious way."""
    tokens = stream(ds).tolist()
    offsets = np.loadtxt(str(ds.path)[: -len(".hdf5")] + ".line", dtype=np.int64).tolist()
    out = []
    for start, end in zip(offsets, offsets[1:]):
        out += tokens[start:end] + [separator_id]
    return out


@pytest.mark.parametrize("block_size", [1, 7, 63])
def test_a_separator_after_every_line_and_a_start_token_before_every_block(block_size, roberta_tokenized,
                                                                         roberta_tokenizer_dir):
    # GPT-2's data (its family: start eos_token, no end token, eos_token after each line), here on
    # RoBERTa's real tokenised sample with its </s>.
    tokenizer = load_tokenizer(str(roberta_tokenizer_dir))
    ds = dataset(roberta_tokenized, roberta_tokenizer_dir, block_size=block_size, start_token="eos_token",
                 end_token=None, separator_token="eos_token")
    eos = tokenizer.eos_token_id
    expected = _stream_with_separators(ds, eos)
    assert len(ds) == len(expected) // block_size
    assert expected.count(eos) == len(np.loadtxt(str(ds.path)[: -len(".hdf5")] + ".line")) - 1
    picks = sorted({0, 1, 2, len(ds) // 2, len(ds) - 1} | set(range(0, len(ds), max(1, len(ds) // 50))))
    for i in picks:
        item = ds[i]["input_ids"].tolist()
        assert item[0] == eos and len(item) == block_size + 1
        assert item[1:] == expected[i * block_size:(i + 1) * block_size], i


def test_packing_is_refused_where_the_data_has_document_separators(roberta_tokenized, roberta_tokenizer_dir):
    with pytest.raises(UserError, match="--pack_sentences.*leave it out"):
        dataset(roberta_tokenized, roberta_tokenizer_dir, block_size=64, pack_sentences=True, start_token="eos_token",
                end_token=None, separator_token="eos_token")


def test_a_tokenizer_without_the_needed_special_token_is_named(bert_tokenized, bert_tokenizer_dir):
    with pytest.raises(UserError, match="has no eos_token"):
        dataset(bert_tokenized, bert_tokenizer_dir, start_token="eos_token", end_token=None,
                separator_token="eos_token")
