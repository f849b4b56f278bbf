"""Reports on finished runs: the savings report (``savings``; ``python -m ligo.report``), its mean
and spread over seeds (``seeds``) and the unigram entropy of a training file (``unigram``)."""
