#!/usr/bin/env bash
# The GPU kit: what a borrowed GPU machine should run, in stages of under 5 minutes each, each
# useful alone, so a slot that ends early still leaves the stages it finished in $OUT.
#
#   bash benchmarks/gpu_session.sh                       # every stage, in the order below
#   bash benchmarks/gpu_session.sh tests throughput      # only those
#   KIT_DEVICE=cpu bash benchmarks/gpu_session.sh        # dry run on a CPU: tiny sizes, rehearsal planned (-n)
#
# Stages (benchmarks/README.md says which to run first when time is short):
#   info        nvidia-smi, torch/CUDA versions, whether torch can use the GPU (seconds)
#   tests       tests/test_cuda.py and tests/test_host_sync.py: every CUDA test, the steps under
#               torch.cuda.set_sync_debug_mode("error") (1-2 min)
#   throughput  cvrepro's engine vs a plain loop on resident tensors, auto precision and fp32:
#               images/s, MFU, peak memory (1-3 min)
#   fp16        the same in fp16 (+ GradScaler) and bf16: what a 7.x GPU runs vs bf16 (1-3 min)
#   rehearsal   two seed studies' rehearsal (S6 stl10_simclr, S7 cifar10_linear_and_triplet) on the
#               GPU through real GPU slots (no CUDA_VISIBLE_DEVICES set here), timed (2-4 min)
#   zoo         the model zoo (issue 37): feature extraction and one training epoch of six
#               torchvision families, cvrepro vs a plain loop, auto precision (1-3 min)
#
# Needs python3 with torch, torchvision, numpy, pandas, scikit-learn, pyyaml, jsonschema and pytest
# (PY=.venv/bin/python on a workstation with the venv); the rehearsal also needs snakemake: when the
# machine cannot reach PyPI, put its wheels in .gpu-data/wheels first (`make gpu-wheels`) and carry
# .gpu-data. pytest runs with the project's addopts cleared (-o addopts=''), so pytest-xdist is not
# needed. Each stage is cut at STAGE_TIMEOUT seconds (default 290) and logs to $OUT/<stage>.log
# (default OUT=benchmarks/results/gpu); the last lines say each stage's exit status and seconds.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
OUT=${OUT:-benchmarks/results/gpu}
STAGE_TIMEOUT=${STAGE_TIMEOUT:-290}
KIT_DEVICE=${KIT_DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
STAGES=("$@")
[ ${#STAGES[@]} -eq 0 ] && STAGES=(info tests throughput fp16 rehearsal zoo)

if [ "$KIT_DEVICE" = cpu ]; then  # the dry run: every command as on the GPU, at toy sizes
    SIZES=(--images 128 --size 16 --width 4 --batch-size 64 --epochs 1)
    ZOO=(--images 8 --size 32 --batch-size 4 --archs mobilenet_v3_large,swin_t)
    TESTS=(-k "cpu and (predict or compiled) or counter_catches")
    PLAN=(-n)
else
    SIZES=(--images 50000 --size 32 --width 64 --batch-size 512 --epochs 2)
    ZOO=(--images 2048 --size 96 --batch-size 128)
    TESTS=()
    PLAN=()
fi

stage_info() {
    nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version,clocks.max.sm --format=csv || true
    "$PY" - <<'EOF'
import sys
sys.path.insert(0, "workflow/scripts")
import torch, torchvision
from cvrepro.nets.device import gpu_unusable
print("torch", torch.__version__, "torchvision", torchvision.__version__, "CUDA", torch.version.cuda)
print("architectures", torch.cuda.get_arch_list() if torch.cuda.is_available() else "-")
problem = gpu_unusable()
print(problem or f"torch can use the GPU: {torch.cuda.is_available()}")
if torch.cuda.is_available():
    print("device", torch.cuda.get_device_name(), "capability", torch.cuda.get_device_capability())
EOF
}

stage_tests() {
    "$PY" -m pytest -q -p no:cacheprovider -o addopts='' -ra tests/test_cuda.py tests/test_host_sync.py "${TESTS[@]}"
}

throughput() {  # $1: precisions, $2: the JSON file
    "$PY" benchmarks/train_throughput.py --against plain --device "$KIT_DEVICE" "${SIZES[@]}" \
        --precisions "$1" --json "$OUT/$2"
}

stage_throughput() { throughput auto,fp32 throughput.json; }
stage_fp16() { throughput fp16,bf16 fp16.json; }

stage_rehearsal() {
    if ! "$PY" -c "import snakemake" 2>/dev/null && [ -d .gpu-data/wheels ]; then
        "$PY" -m pip install -q --no-index --find-links .gpu-data/wheels snakemake 2>&1 | tail -2
    fi
    local gpus
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c -E '^GPU |^ +MIG ' || true)
    # The jobs claim GPU slots themselves (cvrepro.jobs.gpu_slots): one job per GPU or MIG slice.
    "$PY" -m snakemake --cores all --resources gpu="${gpus:-1}" "${PLAN[@]}" \
        --config rehearsal=true device="$KIT_DEVICE" 'studies=[stl10_simclr,cifar10_linear_and_triplet]'
    local status=$?
    mkdir -p "$OUT/rehearsal"
    for report in results-rehearsal/{stl10_simclr,cifar10_linear_and_triplet}/REPORT.md; do
        [ -e "$report" ] && cp "$report" "$OUT/rehearsal/$(basename "$(dirname "$report")").md"
    done
    grep -h "GPU slot .* claimed" results-rehearsal/*/logs/*/*.log 2>/dev/null | sort | uniq -c | head -20
    return $status
}

stage_zoo() {
    "$PY" benchmarks/model_zoo_bench.py --device "$KIT_DEVICE" "${ZOO[@]}" --json "$OUT/model_zoo.json"
}

summary=()
failed=0
for stage in "${STAGES[@]}"; do
    if ! declare -F "stage_$stage" >/dev/null; then
        echo "unknown stage '$stage'; stages: info tests throughput fp16 rehearsal zoo" >&2
        exit 2
    fi
    echo "== $stage (at most $STAGE_TIMEOUT s) =="
    start=$(date +%s)
    # A stage runs in a child bash, so `timeout` can stop it (and what it started) at the limit.
    export -f "stage_$stage" throughput
    export PY OUT KIT_DEVICE
    timeout "$STAGE_TIMEOUT" bash -c "$(declare -p SIZES TESTS PLAN ZOO); stage_$stage" 2>&1 | tee "$OUT/$stage.log"
    status=${PIPESTATUS[0]}
    seconds=$(($(date +%s) - start))
    [ "$status" -eq 124 ] && note=" (cut at $STAGE_TIMEOUT s)" || note=""
    summary+=("$stage: exit $status in $seconds s$note")
    [ "$status" -ne 0 ] && failed=1
done
printf '%s\n' "${summary[@]}" | tee "$OUT/summary.txt"
exit $failed
