"""Start and end scores back into answer text, the standard way (run_qa.py's
postprocess_qa_predictions): in every window of an example, the ``n_best`` highest start and
end scores pair into candidate spans inside the context, at most ``max_answer_length`` tokens
long; a span scores the sum of its two scores and the best candidate over all windows wins.

For v2.0 the null answer scores its window's first-token start and end scores, the lowest over
the example's windows; the example gets no answer ("") when that null score beats the best
span by more than ``null_threshold``. Its no-answer score (null minus best span) goes to the
official best-threshold search.
"""

import numpy as np


def predict_answers(examples, windows: list[dict], start_logits: np.ndarray, end_logits: np.ndarray, *,
                    n_best: int, max_answer_length: int, with_null: bool, null_threshold: float
                    ) -> tuple[dict[str, str], dict[str, float]]:
    """``{id: answer}`` for every example, and ``{id: null score - best span score}`` (v2.0)."""
    by_example: dict[str, list[int]] = {}
    for i, window in enumerate(windows):
        by_example.setdefault(window["example_id"], []).append(i)
    answers, no_answer_scores = {}, {}
    for example in examples:
        best_text, best_score, null_score = "", -np.inf, np.inf
        for i in by_example.get(example.id, []):
            starts, ends, offsets = start_logits[i], end_logits[i], windows[i]["offsets"]
            null_score = min(null_score, float(starts[0] + ends[0]))
            top_starts = np.argsort(starts)[::-1][:n_best]
            top_ends = np.argsort(ends)[::-1][:n_best]
            for s in top_starts:
                for e in top_ends:
                    if s >= len(offsets) or e >= len(offsets) or offsets[s] is None or offsets[e] is None:
                        continue
                    if e < s or e - s + 1 > max_answer_length:
                        continue
                    score = float(starts[s] + ends[e])
                    if score > best_score:
                        best_score, best_text = score, example.context[offsets[s][0]:offsets[e][1]]
        if with_null:
            # No span at all: the null answer, whatever its score.
            difference = null_score - best_score if np.isfinite(best_score) else np.inf
            no_answer_scores[example.id] = float(difference) if np.isfinite(difference) else 1e9
            answers[example.id] = "" if difference > null_threshold else best_text
        else:
            answers[example.id] = best_text
    return answers, no_answer_scores
