"""Files replaced whole: written beside the target and renamed over it, so a reader (or a
crash) never sees half a file. And what a failed write says: the operating system's error
(a full disk, a file-size limit, no permission), however the library that wrote reported it."""

import errno
import json
import os
import re
from pathlib import Path

# How Rust's std::io::Error ends its message: what safetensors reports a failed write with.
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def write_text_atomic(path, text: str):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_json_atomic(path, obj):
    write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def os_error_of(err: BaseException) -> OSError | None:
    """The operating system's error that ``err`` is, or reports (safetensors raises its own
    exception type, naming the error as Rust does); None for any other error."""
    if isinstance(err, OSError):
        return err
    found = _RUST_OS_ERROR.search(str(err))
    if found is None:
        return None
    code = int(found.group(1))
    return OSError(code, os.strerror(code))


def describe_os_error(err: OSError) -> str:
    """'No space left on device (ENOSPC) at '<file>'': the reason, its errno name and the file if
    the error names one."""
    code = errno.errorcode.get(err.errno, str(err.errno))
    return f"{err.strerror or err} ({code})" + (f" at '{err.filename}'" if err.filename is not None else "")
