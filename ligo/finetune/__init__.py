"""Fine-tuning pretrained models on downstream tasks: GLUE (``glue``) and SQuAD (``squad``),
sharing their flags (``arguments``), loop (``train``), model loading (``model``), output
folder handling (``outputs``) and the results table (``table``)."""
