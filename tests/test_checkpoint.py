"""Pre-training checkpoints: atomic files, SIGKILL + resume = uninterrupted run, bad files."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import make_latent_problem
from mne_m2s import M2SClassifier
from mne_m2s.checkpoint import (
    CHECKPOINT_NAME,
    CheckpointError,
    atomic_torch_save,
    load_checkpoint,
)

TINY = dict(embedding_dim=16, n_layers=1, n_heads=2, head_dim=8, ffn_dim=32, proj_dim=8,
            pretrain_max_epochs=3, pretrain_batch_size=12, pretrain_lr=1e-3, cpc_steps=1,
            device="cpu", random_state=0)
REPO = Path(__file__).resolve().parents[1]


def _data():
    xa, xb, _, _ = make_latent_problem(n_trials=6, per_trial=4, n_windows=3, n_chans=4, n_eye=5)
    return {"eeg": xa, "eye": xb}


def _weights(clf):
    return {k: v.clone() for k, v in clf.pretrained.network.state_dict().items()}


@pytest.fixture(scope="module")
def uninterrupted():
    return _weights(M2SClassifier(**TINY).pretrain(_data()))


KILLED_RUN = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, {tests!r})
    from skorch.callbacks import Callback
    from conftest import make_latent_problem
    from mne_m2s import M2SClassifier

    class Kill(Callback):  # SIGKILL at the end of epoch 2, before its checkpoint
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                os.kill(os.getpid(), signal.SIGKILL)

    xa, xb, _, _ = make_latent_problem(n_trials=6, per_trial=4, n_windows=3, n_chans=4, n_eye=5)
    M2SClassifier(**{params!r}, checkpoint_dir={ckpt!r}, checkpoint_every=1,
                  pretrain_callbacks=[("kill", Kill())]).pretrain({{"eeg": xa, "eye": xb}})
""")


def test_sigkilled_run_resumes_to_the_uninterrupted_weights(tmp_path, uninterrupted):
    ckpt = tmp_path / "ckpt"
    code = KILLED_RUN.format(tests=str(REPO / "tests"), params=TINY, ckpt=str(ckpt))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=240)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    state = load_checkpoint(ckpt / CHECKPOINT_NAME)
    assert state["epoch"] == 1  # written after epoch 1; epoch 2 was killed before its own
    assert [p.name for p in ckpt.iterdir()] == [CHECKPOINT_NAME]  # no temporary file left
    resumed = M2SClassifier(**TINY, checkpoint_dir=ckpt, checkpoint_every=1,
                            resume=True).pretrain(_data())
    weights = _weights(resumed)
    assert weights.keys() == uninterrupted.keys()
    for k, v in uninterrupted.items():
        assert torch.equal(weights[k], v), k  # bit-identical
    assert len(resumed.pretrained.history) == TINY["pretrain_max_epochs"]
    # the finished run's checkpoint resumes to the same weights without training
    again = M2SClassifier(**TINY, checkpoint_dir=ckpt, resume=True).pretrain(_data())
    assert all(torch.equal(_weights(again)[k], v) for k, v in uninterrupted.items())


def test_checkpoints_do_not_change_the_run(tmp_path, uninterrupted):
    clf = M2SClassifier(**TINY, checkpoint_dir=tmp_path, checkpoint_every=1).pretrain(_data())
    assert all(torch.equal(_weights(clf)[k], v) for k, v in uninterrupted.items())
    state = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)  # executes nothing
    assert state["epoch"] == TINY["pretrain_max_epochs"]
    assert {"module", "optimizer", "mi_optimizer", "scheduler", "mi_scheduler", "rng",
            "history", "meta"} <= set(state)


def test_resume_refuses_a_checkpoint_of_another_run(tmp_path):
    M2SClassifier(**dict(TINY, pretrain_max_epochs=1), checkpoint_dir=tmp_path).pretrain(_data())
    with pytest.raises(CheckpointError, match=r"different pre-training run .*pretrain_lr"):
        M2SClassifier(**dict(TINY, pretrain_max_epochs=1, pretrain_lr=1e-2),
                      checkpoint_dir=tmp_path, resume=True).pretrain(_data())
    data = _data()
    data["eye"] = data["eye"] + 1.0
    with pytest.raises(CheckpointError, match=r"data: checkpoint"):
        M2SClassifier(**dict(TINY, pretrain_max_epochs=1), checkpoint_dir=tmp_path,
                      resume=True).pretrain(data)


def test_truncated_or_foreign_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / CHECKPOINT_NAME
    atomic_torch_save({"kind": "mne_m2s.pretrain_checkpoint", "format": 1}, path)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CheckpointError, match="Cannot read the pre-training checkpoint"):
        load_checkpoint(path)
    atomic_torch_save({"weights": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="not an mne_m2s pre-training checkpoint"):
        load_checkpoint(path)


def test_failed_save_leaves_the_previous_checkpoint(tmp_path):
    path = tmp_path / "c.pt"
    atomic_torch_save({"a": torch.ones(3)}, path)
    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        atomic_torch_save({"a": lambda: None}, path)
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def test_checkpoint_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir"):
        M2SClassifier(**TINY, resume=True).pretrain(_data())
    with pytest.raises(ValueError, match="checkpoint_every must be >= 1"):
        M2SClassifier(**TINY, checkpoint_dir=tmp_path, checkpoint_every=0).pretrain(_data())
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ValueError, match="checkpoint_dir must be a folder where files can be"):
        M2SClassifier(**TINY, checkpoint_dir=blocker / "sub").pretrain(_data())


def test_precision_options(uninterrupted):
    bf16 = M2SClassifier(**dict(TINY, pretrain_max_epochs=1), precision="bf16")
    history = bf16.pretrain(_data()).pretrained.history[:, "train_loss"]
    assert np.isfinite(history).all()
    with pytest.raises(ValueError, match="precision='fp16' .* is for CUDA devices"):
        M2SClassifier(**TINY, precision="fp16").pretrain(_data())
    with pytest.raises(ValueError, match="'precision' parameter"):
        M2SClassifier(**TINY, precision="fp8").pretrain(_data())
