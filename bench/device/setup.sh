# Sourced at the start of every command on the lent H200 machine: the wheels hktune needs that
# the machine's image lacks (carried in .whl/), and hktune itself from the working tree.
# Make .whl/ and .tk/ here first: bash bench/device/pack.sh
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=$PWD:/tmp/site PYTHONUNBUFFERED=1 HKTUNE_CACHE_DIR=/tmp/hktune-cache
export THUNDERKITTENS_ROOT=$PWD/.tk
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv,noheader
