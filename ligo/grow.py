"""``python -m ligo.grow``: kept as the command users type; the command lives in ligo.tasks.grow."""

from ligo.tasks.grow import main

if __name__ == "__main__":
    main()
