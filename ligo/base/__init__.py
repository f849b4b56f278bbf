"""What every layer of the package may use: the user-error type (``errors``), atomic file writes
(``atomic_write``), the one-run-per-folder lock (``output_lock``), keeping freed host memory
(``host_memory``), the checks every command line shares (``flag_checks``) and mixed precision
(``autocast``)."""
