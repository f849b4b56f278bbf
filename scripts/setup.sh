#!/usr/bin/env bash
# Creates the project's virtual environment and installs everything into it.
# Usage: bash scripts/setup.sh [VENV_DIR]   (default .venv; `make setup` calls this)
#
# torch and torchvision go in first, as a pair built for each other (torchvision's compiled
# operators load only beside the torch they were built with). On a machine without an NVIDIA GPU
# we ask for the pinned pair this kind of machine keeps on disk (torch 2.13.0's CPU build has no
# torchvision that loads beside it: docs/vision.md); set TORCH_SPEC (and, where needed,
# PIP_EXTRA_INDEX_URL) to choose another build.
set -euo pipefail

venv=${1:-.venv}
python=${PYTHON:-python3}

if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating virtual environment $venv"
  "$python" -m venv "$venv"
fi

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  default_torch="torch>=2.4,<2.15 torchvision>=0.19,<0.30"
else
  default_torch="torch==2.14.1 torchvision==0.29.1"
fi
torch_spec=${TORCH_SPEC:-$default_torch}

echo "[setup] installing $torch_spec"
# shellcheck disable=SC2086  # a spec may name several packages
"$venv/bin/python" -m pip install --quiet $torch_spec
echo "[setup] installing requirements.txt"
"$venv/bin/python" -m pip install --quiet -r requirements.txt
echo "[setup] installing this project (editable)"
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
"$venv/bin/python" -c "import torch, torchvision, transformers; print(f'[setup] torch {torch.__version__}, torchvision {torchvision.__version__}, transformers {transformers.__version__}, CUDA available: {torch.cuda.is_available()}')"
