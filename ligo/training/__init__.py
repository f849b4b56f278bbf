"""The one training loop and what it stands on: the loop (``trainer``), a run's set-up from its
arguments (``session``, ``arguments``), checkpoints and exact resume (``checkpoint``),
processes and ranks (``distributed``), the optimiser and schedule (``optim``), batch order
(``sampling``), evaluation (``evaluate``), run logs (``run_log``), fault injection for the
reliability tests (``fault_injection``) and host memory (``host_memory``)."""
