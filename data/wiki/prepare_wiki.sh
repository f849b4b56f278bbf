#!/usr/bin/env bash
# Shared body of get_data_cased.bash and get_data_cased_untokenized.bash.
# Usage: bash data/wiki/prepare_wiki.sh {moses|untokenized} LANG [DUMP]
#
# DUMP (or $WIKI_DUMP): a local pages-articles XML .bz2 dump; without it the latest dump
# of LANG is downloaded (resumable) into $WIKI_DOWNLOAD_DIR (default data/wiki-dumps).
# Other settings: WIKI_OUT_DIR (output folder), VALID_LINES and TEST_LINES (held-out
# lines each, default 5000 as the authors), WIKI_PROCESSES (default: all cores), PYTHON.
# Output: $WIKI_OUT_DIR/LANG.{all,train,valid,test}.raw and SOURCE. Nothing appears there
# until every step has succeeded; a finished folder for the same dump is reused.
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }

mode=${1:-}
lg=${2:-}
case "$mode" in
  moses) default_out=data/wiki-cased; clean_flags=(--moses) ;;
  untokenized) default_out=data/wiki-cased-untokenized; clean_flags=() ;;
  *) die "mode must be 'moses' or 'untokenized', got '$mode'" ;;
esac
[ -n "$lg" ] || die "no language given; usage: bash data/wiki/get_data_cased.bash en [DUMP.xml.bz2]"
[[ "$lg" =~ ^[a-z-]+$ ]] || die "language '$lg' is not a Wikipedia language code such as 'en'"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python}
out=${WIKI_OUT_DIR:-$default_out}
valid_lines=${VALID_LINES:-5000}
test_lines=${TEST_LINES:-5000}
processes=${WIKI_PROCESSES:-$(nproc)}
dump=${3:-${WIKI_DUMP:-}}

# Checked up front: otherwise a bad value fails only after the long extraction.
whole_number() {  # NAME VALUE EXAMPLE
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 '$2' is not a whole number of at least 1; set e.g. $1=$3"
}
whole_number VALID_LINES "$valid_lines" 5000
whole_number TEST_LINES "$test_lines" 5000
whole_number WIKI_PROCESSES "$processes" 4

if [ -z "$dump" ]; then
  name=${lg}wiki-latest-pages-articles.xml.bz2
  url=https://dumps.wikimedia.org/${lg}wiki/latest/$name
  download_dir=${WIKI_DOWNLOAD_DIR:-data/wiki-dumps}
  mkdir -p "$download_dir"
  dump=$download_dir/$name
  if [ ! -f "$dump.done" ]; then
    echo "[wiki] downloading $url (resumable; for an offline run pass a local dump)"
    if command -v curl >/dev/null; then
      curl -fL --retry 5 --progress-bar -C - -o "$dump" "$url" || die "download of $url failed; rerun to resume, or pass a local dump"
    else
      wget -c --progress=bar:force -O "$dump" "$url" || die "download of $url failed; rerun to resume, or pass a local dump"
    fi
    touch "$dump.done"
  fi
fi

[ -f "$dump" ] || die "dump '$dump' does not exist; pass the path of a pages-articles XML .bz2 dump"
[ -s "$dump" ] || die "dump '$dump' is empty; download it again"
[ "$(head -c 3 "$dump")" = "BZh" ] || die "dump '$dump' is not a bzip2 file; pass a *-pages-articles*.xml.bz2 dump"
header=$(bzcat "$dump" 2>/dev/null | head -c 4096 || true)
[ -n "$header" ] || die "dump '$dump' could not be decompressed (truncated or corrupt); download it again"
[[ "$header" == *"<mediawiki"* ]] || die "dump '$dump' is bzip2 but not a MediaWiki XML dump; pass a *-pages-articles*.xml.bz2 dump"

source_id="$(cd "$(dirname "$dump")" && pwd)/$(basename "$dump") $(stat -c %s "$dump") mode=$mode valid=$valid_lines test=$test_lines"
if [ -f "$out/SOURCE" ]; then
  if [ "$(cat "$out/SOURCE")" = "$source_id" ]; then
    echo "[wiki] $out is already prepared from this dump; delete it to prepare again"
    exit 0
  fi
  die "$out holds data prepared from '$(cat "$out/SOURCE")'; remove it or set WIKI_OUT_DIR to another folder"
fi

work=$out.partial
rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT

echo "[wiki] extracting and cleaning $dump ($mode) with $processes processes, python $PYTHON"
"$PYTHON" -m wikiextractor.WikiExtractor "$dump" --no-templates -q -o - --processes "$processes" \
  | "$PYTHON" "$here/clean_text.py" --lang "$lg" --processes "$processes" "${clean_flags[@]}" \
  > "$work/$lg.all.raw"
"$PYTHON" "$here/split_lines.py" "$work/$lg.all.raw" "$work" --lang "$lg" \
  --valid_lines "$valid_lines" --test_lines "$test_lines"

mkdir -p "$out"
for split in all train valid test; do
  mv "$work/$lg.$split.raw" "$out/$lg.$split.raw"
done
# Written last: its presence marks a complete folder.
echo "$source_id" > "$out/SOURCE"
echo "[wiki] wrote $out/$lg.{all,train,valid,test}.raw"
