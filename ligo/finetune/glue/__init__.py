"""GLUE's pieces (run by ligo/finetune/glue_run.py): the tasks and their files (``tasks``,
``data``), the model (``model``), the fine-tuning loop (``finetune``), metrics (``metrics``) and
arguments (``arguments``)."""
