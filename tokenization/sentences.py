"""Sentence boundaries with spaCy's rule-based sentencizer (no model download)."""

import functools

import spacy


@functools.cache
def sentencizer(lang: str = "en"):
    nlp = spacy.blank(lang)
    nlp.add_pipe("sentencizer")
    return nlp


def sentence_char_starts(texts: list[str], lang: str = "en") -> list[list[int]]:
    """For each text, the character offsets at which its sentences start (first is 0)."""
    nlp = sentencizer(lang)
    return [[sent.start_char for sent in doc.sents] or [0] for doc in nlp.pipe(texts, batch_size=256)]
