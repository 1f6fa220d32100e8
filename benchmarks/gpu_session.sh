#!/usr/bin/env bash
# Everything a GPU machine should measure, in one command: the CUDA tests, then `bench.py` at
# full size with the torch.compile rows and the full Fashion-MNIST accuracy run.
#
#   bash benchmarks/gpu_session.sh                  # on a workstation with the venv: PY=.venv/bin/python
#
# Needs python3 with torch, torchvision, numpy, pandas, scikit-learn, pyyaml and pytest (a stock
# PyTorch image has them; snakemake is not needed: the DAG rows are skipped). Fashion-MNIST is
# read from Debian's package, or from CVREPRO_FASHION_MNIST_DIR (copy the four .gz files to
# .gpu-data/fashion-mnist, which git ignores, when the machine has no package). Logs and the
# results table go to $OUT (default benchmarks/results). About 6-8 minutes on one H100.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-benchmarks/results}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
if [ -z "${CVREPRO_FASHION_MNIST_DIR:-}" ] && [ -e .gpu-data/fashion-mnist/train-images-idx3-ubyte.gz ]; then
    export CVREPRO_FASHION_MNIST_DIR=$PWD/.gpu-data/fashion-mnist
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
"$PY" -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)"
"$PY" -m pytest -q -p no:cacheprovider tests/test_cuda.py 2>&1 | tee "$OUT/test_cuda.log"
tests=$?
# shellcheck disable=SC2086  # BENCH_ARGS is a list of options
"$PY" benchmarks/bench.py --device cuda --no-dag --fmnist-accuracy on ${BENCH_ARGS:-} --out-dir "$OUT" 2>&1 | tee "$OUT/bench.log"
bench=$?
echo "test_cuda exit $tests, bench exit $bench"
exit $((tests || bench))
