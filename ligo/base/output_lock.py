"""An output folder belongs to one run at a time.

The run's first process holds an exclusive lock (``fcntl.lockf``) on ``<output_dir>/.ligo.lock``
for as long as it lives. The operating system releases it when the process ends, however it ends (a
SIGKILL, a lost node): no stale lock survives. A second run into the same folder (a requeued
cluster job started while the first still trains, say) is refused with one line naming the
holder, which the file records: process id, host and start time.

A tool that renames a finished folder into place (``python -m ligo.grow``) locks a file beside
it instead (``claim_beside``): a lock inside would move with the folder.
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from pathlib import Path

from ligo.base.atomic_write import describe_os_error
from ligo.base.errors import UserError

LOCK_FILE = ".ligo.lock"


class OutputLock:
    """Held from construction to ``release()`` (or the process's end). ``release`` removes the
    file too, so that a run refused after taking it leaves nothing behind; a taker checks that
    the file it locked is still the one at the path (a run ending between another's open and
    lock would otherwise leave two holders)."""

    def __init__(self, output_dir, what: str, path=None):
        self.path = Path(path) if path is not None else Path(output_dir) / LOCK_FILE
        while True:
            try:
                self.file = open(self.path, "a+", encoding="utf-8")
            except OSError as err:
                raise UserError(f"cannot write the lock file '{self.path}' of '{output_dir}': {err.strerror or err}; "
                                "choose a folder you can write to") from None
            try:
                # A POSIX record lock, not flock(): processes forked by the holder (DataLoader
                # workers) do not inherit it, so it goes with the holder alone.
                fcntl.lockf(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                if err.errno not in (errno.EACCES, errno.EAGAIN):
                    raise
                self.file.seek(0)
                holder = self._holder(self.file.read())
                self.file.close()
                raise UserError(f"'{output_dir}' is in use by another run ({holder}); wait for it to end, stop it, "
                                "or choose another output folder") from None
            try:
                if os.stat(self.path).st_ino == os.fstat(self.file.fileno()).st_ino:
                    break
            except FileNotFoundError:
                pass
            self.file.close()  # its holder removed it as we opened it: take the new one
        self.file.seek(0)
        self.file.truncate()
        try:
            self.file.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "what": what,
                                        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}))
            self.file.flush()
        except OSError as err:  # a full disk
            with contextlib.suppress(OSError):  # closing flushes again, and fails again
                self.release()
            raise UserError(f"cannot write the lock file '{self.path}' of '{output_dir}': {describe_os_error(err)}; "
                            "free disk space or fix the permissions, then run again") from None

    @staticmethod
    def _holder(text: str) -> str:
        try:
            holder = json.loads(text)
            return f"{holder['what']}, process {holder['pid']} on {holder['host']}, started {holder['started']}"
        except (ValueError, KeyError, TypeError):
            return "its holder did not say who it is"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def release(self):
        if self.file.closed:
            return
        self.path.unlink(missing_ok=True)  # while still holding it: no one else can be inside
        self.file.close()  # closing the descriptor releases the lock


def claim_output_dir(output_dir, what: str) -> OutputLock:
    """Create ``output_dir`` if need be and lock it; one line if it cannot be created."""
    make_writable_folder(output_dir, "--output_dir")
    return OutputLock(output_dir, what)


def make_writable_folder(folder, shown: str):
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create {shown} '{folder}': {err.strerror or err}; choose a folder you can "
                        "write to") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"{shown} '{folder}' is not writable; choose a folder you can write to")


def claim_beside(output_dir, what: str) -> OutputLock:
    """Lock ``output_dir`` through ``.<name>.lock`` in its parent (created if need be), for a folder
    that appears whole by a rename."""
    output_dir = Path(output_dir)
    make_writable_folder(output_dir.absolute().parent, "--output_dir's parent folder")
    return OutputLock(output_dir, what, path=output_dir.absolute().with_name(f".{output_dir.absolute().name}.lock"))
