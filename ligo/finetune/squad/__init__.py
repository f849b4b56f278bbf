"""SQuAD v1.1 and v2.0's pieces (run by ligo/finetune/squad_run.py): the official files (``data``),
windows of tokens (``features``), spans back into answers (``postprocess``), the official metrics
(``metrics``) and arguments (``arguments``)."""
