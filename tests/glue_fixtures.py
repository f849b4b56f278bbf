"""Small GLUE-format task folders, in the real files' layouts (headers, column counts, label
names), whose labels follow simple word rules a tiny model can learn:

- SST-2: a sentence is positive (1) when its adjective is a positive word;
- CoLA: acceptable (1) in subject-verb order, unacceptable (0) with the words scrambled;
- MRPC, QQP, RTE, QNLI: the pair is positive when both sentences share their subject;
- STS-B: score 5 for the same sentence, 2.5 for the same subject, else 0;
- MNLI: the hypothesis starts with yes / no / maybe (entailment / contradiction / neutral).
"""

import random
from pathlib import Path

SUBJECTS = ["the movie", "this film", "the story", "the acting", "the plot", "that show", "the music", "the ending"]
ADVERBS = ["really", "truly", "quite", "very", "simply", "rather"]
POSITIVE = ["good", "great", "wonderful", "excellent", "lovely"]
NEGATIVE = ["bad", "awful", "terrible", "horrible", "boring"]

MNLI_TRAIN_HEADER = ["index", "promptID", "pairID", "genre", "sentence1_binary_parse", "sentence2_binary_parse",
                     "sentence1_parse", "sentence2_parse", "sentence1", "sentence2", "label1", "gold_label"]
MNLI_DEV_HEADER = MNLI_TRAIN_HEADER[:-1] + ["label2", "label3", "label4", "label5", "gold_label"]
STSB_HEADER = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2",
               "score"]


def sentence(rng: random.Random, subject=None, positive=None) -> str:
    subject = subject or rng.choice(SUBJECTS)
    positive = rng.random() < 0.5 if positive is None else positive
    return f"{subject} was {rng.choice(ADVERBS)} {rng.choice(POSITIVE if positive else NEGATIVE)}"


def corpus_lines() -> list[str]:
    """Every word of the fixtures in context, twice (the tokenizer's minimum frequency)."""
    lines = [f"{s} was {a} {w}" for s in SUBJECTS for a in ADVERBS for w in POSITIVE + NEGATIVE]
    lines += ["yes it is so", "no it is not", "maybe it is", "is it true ?", "what about it ?"]
    return lines * 2


def write_tsv(path: Path, header, rows, bom=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ([header] if header else []) + rows
    text = "".join("\t".join(map(str, row)) + "\n" for row in lines)
    path.write_text(("\ufeff" if bom else "") + text, encoding="utf-8")


def _pair(rng):
    """Two sentences and whether they share their subject (half the time)."""
    first = rng.choice(SUBJECTS)
    same = rng.random() < 0.5
    second = first if same else rng.choice([s for s in SUBJECTS if s != first])
    return sentence(rng, first), sentence(rng, second), same


def sst2_rows(rng, n):
    rows = []
    for _ in range(n):
        positive = rng.random() < 0.5
        rows.append([sentence(rng, positive=positive), int(positive)])
    return rows


def cola_rows(rng, n):
    rows = []
    for _ in range(n):
        words = sentence(rng).split()
        ok = rng.random() < 0.5
        if not ok:
            words = words[2:] + words[:2]  # "was very good the movie"
        rows.append(["gj04", int(ok), "" if ok else "*", " ".join(words) + " ."])
    return rows


def mrpc_rows(rng, n):
    rows = []
    for i in range(n):
        a, b, same = _pair(rng)
        rows.append([int(same), 1000 + 2 * i, 1001 + 2 * i, a, b])
    return rows


def stsb_rows(rng, n):
    rows = []
    for i in range(n):
        a, b, same = _pair(rng)
        if same and rng.random() < 0.4:
            b = a
        score = 5.0 if a == b else 2.5 if same else 0.0
        rows.append([i, "main-captions", "MSRvid", "2012test", f"{i:04d}", "none", "none", a, b, f"{score:.3f}"])
    return rows


def qqp_rows(rng, n):
    rows = []
    for i in range(n):
        a, b, same = _pair(rng)
        rows.append([i, 2 * i + 1, 2 * i + 2, f"is {a} ?", f"is {b} ?", int(same)])
    return rows


def mnli_rows(rng, n, dev=False):
    rows = []
    for i in range(n):
        label = rng.choice(["entailment", "contradiction", "neutral"])
        start = {"entailment": "yes", "contradiction": "no", "neutral": "maybe"}[label]
        premise, hypothesis = sentence(rng), f"{start} {sentence(rng)}"
        labels = [label] * (5 if dev else 1)
        rows.append([i, 100 + i, f"{100 + i}e", "fiction", "( x )", "( y )", "(ROOT x)", "(ROOT y)", premise,
                     hypothesis, *labels, label])
    return rows


def entailment_rows(rng, n, question=False):
    rows = []
    for i in range(n):
        a, b, same = _pair(rng)
        rows.append([i, f"what about {a} ?" if question else a, b, "entailment" if same else "not_entailment"])
    return rows


def write_glue(root: Path, train_rows=64, dev_rows=32, seed=0) -> Path:
    """All eight task folders under ``root``; returns ``root``."""
    rng = random.Random(seed)
    for split, n in (("train", train_rows), ("dev", dev_rows)):
        write_tsv(root / "CoLA" / f"{split}.tsv", None, cola_rows(rng, n))
        write_tsv(root / "SST-2" / f"{split}.tsv", ["sentence", "label"], sst2_rows(rng, n))
        write_tsv(root / "MRPC" / f"{split}.tsv", ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"],
                  mrpc_rows(rng, n), bom=split == "train")  # GLUE's MRPC train.tsv starts with a BOM
        write_tsv(root / "STS-B" / f"{split}.tsv", STSB_HEADER, stsb_rows(rng, n))
        write_tsv(root / "QQP" / f"{split}.tsv", ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"],
                  qqp_rows(rng, n))
        write_tsv(root / "QNLI" / f"{split}.tsv", ["index", "question", "sentence", "label"],
                  entailment_rows(rng, n, question=True))
        write_tsv(root / "RTE" / f"{split}.tsv", ["index", "sentence1", "sentence2", "label"], entailment_rows(rng, n))
    write_tsv(root / "MNLI" / "train.tsv", MNLI_TRAIN_HEADER, mnli_rows(rng, train_rows))
    for name in ("dev_matched.tsv", "dev_mismatched.tsv"):
        write_tsv(root / "MNLI" / name, MNLI_DEV_HEADER, mnli_rows(rng, dev_rows, dev=True))
    return root
