#!/usr/bin/env bash
# Fetches the embedded default data: a real, shortened English Wikipedia XML dump
# (206 pages, 106 articles; CC BY-SA 4.0, Wikipedia contributors) that ships as test data
# inside the gensim 4.4.0 wheel on PyPI. Only the wheel is downloaded (gensim is not
# installed) and only the dump is kept. Prints the dump's path.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dump=$here/enwiki-sample.xml.bz2
member=gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2
python=${PYTHON:-python3}
if [ ! -s "$dump" ]; then
  cache=$here/cache
  mkdir -p "$cache"
  echo "[sample] downloading the gensim 4.4.0 wheel for its Wikipedia test dump" >&2
  "$python" -m pip download --quiet --no-deps --only-binary=:all: gensim==4.4.0 -d "$cache" >&2
  wheel=$(ls "$cache"/gensim-4.4.0-*.whl | head -n 1)
  "$python" - "$wheel" "$member" "$dump" <<'PY'
import shutil, sys, zipfile
wheel, member, dump = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(dump + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
shutil.move(dump + ".tmp", dump)
PY
  rm -rf "$cache"
fi
echo "$dump"
