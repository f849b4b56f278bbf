"""GLUE fine-tuning (run_glue.py): the tasks and their files (``tasks``, ``data``), the model
(``model``), the fine-tuning loop (``finetune``), metrics (``metrics``), arguments
(``arguments``), one run over tasks and seeds (``run``) and the results table (``table``)."""
