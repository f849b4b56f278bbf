"""Seeds for the named parts of one seeded computation."""

import hashlib


def stream_seed(seed: int, *parts) -> int:
    """The seed of one part (``parts``: its names and indices) of a computation seeded by ``seed``:
    each part draws from its own stream, so any part can be made alone, in any order, on any rank,
    and gives what it gives when all are made together. (Not Python's ``hash``, which is salted
    per process.)"""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1  # below 2**63: any torch or NumPy seed
