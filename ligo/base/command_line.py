"""The one parser class of every command line in the project (tests/test_command_line.py keeps it so).

Abbreviated flags are refused: with argparse's default ``--max_step 1`` runs as ``--max_steps 1``
and ``--learning_rat`` is an "ambiguous option" after the usage block. argparse's own errors (an
unknown flag, an invalid choice, a missing value) become a UserError, which entry points print as
one ``error:`` line (exit code 2) naming the closest valid flag or choice and the ``--help`` to read.
A parser with a ``--config`` flag checks the files it names first (ligo.base.flag_checks).
"""

import argparse
import difflib

import configargparse

from ligo.base.errors import UserError
from ligo.base.flag_checks import check_config_files


class OneLineParser(configargparse.ArgParser):
    """configargparse's parser (an argparse one: plain argparse users lose nothing), strict and one-line."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, allow_abbrev=False, **kwargs)

    @property
    def command(self) -> str:
        """What the user types to run it: ``prog`` when it is a whole command ("python -m ligo.report")."""
        return self.prog if " " in self.prog else f"python {self.prog}"

    def error(self, message):
        see = " See" if message.endswith("?") else "; see"
        raise UserError(f"{message}{see} `{self.command} --help`")

    def parse_known_args(self, args=None, namespace=None, **kwargs):
        if any(getattr(action, "is_config_file_arg", False) for action in self._actions):
            check_config_files(self, args)  # before configargparse opens them: its errors name no key or fix
        return super().parse_known_args(args, namespace, **kwargs)

    def parse_args(self, args=None, namespace=None, **kwargs):
        parsed, extras = self.parse_known_args(args, namespace, **kwargs)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._flag_guesses(extras)}")
        return parsed

    def _flag_guesses(self, extras) -> str:
        """'; did you mean --max_steps?' for the unknown flags among ``extras`` that are close to one."""
        flags = _flags(self)
        guesses = []
        for token in extras:
            key = token.split("=", 1)[0]
            if not key.startswith(tuple(self.prefix_chars)) or key in flags or _is_number(key):
                continue  # a value, or a flag a sub-command knows
            guess = closest(key, flags)
            if guess is not None:
                guesses.append((key, guess))
        if not guesses:
            return ""
        if len(guesses) == 1:
            return f"; did you mean {guesses[0][1]}?"
        return f"; did you mean {', '.join(f'{guess} for {key}' for key, guess in guesses)}?"

    def _check_value(self, action, value):
        # argparse's check of a value against the choices; its message lists them but names no close one
        try:
            super()._check_value(action, value)
        except argparse.ArgumentError as err:
            guess = closest(str(value), [str(choice) for choice in action.choices])
            if guess is None:
                raise
            raise argparse.ArgumentError(action, f"{err.message}; did you mean {guess}?") from None


def closest(word: str, candidates) -> str | None:
    """The candidate ``word`` most likely meant: an abbreviation's closest completion, else a near spelling."""
    candidates = sorted(candidates)
    completions = [c for c in candidates if c.startswith(word)] if word else []
    found = difflib.get_close_matches(word, completions or candidates, n=1, cutoff=0.0 if completions else 0.6)
    return found[0] if found else None


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and of its sub-commands' parsers."""
    flags = {option for action in parser._actions for option in action.option_strings}
    for action in parser._actions:
        if isinstance(action.choices, dict):  # a sub-command action: name -> its parser
            for sub in action.choices.values():
                if isinstance(sub, argparse.ArgumentParser):
                    flags |= _flags(sub)
    return flags


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
