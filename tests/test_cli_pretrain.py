"""``mne-m2s pretrain`` on SEED-IV fixture files: one process, torchrun (2 gloo ranks), errors."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dataset_fixtures import write_seed_iv
from mne_m2s.cli import main

REPO = Path(__file__).resolve().parents[1]
#: A tiny run: the demo's small model, 2 epochs, samples of 2 windows (fixture trials are short).
FAST = ["--quick", "--epochs", "2", "--batch-size", "64", "--n-windows", "2", "--cpc-steps", "1",
        "--device", "cpu"]


@pytest.fixture(scope="module")
def seed_iv(tmp_path_factory):
    root = tmp_path_factory.mktemp("seed_iv")
    write_seed_iv(root, subjects=(1, 10), levels=("features",))
    return root


def _torchrun(args, timeout=300):
    exe = Path(sys.executable).with_name("torchrun")
    launcher = [str(exe)] if exe.exists() else [sys.executable, "-m", "torch.distributed.run"]
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    cmd = [*launcher, "--standalone", "--nproc-per-node", "2", "-m", "mne_m2s", "pretrain", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _fine_tune(path, seed_iv):
    from mne_m2s import M2SClassifier, PretrainedM2S
    from mne_m2s.datasets import SEEDIV
    from mne_m2s.paradigms import EmotionParadigm

    X, y, _ = EmotionParadigm(n_windows=2).get_data(SEEDIV(path=seed_iv, level="features"),
                                                    subjects=[10])
    pretrained = PretrainedM2S.load(path)
    assert set(pretrained.modalities) == {"eeg", "eye"}
    clf = M2SClassifier(pretrained=pretrained, max_epochs=3, device="cpu", random_state=0)
    clf.fit({"eye": X["eye"]}, y)
    pred = clf.predict({"eeg": X["eeg"]})  # cross-modal through the corpus-trained encoder
    assert pred.shape == y.shape and set(pred) <= set(clf.classes_)
    return pretrained


def test_pretrain_one_process_then_fine_tune(seed_iv, tmp_path, capsys):
    out = tmp_path / "encoders.m2s"
    code = main(["pretrain", "--dataset", "SEED-IV", "--path", str(seed_iv), "--out", str(out),
                 "--subjects", "1", *FAST])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "3 subject-session(s)" in printed and str(out) in printed
    pretrained = _fine_tune(out, seed_iv)
    assert len(pretrained.history) == 2
    assert (tmp_path / "encoders.m2s.checkpoint" / "pretrain-checkpoint.pt").exists()


def test_pretrain_under_torchrun_two_gloo_ranks(seed_iv, tmp_path):
    out = tmp_path / "dp.m2s"
    proc = _torchrun(["--dataset", "SEED-IV", "--path", str(seed_iv), "--out", str(out),
                      "--subjects", "1", "10", "--checkpoint-every", "1", *FAST])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("Pre-trained eeg, eye encoders") == 1  # rank 0 reports
    assert "on 2 processes" in proc.stdout and "6 subject-session(s)" in proc.stdout
    _fine_tune(out, seed_iv)
    # resuming the finished data-parallel run (2 ranks) trains nothing and gives the same file
    again = tmp_path / "again.m2s"
    proc = _torchrun(["--dataset", "SEED-IV", "--path", str(seed_iv), "--out", str(again),
                      "--subjects", "1", "10", "--checkpoint-dir", f"{out}.checkpoint",
                      "--checkpoint-every", "1", "--resume", *FAST])
    assert proc.returncode == 0, proc.stderr[-3000:]
    from mne_m2s import PretrainedM2S

    a, b = PretrainedM2S.load(out).network.state_dict(), PretrainedM2S.load(again).network
    for k, v in b.state_dict().items():
        np.testing.assert_array_equal(a[k].numpy(), v.numpy(), err_msg=k)


def test_unwritable_out_fails_on_every_rank_without_a_file(seed_iv, tmp_path):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")
    out = blocker / "encoders.m2s"
    proc = _torchrun(["--dataset", "SEED-IV", "--path", str(seed_iv), "--out", str(out),
                      "--subjects", "1", *FAST], timeout=240)
    assert proc.returncode != 0
    for rank in (0, 1):
        assert f"[rank {rank}/2] " in proc.stderr, proc.stderr[-3000:]
    assert proc.stderr.count("its folder") >= 2  # the same clear message on both ranks
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["not_a_folder"]


def test_pretrain_errors_in_one_process(seed_iv, tmp_path, capsys):
    args = ["pretrain", "--dataset", "SEED-IV", "--path", str(seed_iv), "--subjects", "1", *FAST]
    assert main([*args, "--out", str(tmp_path / "missing" / "e.m2s")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main([*args[:-len(FAST)], "99", *FAST, "--out", str(tmp_path / "e.m2s")]) == 2
    assert "no subject(s) [99]" in capsys.readouterr().err
    assert main(["pretrain", "--dataset", "SEED-IV", "--path", str(tmp_path / "nowhere"),
                 "--out", str(tmp_path / "e.m2s"), *FAST]) == 2
    assert "SEED-IV" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_python_dash_m_mne_m2s_help():
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "mne_m2s", "pretrain", "--help"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "--resume" in proc.stdout and "torchrun" in proc.stdout
