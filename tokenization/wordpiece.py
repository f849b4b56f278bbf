"""A WordPiece vocabulary learned deterministically: the same text gives the same vocabulary.

``tokenizers``' WordPiece trainer is not deterministic: it numbers the ``##`` pieces in the
iteration order of a randomly seeded hash map and takes merges of equal count in id order, so
the same text gave a different ``tokenizer.json`` in each of 8 trainings (ids permuted), and on
the tests' text a different set of tokens in 3 of 4 (ties at the vocabulary's cut-off).
Threads (RAYON_NUM_THREADS=1) made no difference, and no setting of the trainer fixes the hash
seed. The miniature Table 1 retrains its tokenizer on every clean run, so that moved every loss.

This is the same algorithm as that trainer (BPE merges over words, ``##`` on every piece that
does not start a word, the most frequent ``limit_alphabet`` characters, merging stops at
``min_frequency``), with every tie broken by the tokens' text. Encoding stays with the library's
WordPiece model: only which tokens are in the vocabulary is learned here.
"""

import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable


def count_words(lines: Iterable[str], normalizer, pre_tokenizer) -> Counter:
    """Words as the tokenizer will see them (normalised, pre-tokenised), with their counts."""
    words = Counter()
    for line in lines:
        words.update(word for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(line)))
    return words


def learn_vocabulary(words: Counter, vocab_size: int, special_tokens: list[str], min_frequency: int = 2,
                     limit_alphabet: int = 1000, prefix: str = "##") -> list[str]:
    """The vocabulary in id order: special tokens, the alphabet (sorted), its ``##`` pieces
    (sorted), then merged tokens in the order they were learned."""
    chars = Counter()
    for word, count in words.items():
        for char in word:
            chars[char] += count
    alphabet = sorted(char for char, _ in sorted(chars.items(), key=lambda kv: (-kv[1], kv[0]))[:limit_alphabet])
    kept = set(alphabet)
    # Each word as symbols: its first character alone, the others as ``##`` pieces; characters
    # outside the alphabet are left out, as by the library's trainer.
    texts = sorted(words)
    sequences = [[char if i == 0 else prefix + char for i, char in enumerate(word) if char in kept] for word in texts]
    pieces = sorted({symbol for sequence in sequences for symbol in sequence if symbol.startswith(prefix)})
    vocab = [*special_tokens, *(t for t in alphabet + pieces if t not in special_tokens)]
    ids = {token: i for i, token in enumerate(vocab)}
    sequences = [[ids[symbol] for symbol in sequence] for sequence in sequences]
    counts = [words[text] for text in texts]

    pair_counts, where = defaultdict(int), defaultdict(set)
    for index, sequence in enumerate(sequences):
        for pair in zip(sequence, sequence[1:]):
            pair_counts[pair] += counts[index]
            where[pair].add(index)
    # Most frequent first; among equal counts, by the pair's text. Stale entries (the pair's
    # count has changed since) are skipped when they come up.
    heap = [(-count, vocab[a], vocab[b], a, b) for (a, b), count in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocab) < vocab_size and heap:
        negative, _, _, a, b = heapq.heappop(heap)
        if pair_counts.get((a, b), 0) != -negative:
            continue
        if -negative < min_frequency:
            break
        right = vocab[b][len(prefix):] if vocab[b].startswith(prefix) else vocab[b]
        merged = vocab[a] + right
        if merged not in ids:
            ids[merged] = len(vocab)
            vocab.append(merged)
        new = ids[merged]
        changes = defaultdict(int)
        for index in where.pop((a, b)):
            old, count = sequences[index], counts[index]
            sequence, i = [], 0
            while i < len(old):
                if i + 1 < len(old) and old[i] == a and old[i + 1] == b:
                    sequence.append(new)
                    i += 2
                else:
                    sequence.append(old[i])
                    i += 1
            if len(sequence) == len(old):
                continue  # the pair left this word in an earlier merge
            for pair in zip(old, old[1:]):
                changes[pair] -= count
            for pair in zip(sequence, sequence[1:]):
                changes[pair] += count
                where[pair].add(index)
            sequences[index] = sequence
        for pair, change in changes.items():
            if change:
                pair_counts[pair] += change
                if pair_counts[pair] > 0:
                    heapq.heappush(heap, (-pair_counts[pair], vocab[pair[0]], vocab[pair[1]], *pair))
                else:
                    del pair_counts[pair]
    return vocab
