"""Tokenizers trained offline (tokenization/train_tokenizer.py) and loading them."""

import pytest
from transformers import AutoTokenizer, BertTokenizerFast

from ligo.base.errors import UserError
from ligo.data.tokenizer import load_tokenizer, tokenizer_tag
from tokenization.train_tokenizer import BERT_SPECIAL_TOKENS, train_tokenizer

SENTENCE = "Anarchism is a political philosophy that advocates stateless societies"


def test_bert_tokenizer_loads_with_auto_and_has_bert_special_tokens(bert_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(bert_tokenizer_dir))
    assert len(tok) == 4000
    assert (tok.cls_token, tok.sep_token, tok.mask_token, tok.pad_token, tok.unk_token) == (
        "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]")
    ids = tok(SENTENCE)["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.unk_token_id not in ids
    # frequent words are whole tokens, not pieces or [UNK]
    assert tok.tokenize("the political philosophy") == ["the", "political", "philosophy"]
    assert tok.decode(ids, skip_special_tokens=True) == SENTENCE.lower()


def test_roberta_tokenizer_round_trips_text_exactly(roberta_tokenizer_dir):
    tok = AutoTokenizer.from_pretrained(str(roberta_tokenizer_dir))
    assert (tok.cls_token, tok.sep_token, tok.mask_token, tok.pad_token) == ("<s>", "</s>", "<mask>", "<pad>")
    text = "Anarchism, in Zürich (1900s), advocates self-governed societies."
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.decode(ids, skip_special_tokens=True) == text
    assert tok.unk_token_id not in ids


def test_cased_bert_keeps_case(bert_text, tmp_path):
    tok = train_tokenizer("bert-cased", [bert_text / "en.train.raw"], vocab_size=2000)
    tokens = tok.tokenize("The State")
    assert tokens[0] == "The" and "".join(t.lstrip("#") for t in tokens) == "TheState"


def test_load_tokenizer_refuses_a_tokenizer_without_vocabulary(bert_tokenizer_dir, tmp_path):
    # The transformers 5 trap: a vocab_file= argument silently builds a 5-token tokenizer.
    vocab = tmp_path / "vocab.txt"
    good = load_tokenizer(str(bert_tokenizer_dir))
    vocab.write_text("\n".join(good.convert_ids_to_tokens(list(range(len(good))))) + "\n")
    broken = BertTokenizerFast(vocab_file=str(vocab))
    broken.save_pretrained(str(tmp_path / "broken"))
    with pytest.raises(UserError, match="only 5 tokens"):
        load_tokenizer(str(tmp_path / "broken"))


def test_unknown_hub_tokenizer_offline_is_a_clear_error():
    with pytest.raises(UserError, match="not a local folder and is not in the Hugging Face cache"):
        load_tokenizer("no-such-org/no-such-tokenizer")


def test_tokenizer_tag_is_the_folder_name_or_the_hub_id(bert_tokenizer_dir):
    assert tokenizer_tag(str(bert_tokenizer_dir)) == "bert-uncased-test"
    assert tokenizer_tag("bert-base-uncased") == "bert-base-uncased"
    assert tokenizer_tag("google/bert_uncased") == "google_bert_uncased"


def test_gpt2_tokenizer_has_gpt2s_conventions_and_round_trips_real_lines(gpt2_tokenizer_dir, roberta_text):
    tok = AutoTokenizer.from_pretrained(str(gpt2_tokenizer_dir))
    assert tok.is_fast and type(tok).__name__.startswith("GPT2Tokenizer")
    assert tok.eos_token == tok.bos_token == tok.unk_token == "<|endoftext|>" and tok.eos_token_id == 0
    assert tok.pad_token is None and tok.mask_token is None and tok.cls_token is None
    assert tok.all_special_tokens == ["<|endoftext|>"]
    lines = (roberta_text / "en.valid.raw").read_text(encoding="utf-8").splitlines()[:50]
    for text in [*lines, "  two leading spaces, Zürich, naïve, 東京\tand a tab", " one leading space"]:
        ids = tok(text)["input_ids"]
        assert ids == tok(text, add_special_tokens=False)["input_ids"]  # GPT-2 adds no special token
        assert tok.eos_token_id not in ids and tok.decode(ids) == text
    # GPT-2's: no space is added before a line's first word
    assert tok.tokenize("the")[0] != tok.tokenize(" the")[0]


def test_llama_tokenizer_has_llamas_special_tokens_and_round_trips_real_lines(roberta_text, tmp_path):
    train_tokenizer("llama", [roberta_text / "en.train.raw"], vocab_size=1000).save_pretrained(str(tmp_path))
    tok = AutoTokenizer.from_pretrained(str(tmp_path))
    assert tok.is_fast and len(tok) == 1000
    assert (tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) == (0, 1, 2) and tok.pad_token is None
    assert (tok.bos_token, tok.eos_token) == ("<s>", "</s>")
    for text in [*(roberta_text / "en.valid.raw").read_text(encoding="utf-8").splitlines()[:30], "Zürich, 東京\tx"]:
        ids = tok(text)["input_ids"]
        assert ids == tok(text, add_special_tokens=False)["input_ids"]  # the pipeline frames documents
        assert not {0, 1, 2} & set(ids) and tok.decode(ids) == text


def test_training_on_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(UserError, match="missing or empty"):
        train_tokenizer("roberta", [tmp_path / "nope.txt"], vocab_size=1000)


@pytest.mark.parametrize("kind", ["bert-uncased", "roberta", "gpt2", "llama"])
def test_training_twice_gives_byte_identical_files(kind, bert_text, roberta_text, tmp_path):
    """The mini's tokenizer is retrained by every clean run: its files must not depend on the run
    (the WordPiece trainer alone permuted ids between runs before canonical_wordpiece)."""
    text = (bert_text if kind.startswith("bert") else roberta_text) / "en.train.raw"
    for name in ("a", "b"):
        train_tokenizer(kind, [text], vocab_size=2000).save_pretrained(str(tmp_path / name))
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir()) and "tokenizer.json" in files
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_wordpiece_vocabulary_is_the_library_trainers_up_to_ties(bert_text):
    """Our deterministic WordPiece learner runs the library's algorithm: on the sample text the
    two vocabularies differ only where the library broke a tie at random (9 of 2000 tokens seen)."""
    from tokenizers import BertWordPieceTokenizer

    text = bert_text / "en.train.raw"
    trained = BertWordPieceTokenizer(lowercase=True, strip_accents=True, clean_text=True)
    trained.train([str(text)], vocab_size=2000, min_frequency=2, special_tokens=BERT_SPECIAL_TOKENS,
                  show_progress=False)
    ours = train_tokenizer("bert-uncased", [text], vocab_size=2000)
    assert len(ours) == 2000
    assert [ours.convert_ids_to_tokens(i) for i in range(5)] == BERT_SPECIAL_TOKENS
    assert len(set(ours.get_vocab()) & set(trained.get_vocab())) >= 1980
    lines = [line for split in ("valid", "test")  # held-out text, 160 lines
             for line in (bert_text / f"en.{split}.raw").read_text(encoding="utf-8").splitlines()]
    theirs = sum(len(enc.ids) for enc in trained.encode_batch(lines))
    assert abs(sum(len(ids) for ids in ours(lines, add_special_tokens=False)["input_ids"]) - theirs) <= 0.005 * theirs


def test_wordpiece_merges_most_frequent_pair_first_ties_by_text():
    from collections import Counter

    from tokenization.wordpiece import learn_vocabulary

    words = Counter({"hug": 10, "pug": 5, "pun": 12, "bun": 4, "hugs": 5})
    vocab = learn_vocabulary(words, vocab_size=100, special_tokens=["[UNK]"], min_frequency=2)
    assert vocab[:8] == ["[UNK]", "b", "g", "h", "n", "p", "s", "u"]
    assert vocab[8:12] == ["##g", "##n", "##s", "##u"]
    # ##u ##g (20) first; then ##u ##n (16) to ##un; then h ##ug (15) to hug; then p ##un (12);
    # then p ##ug and hug ##s tie at 5: "hug" < "p", so hugs before pug; b ##un (4); nothing at 2.
    assert vocab[12:] == ["##ug", "##un", "hug", "pun", "hugs", "pug", "bun"]
