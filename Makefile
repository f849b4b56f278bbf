# Set-up, main job and tests. `make mini` and `make test` each do all set-up first.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup mini mini-gpt2 mini-llama mini-vit lint test bench clean-data

$(STAMP): requirements.txt pyproject.toml scripts/setup.sh
	bash scripts/setup.sh $(VENV)
	touch $(STAMP)

setup: $(STAMP)

# The clock starts before set-up so that results/mini/RUN.md reports the whole job.
mini:
	start=$$(date +%s) && $(MAKE) --no-print-directory setup && \
	  MINI_STARTED=$$start PYTHON=$(abspath $(PYTHON)) bash scripts/run_mini.sh

# The GPT-2 miniature (Figure 3c): its own data stage, then its runs and report in results/mini-gpt2.
mini-gpt2:
	start=$$(date +%s) && $(MAKE) --no-print-directory setup && \
	  MINI_STARTED=$$start PYTHON=$(abspath $(PYTHON)) bash scripts/mini_causal_lm.sh gpt2

# The Llama miniature (grouped-query attention): the GPT-2 miniature's stages, runs and report in results/mini-llama.
mini-llama:
	start=$$(date +%s) && $(MAKE) --no-print-directory setup && \
	  MINI_STARTED=$$start PYTHON=$(abspath $(PYTHON)) bash scripts/mini_causal_lm.sh llama

# The ViT miniature (Table 2): scikit-learn's digits as an ImageFolder tree, its runs and report in results/mini-vit.
mini-vit:
	start=$$(date +%s) && $(MAKE) --no-print-directory setup && \
	  MINI_STARTED=$$start PYTHON=$(abspath $(PYTHON)) bash scripts/mini_vit.sh

# Lint (ruff) and the import contract (import-linter; pyproject.toml): seconds, before the tests.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

# One pytest worker a core (pytest-xdist), a test file to a worker: half the suite's wall time on
# 2 cores, where most tests run one single-threaded process (docs/benchmarks.md).
test: lint
	HF_HUB_OFFLINE=1 $(PYTHON) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(PYTHON) -m bench

clean-data:
	rm -rf data/wiki-sample-cased data/wiki-sample-cased-untokenized data/tokenizers data/sample/*.bz2 data/digits
