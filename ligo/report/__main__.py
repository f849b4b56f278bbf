"""``python -m ligo.report``: the savings report (ligo.report.savings)."""

from ligo.report.savings import main

main()
