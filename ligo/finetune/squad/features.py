"""Question-context pairs into model inputs, the standard way (Hugging Face's run_qa.py, after
Google's BERT): the question, then the context cut into windows of at most ``max_seq_length``
tokens overlapping by ``doc_stride``, from the fast tokenizer's offset mapping.

A training window is labelled with the token span of the answer, or with the first token
([CLS] / <s>) when the answer is not wholly inside it or there is none (v2.0). An evaluation
window keeps its example's id and the character offsets of its context tokens (None
elsewhere), which post-processing turns back into answer text.
"""

from ligo.base.errors import UserError
from ligo.finetune.squad.data import Example


def _encode(examples: list[Example], tokenizer, max_seq_length: int, doc_stride: int):
    pad_right = tokenizer.padding_side == "right"
    if not pad_right:
        raise UserError(f"the tokenizer pads on the {tokenizer.padding_side}; SQuAD windows need right padding "
                        "(the question first): pass a BERT or RoBERTa tokenizer")
    try:
        return tokenizer([e.question.lstrip() for e in examples], [e.context for e in examples],
                         truncation="only_second", max_length=max_seq_length, stride=doc_stride,
                         return_overflowing_tokens=True, return_offsets_mapping=True)
    except Exception as err:  # the tokenizer's message names what did not fit
        if "truncat" in str(err).lower() or "stride" in str(err).lower():
            raise UserError(f"questions do not fit --max_seq_length {max_seq_length} with --doc_stride {doc_stride} "
                            f"({' '.join(str(err).split())}); raise --max_seq_length or lower --doc_stride") from None
        raise


def train_features(examples: list[Example], tokenizer, max_seq_length: int, doc_stride: int) -> list[dict]:
    encoded = _encode(examples, tokenizer, max_seq_length, doc_stride)
    features = []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        example = examples[encoded["overflow_to_sample_mapping"][i]]
        ids = encoded["input_ids"][i]
        cls = ids.index(tokenizer.cls_token_id)
        start = end = cls
        if example.answers:
            first_char = example.answer_start
            last_char = first_char + len(example.answers[0])
            sequence = encoded.sequence_ids(i)
            context = [t for t, s in enumerate(sequence) if s == 1]
            first, last = context[0], context[-1]
            if offsets[first][0] <= first_char and offsets[last][1] >= last_char:
                # run_qa.py's rule: the last token starting at or before the answer's first
                # character, the first one ending at or after its last.
                start = first
                while start <= last and offsets[start][0] <= first_char:
                    start += 1
                start -= 1
                end = last
                while offsets[end][1] >= last_char:
                    end -= 1
                end += 1
        feature = {name: encoded[name][i] for name in ("input_ids", "attention_mask", "token_type_ids")
                   if name in encoded}
        feature.update(start_positions=start, end_positions=end)
        features.append(feature)
    return features


def eval_features(examples: list[Example], tokenizer, max_seq_length: int, doc_stride: int
                  ) -> tuple[list[dict], list[dict]]:
    """The model inputs, and beside them each window's example id and context offsets."""
    encoded = _encode(examples, tokenizer, max_seq_length, doc_stride)
    inputs, windows = [], []
    for i, offsets in enumerate(encoded["offset_mapping"]):
        sequence = encoded.sequence_ids(i)
        inputs.append({name: encoded[name][i] for name in ("input_ids", "attention_mask", "token_type_ids")
                       if name in encoded})
        windows.append({"example_id": examples[encoded["overflow_to_sample_mapping"][i]].id,
                        "offsets": [tuple(o) if s == 1 else None for o, s in zip(offsets, sequence)]})
    return inputs, windows
