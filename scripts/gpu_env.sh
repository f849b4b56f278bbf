# The environment of the GPU scripts (gpu_check.sh, gpu_table1.sh); sourced, not run.
# A GPU machine lent to this project has its own python3 with a CUDA torch, transformers,
# tokenizers, h5py, ... but no network and not this project's other needs (configargparse,
# tensorboardX, sacremoses, wikiextractor): scripts/gpu_prepare.sh, run on a machine with
# network, downloads those as wheels into data/gpu-wheels/, and this file installs them into a
# temporary folder when they are missing. Sets PYTHON, PYTHONPATH (the repo, so its packages
# load without an install), HF_HUB_OFFLINE=1, and GPU_NAME (the CUDA device's name, empty
# without a GPU), GPU_COUNT, GPU_TORCH and GPU_CUDA (versions); defines gpu_die.
GPU_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HF_HUB_OFFLINE=1
export PYTHONUNBUFFERED=1

gpu_die() { echo "error: $*" >&2; exit 1; }

if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then PYTHON=$VIRTUAL_ENV/bin/python
  elif [ -x "$GPU_REPO/.venv/bin/python" ]; then PYTHON=$GPU_REPO/.venv/bin/python
  else PYTHON=python3
  fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || gpu_die "no Python interpreter '$PYTHON'; set PYTHON"
export PYTHON
export PYTHONPATH="$GPU_REPO${PYTHONPATH:+:$PYTHONPATH}"

# The project's needs beyond what a GPU image ships (module names).
GPU_EXTRA_MODULES="configargparse tensorboardX sacremoses wikiextractor"
gpu_missing_modules() {
  "$PYTHON" - $GPU_EXTRA_MODULES <<'PY'
import importlib.util, sys
print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
PY
}
missing=$(gpu_missing_modules)
if [ -n "$missing" ]; then
  wheels=$GPU_REPO/data/gpu-wheels
  if ls "$wheels"/*.whl >/dev/null 2>&1; then
    site=${TMPDIR:-/tmp}/ligo-gpu-site
    echo "[gpu] installing the carried wheels for: $missing (into $site)" >&2
    PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$site" \
      "$wheels"/*.whl >&2 || gpu_die "could not install the wheels in $wheels"
    export PYTHONPATH="$PYTHONPATH:$site"
    missing=$(gpu_missing_modules)
  fi
  [ -z "$missing" ] || gpu_die "Python packages missing for $PYTHON: $missing; run 'bash scripts/gpu_prepare.sh' on a" \
    "machine with network and carry data/gpu-wheels (docs/gpu.md), or install them"
fi
unset missing

gpu_info=$("$PYTHON" -c "
import torch
n = torch.cuda.device_count() if torch.cuda.is_available() else 0
print(n, torch.__version__, torch.version.cuda or 'none', torch.cuda.get_device_name(0) if n else '')" 2>/dev/null) \
  || gpu_die "torch does not import with $PYTHON ('$PYTHON -c \"import torch\"' says why); set PYTHON to one that has it"
read -r GPU_COUNT GPU_TORCH GPU_CUDA GPU_NAME <<<"$gpu_info"
GPU_NAME=${GPU_NAME:-}
unset gpu_info

# gpu_tiny_configs VOCAB_SIZE FOLDER PREFIX: FOLDER/PREFIX{small,large}.json, the tiny BERT pair
# (2L-32H -> 4L-64H) the scripts train on a CPU.
gpu_tiny_configs() {
  "$PYTHON" - "$@" <<'PY'
import json, sys
vocab, folder, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for name, layers, hidden in (("small", 2, 32), ("large", 4, 64)):
    config = {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_act": "gelu",
              "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": hidden // 32,
              "intermediate_size": 4 * hidden, "max_position_embeddings": 130, "type_vocab_size": 2,
              "vocab_size": vocab, "initializer_range": 0.02,
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1}
    json.dump(config, open(f"{folder}/{prefix}{name}.json", "w"), indent=2)
PY
}
