#!/usr/bin/env bash
# English (or any LANG) Wikipedia -> Moses-tokenised, accent-stripped lines, split into
# data/wiki-cased/LANG.{train,valid,test}.raw (BERT data).
# Usage: bash data/wiki/get_data_cased.bash en [LOCAL_DUMP.xml.bz2]; see prepare_wiki.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/prepare_wiki.sh" moses "$@"
