"""Text data for pretraining: tokenizers (``tokenizer``), tokenised HDF5 files read as fixed-size
blocks (``dataset``), seeded masking (``masking``) and plain text files (``text_files``)."""
