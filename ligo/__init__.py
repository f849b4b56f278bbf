"""LiGO (Learning to Grow Pretrained Models, ICLR 2023) on Hugging Face transformers.

Folders, each one concern, imports pointing down the list: ``models`` (model families),
``data``, ``training`` (the one loop), ``growth`` (LiGO and the baselines), ``tasks`` (what a
run trains), ``finetune`` (GLUE), ``report``. ``errors`` and ``atomic_write`` are the base
every folder may use."""
