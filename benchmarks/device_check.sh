#!/usr/bin/env bash
# GPU check of mne-m2s, for a machine with an NVIDIA GPU (< 8 minutes: each step has a timeout,
# 120 + 240 + 100 + 60 s):
#   1. the CUDA tests (tests that run only where torch.cuda.is_available(), e.g. the CUDA
#      branch of STS attention against the CPU branch, and the classifier on cuda);
#   2. benchmarks/bench_gpu.py (fp32 and bf16 step times, one SEED-sized subject-session);
#   3. a single-GPU nccl data-parallel smoke run of `torchrun -m mne_m2s pretrain` on
#      SEED-IV-layout fixture files, then fine-tuning from the saved encoders.
# Usage (from the repository root): bash benchmarks/device_check.sh [OUT_DIR]
# Writes OUT_DIR/bench_gpu.json and logs; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
OUT=${1:-device-check}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "device_check.sh: '$PY' cannot import torch; set PYTHON to the environment's" \
         "python (e.g. PYTHON=.venv/bin/python)." >&2
    exit 2
fi
if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    echo "device_check.sh: CUDA is not available here (torch.cuda.is_available() is False);" \
         "this script checks the GPU paths and needs an NVIDIA GPU. Nothing was run." >&2
    exit 2
fi
"$PY" -c 'import torch; print("GPU:", torch.cuda.get_device_name(0), "| torch", torch.__version__, "| CUDA", torch.version.cuda)'
t0=$(date +%s)
mkdir -p "$OUT"

echo "== 1/3 CUDA tests"
# every test whose name or body mentions CUDA (the others run in CI on CPU)
timeout 120 "$PY" -m pytest -q -x -k "cuda or gpu or device" \
    tests/test_nn_attention_kernels.py tests/test_classifier.py tests/test_distributed_cuda.py \
    2>&1 | tee "$OUT/cuda_tests.log"

echo "== 2/3 GPU benchmark"
timeout 240 "$PY" benchmarks/bench_gpu.py --steps 20 > "$OUT/bench_gpu.json"
cat "$OUT/bench_gpu.json"

echo "== 3/3 nccl data-parallel smoke run (1 process, 1 GPU)"
DATA="$OUT/seed_iv_fixture"
"$PY" -c "import sys; sys.path.insert(0, 'tests'); from dataset_fixtures import write_seed_iv; write_seed_iv('$DATA', subjects=(1, 10), levels=('features',))"
timeout 100 "$PY" -m torch.distributed.run --standalone --nproc-per-node 1 -m mne_m2s pretrain \
    --dataset SEED-IV --path "$DATA" --out "$OUT/encoders.m2s" --device cuda --quick \
    --epochs 3 --batch-size 64 --n-windows 2 --cpc-steps 1 --checkpoint-every 1 \
    2>&1 | tee "$OUT/ddp_smoke.log"
timeout 60 "$PY" - "$OUT/encoders.m2s" "$DATA" <<'PYEOF'
import sys
import torch.distributed  # noqa: F401
from mne_m2s import M2SClassifier
from mne_m2s.datasets import SEEDIV
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s import PretrainedM2S

X, y, _ = EmotionParadigm(n_windows=2).get_data(SEEDIV(path=sys.argv[2], level="features"),
                                                subjects=[1])
clf = M2SClassifier(pretrained=PretrainedM2S.load(sys.argv[1]), max_epochs=5, device="cuda",
                    random_state=0).fit({"eye": X["eye"]}, y)
print("fine-tuned from the nccl run on", clf.device_, "| cross-modal accuracy (train data):",
      round(clf.score({"eeg": X["eeg"]}, y), 3))
PYEOF
echo "device_check.sh: all passed in $(( $(date +%s) - t0 )) s"
