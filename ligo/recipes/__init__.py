"""The experiments the scripts under scripts/ run: which runs exist, skip-if-finished, step
arithmetic, timing and the ``RUN.md`` beside every result. The bash recipes call these modules
and read as the list of commands a user would type."""
