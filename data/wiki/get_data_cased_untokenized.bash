#!/usr/bin/env bash
# English (or any LANG) Wikipedia -> accent-stripped lines without Moses tokenisation,
# split into data/wiki-cased-untokenized/LANG.{train,valid,test}.raw (RoBERTa data).
# Usage: bash data/wiki/get_data_cased_untokenized.bash en [LOCAL_DUMP.xml.bz2]; see prepare_wiki.sh.
exec bash "$(dirname "${BASH_SOURCE[0]}")/prepare_wiki.sh" untokenized "$@"
