"""Model families: Hugging Face's own classes, one module per family (``bert``, ``roberta``)
holding what the rest of the package needs to know of it (its classes, the tensor layout and
spaces growth widens, its FLOPs formula, its position offset), a registry by ``model_type``
(``registry``), and the family-agnostic parts: loading and building (``loading``), the layout
types (``layout``) and FLOPs conventions (``flops``)."""
