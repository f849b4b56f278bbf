"""LiGO (Learning to Grow Pretrained Models, ICLR 2023) on Hugging Face transformers.

Layers, each importing only from those below it (pyproject.toml's import contract, checked by
``make lint``): ``recipes`` (the scripts' experiments) and ``grow`` (``python -m ligo.grow``);
``finetune`` and ``report``; ``tasks`` (what a run trains, the command line); ``growth`` (LiGO
and the baselines); ``training`` (the one loop); ``data``; ``models`` (the families); ``base``
(errors, atomic writes, the output lock, host memory, the parser, flag checks, autocast)."""
