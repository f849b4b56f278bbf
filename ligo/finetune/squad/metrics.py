"""SQuAD's official metrics, as its evaluation scripts compute them (evaluate-v1.1.py and
evaluate-v2.0.py), on the dataset's own JSON and a ``{question id: answer text}`` dict.

Answers are normalised before comparison: lower case, punctuation (``string.punctuation``)
removed, the articles a / an / the removed, whitespace collapsed. EM and F1 (over the
normalised answer's words) are the maximum over the gold answers, in percent over every
question of the dataset. The two scripts differ in two places, kept here: v2.0 scores an
unanswerable question against the empty answer (an empty prediction scores 1), and where
one side normalises to nothing, its F1 is 1 if both do, else 0 (v1.1 gives 0).

v2.0 also reports HasAns / NoAns scores and, given each question's no-answer score (the
higher, the surer the model is there is no answer), the best EM and F1 over every threshold
on that score, with the threshold (``best_exact``, ``best_f1``, ``*_thresh``).
"""

import collections
import re
import string

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _tokens(text: str) -> list[str]:
    return normalize_answer(text).split() if text else []


def exact_match(prediction: str, gold: str) -> int:
    return int(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str, version: str) -> float:
    pred_tokens, gold_tokens = _tokens(prediction), _tokens(gold)
    if version == "2.0" and (not pred_tokens or not gold_tokens):
        return float(pred_tokens == gold_tokens)
    common = collections.Counter(pred_tokens) & collections.Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def questions(dataset: list[dict]):
    """(id, gold answer texts) of every question in the ``data`` list of a SQuAD file."""
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                yield qa["id"], [answer["text"] for answer in qa["answers"]]


def squad_v1(dataset: list[dict], predictions: dict[str, str]) -> dict[str, float]:
    """evaluate-v1.1.py: exact_match and f1 in percent. A question without a prediction scores 0."""
    exact = f1 = total = 0
    for qid, golds in questions(dataset):
        total += 1
        if qid not in predictions:
            continue
        exact += max(exact_match(predictions[qid], gold) for gold in golds)
        f1 += max(f1_score(predictions[qid], gold, "1.1") for gold in golds)
    return {"exact_match": 100.0 * exact / total, "f1": 100.0 * f1 / total}


def _raw_scores(dataset, predictions):
    exact, f1, has_answer = {}, {}, {}
    for qid, golds in questions(dataset):
        golds = [gold for gold in golds if normalize_answer(gold)] or [""]  # unanswerable: only "" is right
        has_answer[qid] = golds != [""]
        if qid not in predictions:
            continue
        exact[qid] = max(exact_match(predictions[qid], gold) for gold in golds)
        f1[qid] = max(f1_score(predictions[qid], gold, "2.0") for gold in golds)
    return exact, f1, has_answer


def _mean(scores: dict, qids) -> float:
    return 100.0 * sum(scores.get(qid, 0) for qid in qids) / len(qids)


def _best_threshold(predictions, scores, no_answer_scores, has_answer) -> tuple[float, float]:
    """evaluate-v2.0.py's find_best_thresh: start from answering nothing, then answer the questions
    in rising order of their no-answer score, keeping the best total seen."""
    score = best = sum(1 for qid in has_answer if not has_answer[qid])
    threshold = 0.0
    for qid in sorted(no_answer_scores, key=lambda q: no_answer_scores[q]):
        if qid not in scores:
            continue
        if has_answer[qid]:
            score += scores[qid]
        else:
            score += -1 if predictions[qid] else 0
        if score > best:
            best, threshold = score, no_answer_scores[qid]
    return 100.0 * best / len(scores), threshold


def squad_v2(dataset: list[dict], predictions: dict[str, str], no_answer_scores: dict[str, float] | None = None
             ) -> dict[str, float]:
    """evaluate-v2.0.py on ``predictions`` as given (the empty string: no answer): exact and f1,
    HasAns_* and NoAns_* where there are such questions, and with ``no_answer_scores`` (its
    --na-prob-file) best_exact, best_exact_thresh, best_f1 and best_f1_thresh."""
    exact, f1, has_answer = _raw_scores(dataset, predictions)
    qids = list(has_answer)
    result = {"exact": _mean(exact, qids), "f1": _mean(f1, qids), "total": len(qids)}
    for prefix, wanted in (("HasAns", True), ("NoAns", False)):
        subset = [qid for qid in qids if has_answer[qid] == wanted]
        if subset:
            result.update({f"{prefix}_exact": _mean(exact, subset), f"{prefix}_f1": _mean(f1, subset),
                           f"{prefix}_total": len(subset)})
    if no_answer_scores is not None:
        result["best_exact"], result["best_exact_thresh"] = _best_threshold(predictions, exact, no_answer_scores,
                                                                            has_answer)
        result["best_f1"], result["best_f1_thresh"] = _best_threshold(predictions, f1, no_answer_scores, has_answer)
    return result
