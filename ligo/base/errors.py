"""The one exception type for mistakes a user can fix (bad paths, values, files).

Entry points print its message as a single line and exit non-zero, without a traceback;
anything else is a bug and keeps its traceback."""

import functools
import sys


class UserError(Exception):
    """A problem with the user's input; the message names the bad value and the fix."""


def exit_on_user_error(main):
    """Decorate a ``main()`` so that a UserError ends the process with one clear line."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
