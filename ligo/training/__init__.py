"""The one training loop and what it stands on: the loop (``trainer``), a run's set-up
(``session``), checkpoints and exact resume (``checkpoint``), processes and ranks
(``distributed``), preemption signals (``preemption``), the optimiser and schedule (``optim``),
batch order (``sampling``), evaluation (``evaluate``), run logs (``run_log``), layer and token
dropping (``layer_drop``, ``token_drop``) and fault injection for the reliability tests
(``fault_injection``)."""
