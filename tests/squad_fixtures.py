"""SQuAD-format files of both versions built from the embedded Wikipedia sample, in the official
layout (data -> paragraphs -> context, qas -> id, question, answers; v2.0's is_impossible and
plausible_answers), with questions a tiny model can learn to answer:

- answerable: a few consecutive sentences of Wikipedia text holding exactly one number, a year
  (1000-2099), asked "in what year ..." with their first words; the answer is that year;
- unanswerable (v2.0, half of its questions): the same question on sentences without a digit.

The dev files give each answerable question a second gold answer (the year with the word
before it), as SQuAD's dev files hold several answers per question.
"""

import json
import random
import re
from pathlib import Path

YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
ANY_NUMBER = re.compile(r"[0-9]")


def _question(line: str) -> str:
    words = [word for word in line.split() if word.isalpha()][:3]
    return f"In what year , according to the text on {' '.join(words)} ?"


def _sentences(line: str) -> list[str]:
    parts = [part.strip() for part in line.split(" . ") if part.strip()]
    return [part if part.endswith(".") else part + " ." for part in parts]


def _lines(text_file: Path, max_chars: int) -> tuple[list[str], list[str]]:
    """Contexts of consecutive sentences of a line, up to ``max_chars``: with exactly one number,
    a year, and with no digit at all."""
    with_year, without = [], []
    for line in text_file.read_text(encoding="utf-8").splitlines():
        sentences = _sentences(line)
        i = 0
        while i < len(sentences):
            context, j = sentences[i], i + 1
            while j < len(sentences) and len(context) + len(sentences[j]) < max_chars and \
                    not ANY_NUMBER.search(sentences[j]):
                context, j = f"{context} {sentences[j]}", j + 1
            i = j
            if len(context) < 40:
                continue
            numbers = re.findall(r"[0-9]+", context)
            if len(numbers) == 1 and YEAR.fullmatch(numbers[0]) and YEAR.search(context):
                with_year.append(context)
            elif not numbers:
                without.append(context)
    return with_year, without


def _answerable(qid: str, line: str, dev: bool) -> dict:
    match = YEAR.search(line)
    answers = [{"text": match.group(0), "answer_start": match.start()}]
    before = line[:match.start()].rstrip().rsplit(" ", 1)[-1]
    if dev and before:
        start = match.start() - 1 - len(before)
        answers.append({"text": line[start:match.end()], "answer_start": start})
    return {"id": qid, "question": _question(line), "answers": answers, "is_impossible": False}


def _unanswerable(qid: str, line: str) -> dict:
    return {"id": qid, "question": _question(line), "answers": [], "is_impossible": True, "plausible_answers": []}


def _write(path: Path, version: str, paragraphs: list[dict]):
    # Several paragraphs an article, as SQuAD groups them.
    articles = [{"title": f"Sample {i // 8}", "paragraphs": paragraphs[i:i + 8]} for i in range(0, len(paragraphs), 8)]
    path.write_text(json.dumps({"version": f"v{version}", "data": articles}, ensure_ascii=False), encoding="utf-8")


def write_squad(root: Path, text_file: Path, train_questions=320, dev_questions=80, max_chars=600, seed=0) -> Path:
    """train-v1.1.json, dev-v1.1.json, train-v2.0.json and dev-v2.0.json under ``root``."""
    rng = random.Random(seed)
    with_year, without = _lines(text_file, max_chars)
    need = train_questions + dev_questions
    if len(with_year) < need or len(without) < need:
        raise ValueError(f"{text_file} has {len(with_year)} lines with one year and {len(without)} without digits; "
                         f"{need} of each are needed")
    rng.shuffle(with_year)
    rng.shuffle(without)
    root.mkdir(parents=True, exist_ok=True)
    for version in ("1.1", "2.0"):
        for split, lines in (("train", with_year[:train_questions]), ("dev", with_year[train_questions:need])):
            dev = split == "dev"
            paragraphs = [{"context": line, "qas": [_answerable(f"{split}-{version}-{i}", line, dev)]}
                          for i, line in enumerate(lines)]
            if version == "1.1":
                for paragraph in paragraphs:  # v1.1 knows no is_impossible
                    del paragraph["qas"][0]["is_impossible"]
            else:  # every other question unanswerable: half of them
                pool = without[:need // 2] if split == "train" else without[need // 2:need]
                for i, paragraph in enumerate(paragraphs):
                    if i % 2 == 1:
                        line = pool[i // 2 % len(pool)]
                        paragraph["context"] = line
                        paragraph["qas"] = [_unanswerable(f"{split}-{version}-{i}", line)]
            _write(root / f"{split}-v{version}.json", version, paragraphs)
    return root
