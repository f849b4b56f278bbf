#!/usr/bin/env bash
# RoBERTa-Small (6L-512H) -> RoBERTa-Base (12L-768H) on English Wikipedia (untokenised).
# Paper: LiGO saves 47.2% of the FLOPs of training RoBERTa-Base from scratch.
# Needs data/wiki-cased-untokenized tokenised for roberta-base (see the README). Settings: small_to_base.sh.
FAMILY=roberta exec bash "$(dirname "$0")/small_to_base.sh"
