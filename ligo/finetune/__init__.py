"""Fine-tuning pretrained models on downstream tasks (``glue``)."""
