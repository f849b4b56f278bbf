#!/usr/bin/env bash
# Table 1 / Figure 2: BERT-Small (6L-512H) -> BERT-Base (12L-768H) on English Wikipedia.
# Paper: FLOPs saved StackBERT 34.1%, bert2BERT 29.0%, LiGO 44.7% (wall time 33.3/25.1/40.7%);
# GLUE average scratch 82.25, StackBERT 82.36, bert2BERT 82.42, LiGO 82.57.
# Needs data/wiki-cased tokenised for bert-base-uncased (see the README). Settings: small_to_base.sh.
FAMILY=bert exec bash "$(dirname "$0")/small_to_base.sh"
