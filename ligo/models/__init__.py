"""Model families: Hugging Face's own classes, one module per family (``bert``, ``roberta``,
``gpt2``, ``vit``, with ``gpt2_flops`` and ``vit_flops``) holding all the package knows of it,
what a family provides (``family``), the registry by ``model_type`` and the questions growth and
training ask of a family (``families``), and the family-agnostic parts: loading and building
(``loading``), the layout types (``layout``) and FLOPs conventions (``flops``)."""
