"""Benchmarks of this reimplementation against the authors' procedures: ``python -m bench``.

Each benchmark is a module of this package with ``run() -> list[dict]``, listed in
``bench/__main__.py``; each dict is one row of ``bench/RESULTS.md`` (see ``COLUMNS`` there).
"""
