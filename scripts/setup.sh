#!/usr/bin/env bash
# First-time set-up, run from the clone: a virtual environment, a torch that fits this machine,
# and hktune with its test extra.
#
#   git clone <url> hktune && cd hktune && scripts/setup.sh && . .venv/bin/activate
#
# torch: an existing one (ROCm, CUDA or CPU, e.g. in --system-site-packages or an activated
# environment) is kept as it is. Otherwise: the CUDA build where `nvidia-smi` sees a GPU, the ROCm
# build where `rocminfo`/`amd-smi` does (the version below; change it to your ROCm), and the small
# CPU-only build anywhere else. A plain `pip install torch` on a machine without a GPU downloads
# the CUDA build and its ~4.5 GB of nvidia wheels.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
EXTRAS=${HKTUNE_EXTRAS:-test}
ROCM_INDEX=${HKTUNE_ROCM_INDEX:-https://download.pytorch.org/whl/rocm6.4}

if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -d .venv ] || "$PY" -m venv .venv
  . .venv/bin/activate
fi
python -m pip install -q --upgrade pip

if python -c "import torch" 2>/dev/null; then
  echo "torch: keeping $(python -c 'import torch; print(torch.__version__)')"
elif command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  echo "torch: NVIDIA GPU found, installing the CUDA build"
  python -m pip install -q torch
elif { command -v rocminfo >/dev/null && rocminfo 2>/dev/null | grep -q gfx; } || { command -v amd-smi >/dev/null && amd-smi list >/dev/null 2>&1; }; then
  echo "torch: AMD GPU found, installing the ROCm build from $ROCM_INDEX"
  python -m pip install -q torch --index-url "$ROCM_INDEX"
else
  echo "torch: no GPU found, installing the CPU-only build"
  python -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
fi

python -m pip install -q -e ".[$EXTRAS]"
echo "done: run '. .venv/bin/activate', then 'hktune doctor'"
