"""SQuAD's official JSON files, read and checked: ``train-v1.1.json``, ``dev-v1.1.json``,
``train-v2.0.json`` and ``dev-v2.0.json`` in one folder (the names of
https://rajpurkar.github.io/SQuAD-explorer/). Nothing is downloaded.

Every mistake that would otherwise surface as a wrong score (or a crash mid-run) is refused
with the file and the question: a file that is not SQuAD JSON, a paragraph with no context, an
answer whose ``answer_start`` does not point at its text in the context (in a training file:
that is where the labels come from), a repeated question id.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from ligo.base.errors import UserError

VERSIONS = ("1.1", "2.0")
SPLITS = ("train", "dev")


@dataclass(frozen=True)
class Example:
    id: str
    question: str
    context: str
    answers: tuple[str, ...]  # gold texts (dev files hold several); empty: unanswerable (v2.0)
    answer_start: int  # of the first answer, in characters; -1 without one


@dataclass
class SquadSplit:
    path: Path
    dataset: list[dict]  # the file's "data", for the official metrics
    examples: list[Example]


def split_path(squad_dir, version: str, split: str) -> Path:
    return Path(squad_dir) / f"{split}-v{version}.json"


def check_files(squad_dir, versions) -> None:
    paths = [split_path(squad_dir, v, s) for v in versions for s in SPLITS]
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise UserError(f"--squad_dir '{squad_dir}' lacks {', '.join(p.name for p in missing)}; put SQuAD's official "
                        f"files there, or leave those versions out of --versions")


def read_split(squad_dir, version: str, split: str) -> SquadSplit:
    path = split_path(squad_dir, version, split)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise UserError(f"'{path}' is not valid JSON ({err}); download it again from the SQuAD site") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise UserError(f"'{path}' is not a SQuAD file (it has no \"data\" list of articles); pass SQuAD's "
                        "official files")
    try:
        examples = list(_examples(data["data"], path, training=split == "train"))
    except (KeyError, TypeError, AttributeError) as err:
        raise UserError(f"'{path}' is not in SQuAD's layout (article -> paragraphs -> context and qas -> id, "
                        f"question, answers; missing or wrong: {err}); pass SQuAD's official files") from None
    if not examples:
        raise UserError(f"'{path}' holds no questions; pass SQuAD's official files")
    return SquadSplit(path, data["data"], examples)


def _examples(articles, path: Path, training: bool):
    seen = set()
    for article in articles:
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            if not isinstance(context, str) or not context.strip():
                raise UserError(f"'{path}': a paragraph of '{article.get('title', '?')}' has no context text; fix or "
                                "remove it")
            for qa in paragraph["qas"]:
                qid = str(qa["id"])
                if qid in seen:
                    raise UserError(f"'{path}': question id {qid} appears twice; ids must be unique")
                seen.add(qid)
                answers = [] if qa.get("is_impossible") else qa["answers"]
                for answer in answers:
                    start, text = answer["answer_start"], answer["text"]
                    if context[start:start + len(text)] != text:
                        raise UserError(f"'{path}': question {qid}: answer {text!r} is not at answer_start {start} "
                                        f"of its context (found {context[start:start + len(text)]!r}); fix "
                                        "answer_start")
                if training and not answers and not qa.get("is_impossible", False):
                    raise UserError(f"'{path}': question {qid} has no answer and is not marked is_impossible; fix it")
                yield Example(qid, qa["question"], context, tuple(a["text"] for a in answers),
                              answers[0]["answer_start"] if answers else -1)
