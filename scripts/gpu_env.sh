# The environment of the GPU scripts (gpu_check.sh, gpu_table1.sh); sourced, not run.
# A GPU machine lent to this project has its own python3 with a CUDA torch, transformers,
# tokenizers, h5py, ... but no network and not this project's other needs: scripts/gpu_prepare.sh,
# run on a machine with network, downloads those as wheels into data/gpu-wheels/, and this file
# installs them into a temporary folder when they are missing. Sets PYTHON, PYTHONPATH (the repo,
# so that its packages load without an install) and HF_HUB_OFFLINE=1.
GPU_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

if [ -z "${PYTHON:-}" ]; then
  if [ -n "${VIRTUAL_ENV:-}" ] && [ -x "$VIRTUAL_ENV/bin/python" ]; then PYTHON=$VIRTUAL_ENV/bin/python
  elif [ -x "$GPU_REPO/.venv/bin/python" ]; then PYTHON=$GPU_REPO/.venv/bin/python
  else PYTHON=python3
  fi
fi
command -v "$PYTHON" >/dev/null 2>&1 || { echo "error: no Python interpreter '$PYTHON'; set PYTHON to one" >&2; exit 2; }
export PYTHON PYTHONPATH="$GPU_REPO${PYTHONPATH:+:$PYTHONPATH}"

# The project's needs beyond what a GPU image ships (module names).
gpu_missing() {
  "$PYTHON" -c 'import importlib.util as u, sys; print(*(m for m in sys.argv[1:] if u.find_spec(m) is None))' \
    configargparse tensorboardX sacremoses wikiextractor
}
if [ -n "$(gpu_missing)" ] && ls "$GPU_REPO"/data/gpu-wheels/*.whl >/dev/null 2>&1; then
  echo "[gpu] installing the carried wheels for: $(gpu_missing) (into ${TMPDIR:-/tmp}/ligo-gpu-site)" >&2
  PIP_ROOT_USER_ACTION=ignore "$PYTHON" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir \
    --upgrade --target "${TMPDIR:-/tmp}/ligo-gpu-site" "$GPU_REPO"/data/gpu-wheels/*.whl >&2 \
    || { echo "error: could not install the wheels of $GPU_REPO/data/gpu-wheels (pip says why above)" >&2; exit 2; }
  export PYTHONPATH="$PYTHONPATH:${TMPDIR:-/tmp}/ligo-gpu-site"
fi
if [ -n "$(gpu_missing)" ]; then
  echo "error: Python packages missing for $PYTHON: $(gpu_missing); run 'bash scripts/gpu_prepare.sh' on a machine" \
    "with network and carry data/gpu-wheels (docs/gpu.md), or install them" >&2
  exit 2
fi
