"""What every layer of the package may use: the user-error type (``errors``), atomic file writes
(``atomic_write``), checksums of a folder's files (``checksums``), the one-run-per-folder lock
(``output_lock``), keeping freed host memory
(``host_memory``), the parser every command line is built with (``command_line``), the checks they share
(``flag_checks``) and mixed precision (``autocast``)."""
