"""SQuAD v1.1 and v2.0 fine-tuning (run_squad.py): the official files (``data``), windows of
tokens (``features``), spans back into answers (``postprocess``), the official metrics
(``metrics``), arguments (``arguments``) and one run over versions and seeds (``run``)."""
