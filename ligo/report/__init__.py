"""Reports on finished runs: the savings report (``savings``, the command line ``python -m ligo.report``,
built from ``runs``, ``targets``, ``tables`` and ``plots``), its mean and spread over seeds (``seeds``)
and the unigram entropy of a training file (``unigram``)."""
