#!/usr/bin/env bash
# Everything a GPU machine should measure, in one command: the CUDA tests, `bench.py` at full size
# with the torch.compile rows and the full Fashion-MNIST accuracy run, then the rehearsal of every
# seed study on CUDA (README "Before a long run"), timed, its REPORT.md files copied to $OUT.
#
#   bash benchmarks/gpu_session.sh                  # on a workstation with the venv: PY=.venv/bin/python
#
# Needs python3 with torch, torchvision, numpy, pandas, scikit-learn, pyyaml and pytest (a stock
# PyTorch image has them; snakemake is not needed: the DAG rows are skipped). Fashion-MNIST is
# read from Debian's package, or from CVREPRO_FASHION_MNIST_DIR (copy the four .gz files to
# .gpu-data/fashion-mnist, which git ignores, when the machine has no package). Logs and the
# results table go to $OUT (default benchmarks/results). About 6-8 minutes on one H100, plus the
# rehearsal. The rehearsal needs snakemake: when the machine has none and cannot reach PyPI, put
# its wheels in .gpu-data/wheels first (`make gpu-wheels`, about 30 MB) and carry .gpu-data.
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
# The rehearsal: every seed study's DAG on synthetic data, its model jobs on the GPU. All jobs share
# GPU 0 (CUDA_VISIBLE_DEVICES set here, so no job claims a slot) and up to 8 run at once.
if ! "$PY" -c "import snakemake" 2>/dev/null && [ -d .gpu-data/wheels ]; then
    "$PY" -m pip install -q --no-index --find-links .gpu-data/wheels snakemake 2>&1 | tail -2
fi
start=$(date +%s)
CUDA_VISIBLE_DEVICES=0 timeout "${REHEARSAL_TIMEOUT:-360}" "$PY" -m snakemake --cores all --resources gpu=8 \
    --config rehearsal=true device=cuda \
    studies="[$(cd studies && ls ./*.yaml | sed 's|^./||; s|.yaml$||' | paste -sd, -)]" \
    > "$OUT/rehearsal.log" 2>&1
rehearsal=$?
echo "rehearsal exit $rehearsal in $(($(date +%s) - start)) s" | tee -a "$OUT/rehearsal.log"
tail -3 "$OUT/rehearsal.log"
mkdir -p "$OUT/rehearsal"
for report in results-rehearsal/*/REPORT.md; do
    [ -e "$report" ] && cp "$report" "$OUT/rehearsal/$(basename "$(dirname "$report")").md"
done
echo "test_cuda exit $tests, bench exit $bench, rehearsal exit $rehearsal"
exit $((tests || bench || rehearsal))
