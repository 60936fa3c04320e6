#!/usr/bin/env bash
# The prepared check for a lent GPU machine: one device `run` call of at most ~9 minutes.
#
#   bash bench/gpu_check.sh --prepare    # here, once: the wheels the device lacks -> .whl/ (jsonschema, for
#                                        # Python 3.12) and Fashion-MNIST -> data/fashion-mnist/ (both git-ignored)
#   device run: command "bash bench/gpu_check.sh", carry [".whl", "data"], timeout_s 600
#
# On the device (its python3 holds torch and torchvision) it installs the carried wheels into a scratch
# folder and writes to $OUT (default results/gpu_check), at most 8 files, none nested:
#   gpu.txt                  nvidia-smi: name, memory, driver; torch version
#   pytest_gpu.txt           the gpu-marked tests (skipped on CPU-only machines, so only a GPU runs them)
#   gpu_smoke.txt            bench/gpu_smoke.py: training images/s, fp32 / channels_last / bf16
#   quant_joint.txt, quant_joint_summary.json, quant_joint_fronts.png
#                            bench/quant_joint.py on all of Fashion-MNIST (48k train / 12k val images), JASQ's
#                            inheritance protocol, EVALS evaluations per method: issue #5's joint vs two-step
#                            comparison at a scale this project's 2-core CPU cannot reach
# Each step has its own time limit, so a slow one cannot eat the others' time.
# Plumbing check on a CPU: DEVICE=cpu EVALS=24 SUBSET=0.02 EPOCHS=1 bash bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--prepare" ]]; then
  set -e
  python3 -m pip download -q --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl jsonschema
  mkdir -p data/fashion-mnist
  cp /usr/share/datasets/fashion-mnist/*.gz data/fashion-mnist/
  du -sh .whl data
  exit 0
fi

PY=${PY:-python3}
OUT=${OUT:-results/gpu_check}
DEVICE=${DEVICE:-cuda}
EVALS=${EVALS:-72}
SUBSET=${SUBSET:-1.0}
EPOCHS=${EPOCHS:-4}
mkdir -p "$OUT"
if [[ -d .whl ]] && ! $PY -c "import jsonschema" 2>/dev/null; then
  $PY -m pip install -q --no-index --find-links .whl --target /tmp/eatnas-deps jsonschema
fi
export PYTHONPATH="src:/tmp/eatnas-deps${PYTHONPATH:+:$PYTHONPATH}"

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
  $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"; } > "$OUT/gpu.txt" 2>&1
timeout 150 $PY -m pytest -q -m gpu -p no:cacheprovider tests/test_data.py tests/test_trainer.py \
  tests/test_quant_cli.py tests/test_quant_joint_stage.py > "$OUT/pytest_gpu.txt" 2>&1
echo "pytest rc=$?" >> "$OUT/pytest_gpu.txt"
timeout 45 $PY bench/gpu_smoke.py > "$OUT/gpu_smoke.txt" 2>&1
scratch=$(mktemp -d)
timeout 300 $PY bench/quant_joint.py --device "$DEVICE" --data fashion_mnist --subset "$SUBSET" --batch-size 256 \
  --evaluations "$EVALS" --epochs "$EPOCHS" --child-epochs 1 --seed 0 --out "$scratch" > "$OUT/quant_joint.txt" 2>&1
echo "quant_joint rc=$? (0: joint wins on log-size HV, 1: it does not, 124: out of time)" >> "$OUT/quant_joint.txt"
cp "$scratch/summary.json" "$OUT/quant_joint_summary.json" 2>/dev/null
cp "$scratch/fronts.png" "$OUT/quant_joint_fronts.png" 2>/dev/null
tail -n 3 "$OUT"/*.txt
