"""A run's data: what the loop needs of it (``run_data``), built by the family's objective
(``build``) from text (``text_run_data``: tokenizers in ``tokenizer``, tokenised HDF5 files read as
blocks in ``dataset``, seeded masking in ``masking``, plain text files in ``text_files``) or from
images (``image_run_data``: ImageFolder trees with DeiT's augmentations in ``images``;
scikit-learn's digits written as such a tree in ``digits``)."""
