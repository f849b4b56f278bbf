"""SHA-256 checksums of every file of a folder, recorded when it is written and checked when it
is read back: a flipped bit or a cut-short file is found before it is trained on.

The record is ``checksums.sha256`` in the folder, in the format of ``sha256sum``, so that
``cd <folder> && sha256sum -c checksums.sha256`` checks it too. Hashing a file read from the
page cache runs at about 1 GB/s on one core (docs/reliability.md: a BERT-Base checkpoint with its
AdamW state, 1.3 GB, takes 1.3 s)."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

SUMS_FILE = "checksums.sha256"
CHUNK = 1 << 22
# Below this many bytes, checking takes under a few seconds: no progress bar.
PROGRESS_ABOVE = 1 << 30


@dataclass(frozen=True)
class Problem:
    path: Path  # the file
    what: str  # "damaged", "missing" or "unlisted"


def digest(path: Path, bar: tqdm | None = None) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            if bar is not None:
                bar.update(len(chunk))
    return sha.hexdigest()


def digests(folder: Path, names) -> dict[str, str]:
    """name -> SHA-256 of each of ``names`` in ``folder``."""
    return {name: digest(Path(folder) / name) for name in names}


def files_of(folder: Path) -> list[str]:
    """The folder's files (recursively) as names relative to it, the record excluded."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != SUMS_FILE)


def write_checksums(folder, about_to_write: dict[str, bytes] | None = None, known: dict[str, str] | None = None):
    """Record the checksum of every file now in ``folder``, and of ``about_to_write`` (name ->
    the bytes that file will hold: a file written after the record, such as the one whose
    presence marks the folder complete). ``known``: digests already taken (name -> SHA-256, as
    its bytes were written), not read again."""
    folder = Path(folder)
    sums = {name: (known or {}).get(name) or digest(folder / name) for name in files_of(folder)}
    sums.update({name: hashlib.sha256(data).hexdigest() for name, data in (about_to_write or {}).items()})
    (folder / SUMS_FILE).write_text("".join(f"{sums[name]}  {name}\n" for name in sorted(sums)))


def read_checksums(folder) -> dict[str, str] | None:
    """name -> SHA-256 as recorded; None for a folder written without a record. A record that is
    not one raises ValueError."""
    path = Path(folder) / SUMS_FILE
    if not path.is_file():
        return None
    sums = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        checksum, _, name = line.partition("  ")
        if len(checksum) != 64 or not name or any(c not in "0123456789abcdef" for c in checksum):
            raise ValueError(f"line {number} is not '<sha256>  <file name>': {line[:100]!r}")
        sums[name] = checksum
    return sums


def find_problem(folder, sums: dict[str, str], names=None, progress: bool = False) -> Problem | None:
    """The first file of ``folder`` that differs from its record: one changed since it was written
    ("damaged"), one recorded but gone ("missing") or one not recorded ("unlisted"). ``names``:
    check only these recorded files (None: every file, and that no other file is there).
    ``progress``: a progress bar while a large folder is read."""
    folder = Path(folder)
    checked = sorted(sums) if names is None else sorted(name for name in names if name in sums)
    for name in checked:
        if not (folder / name).is_file():
            return Problem(folder / name, "missing")
    if names is None:
        unlisted = sorted(set(files_of(folder)) - set(sums))
        if unlisted:
            return Problem(folder / unlisted[0], "unlisted")
    total = sum((folder / name).stat().st_size for name in checked)
    with tqdm(total=total, unit="B", unit_scale=True, desc=f"checking {folder.name}",
              disable=not progress or total < PROGRESS_ABOVE) as bar:
        for name in checked:
            if digest(folder / name, bar) != sums[name]:
                return Problem(folder / name, "damaged")
    return None
