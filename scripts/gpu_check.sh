#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, as one script for a short loan of a GPU machine that has
# python3 with numpy, CuPy and torch but no network and none of the test tools.
#
#   1. the engine's smoke run on GRADSERVE_BACKEND=cupy,
#   2. the GPU rows of bench/ (gradserve on CuPy vs torch CUDA, and vs hand-written CuPy),
#   3. the engine test suite on GRADSERVE_BACKEND=cupy.
#
# Test tools come from wheels in build/gpuwheels (pure-Python ones; fetch them here with
#   pip download --no-deps --only-binary=:all: -d build/gpuwheels \
#       pytest pluggy iniconfig packaging pygments pytest-timeout pytest-xdist execnet threadpoolctl
# and carry build/gpuwheels to the machine). Everything it prints is also written under $OUT
# (default build/gpu-out). Each step has its own time limit, so one slow step cannot eat the loan.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-build/gpu-out}"
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu_check.log") 2>&1

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step machine
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 -c 'import sys, numpy, cupy, torch; print(sys.version.split()[0], "numpy", numpy.__version__,
"cupy", cupy.__version__, "torch", torch.__version__, "cuda", torch.version.cuda)'

step tools
# beside the machine's own python3 (which may itself be a venv: a --system-site-packages venv
# made from it would not see its packages)
python3 -m pip install -q --no-index --find-links build/gpuwheels --target /tmp/gputools \
    pytest pytest-timeout pytest-xdist threadpoolctl
export PYTHONPATH=/tmp/gputools
PY=python3
export GRADSERVE_BACKEND=cupy

step "engine smoke on cupy"
timeout 90 $PY - <<'EOF'
import engine as ge
x = ge.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
y = (x @ x).tanh().sum()
y.backward()
print(x.device, y, x.grad, sep="\n")
EOF

step "bench: GPU rows"
timeout 200 $PY -m bench --case 'gpu_*' --out "$OUT/bench"

step "engine suite on cupy"
timeout 230 $PY -m pytest tests/engine -q -p no:cacheprovider -n 8 --timeout 120 \
    --ignore tests/engine/test_backend_portability.py -rf --maxfail 200 \
    --junitxml "$OUT/engine_cupy.xml" | tail -n 120
echo "pytest exit: ${PIPESTATUS[0]}"
step done
