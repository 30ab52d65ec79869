"""GPU paths of pre-training (run by benchmarks/device_check.sh on a CUDA machine).

Where CUDA is absent, the tests that need it are skipped (CI has no GPU) and the
GPU scripts are checked to refuse with a clear message instead.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_latent_problem
from mne_m2s import M2SClassifier

REPO = Path(__file__).resolve().parents[1]
CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not CUDA, reason="needs CUDA (run by device_check.sh)")
TINY = dict(embedding_dim=16, n_layers=1, n_heads=2, head_dim=8, ffn_dim=32, proj_dim=8,
            pretrain_max_epochs=2, pretrain_batch_size=16, pretrain_lr=1e-3, cpc_steps=1,
            max_epochs=3, random_state=0)


def _data():
    xa, xb, y, _ = make_latent_problem(n_trials=6, per_trial=8, n_windows=3, n_chans=4, n_eye=5)
    return {"eeg": xa, "eye": xb}, y


@needs_cuda
# fp16: GradScaler skips the steps whose gradients overflow; torch then warns that the
# learning-rate schedule stepped without an optimiser step
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)`:UserWarning")
@pytest.mark.parametrize("precision", ["float32", "bf16", "fp16"])
def test_cuda_pretraining_with_device_resident_batches(precision):
    X, y = _data()
    clf = M2SClassifier(**TINY, device="cuda", precision=precision).pretrain(X)
    history = clf.pretrained.history[:, "train_loss"]
    assert np.isfinite(history).all()
    clf.fit({"eye": X["eye"]}, y)
    assert clf.predict({"eeg": X["eeg"]}).shape == y.shape


@needs_cuda
def test_cuda_float32_run_is_close_to_the_cpu_run():
    X, _ = _data()
    gpu = M2SClassifier(**dict(TINY, dropout=0.0), device="cuda").pretrain(X)
    cpu = M2SClassifier(**dict(TINY, dropout=0.0), device="cpu").pretrain(X)
    # different shuffling streams (device-cut batches vs DataLoader): compare loss levels only
    g, c = gpu.pretrained.history[:, "train_loss"], cpu.pretrained.history[:, "train_loss"]
    assert abs(g[0] - c[0]) < 0.25 * abs(c[0])


@pytest.mark.skipif(CUDA, reason="checks the refusal where CUDA is absent")
def test_gpu_scripts_refuse_clearly_without_cuda():
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHON=sys.executable)
    bench = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_gpu.py")],
                           env=env, capture_output=True, text=True, timeout=120)
    assert bench.returncode == 2 and "CUDA is not available" in bench.stderr
    check = subprocess.run(["bash", str(REPO / "benchmarks" / "device_check.sh"), "/nonexistent"],
                           env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 2
    assert "CUDA is not available here" in check.stderr and "Nothing was run" in check.stderr
