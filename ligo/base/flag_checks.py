"""Checks every command line of the project shares: config files whose keys are all flags,
finite numbers, a positive Adam epsilon."""

import difflib
import math
import sys
from pathlib import Path

import configargparse

from ligo.base.errors import UserError

CONFIG_FILE_FIX = "give a config file (name = value lines), e.g. configs/bert_wiki.txt"


def _config_paths(argv):
    argv = list(argv) if argv is not None else sys.argv[1:]
    paths = []
    for i, token in enumerate(argv):
        if token == "--config" and i + 1 < len(argv):
            paths.append(argv[i + 1])
        elif token.startswith("--config="):
            paths.append(token.split("=", 1)[1])
    return paths


def check_config_files(parser, argv):
    """Unknown or misspelled keys in a config file name the file, the key and a guess."""
    known = {option.lstrip("-") for action in parser._actions for option in action.option_strings}
    for path in _config_paths(argv):
        if Path(path).is_dir():
            raise UserError(f"--config '{path}' is a folder; {CONFIG_FILE_FIX}")
        if not Path(path).is_file():
            raise UserError(f"config file '{path}' does not exist; {CONFIG_FILE_FIX}")
        try:
            with Path(path).open(encoding="utf-8") as stream:
                items = configargparse.DefaultConfigFileParser().parse(stream)
        except configargparse.ConfigFileParserException as err:
            raise UserError(f"config file '{path}' is malformed: {err}") from None
        except UnicodeDecodeError as err:
            raise UserError(f"config file '{path}' is not UTF-8 text ({err.reason} at byte {err.start}); "
                            f"{CONFIG_FILE_FIX}") from None
        for key in items:
            if key not in known:
                guess = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" (did you mean '{guess[0]}'?)" if guess else ""
                raise UserError(f"config file '{path}': unknown key '{key}'{hint}; remove or correct it")


def check_finite(args):
    """nan and inf are never meant: every number a flag takes must be finite."""
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise UserError(f"--{name} must be a finite number, got {v}")


def check_adam_epsilon(eps: float):
    """AdamW divides by sqrt(v) + eps: with eps 0 a parameter whose gradient is 0 (an embedding row
    no batch has used) becomes 0/0 = NaN after one step, silently."""
    if not eps > 0:
        raise UserError(f"--adam_epsilon must be positive (with 0, AdamW turns a parameter whose gradient is 0 "
                        f"into NaN), got {eps:g}; the default is 1e-6")
