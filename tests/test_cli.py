"""Tests of the ``mne-m2s`` command line (tiny settings; the real demo is measured elsewhere)."""

import pandas as pd
import pytest

from dataset_fixtures import write_seed_v
from mne_m2s import cli
from mne_m2s.datasets import list_datasets

TINY = dict(embedding_dim=8, n_layers=1, n_heads=1, head_dim=4, ffn_dim=16, proj_dim=8,
            pretrain_max_epochs=3, pretrain_batch_size=128, pretrain_lr=3e-3,
            max_epochs=5, batch_size=128, lr=3e-3)


@pytest.fixture
def tiny(monkeypatch):
    monkeypatch.setattr(cli, "DEMO_SETTINGS", dict(TINY))
    monkeypatch.setattr(cli, "QUICK_SETTINGS", {})
    monkeypatch.setattr(cli, "DEMO_DATA", dict(trial_duration=12.0))


def test_demo_outputs(tiny, tmp_path, capsys):
    out = tmp_path / "demo"
    code = cli.main(["demo", "--quick", "--subjects", "2", "--out", str(out), "--seed", "1"])
    assert code == 0
    stdout = capsys.readouterr().out
    results = pd.read_csv(out / "results.csv")
    for col in ("method", "task", "subject", "balanced_accuracy", "kappa", "f1"):
        assert col in results.columns
    assert set(results["method"]) == {"M2S", "clip", "supervised"}
    tasks = {"eeg->eeg", "eye->eye", "eeg->eye", "eye->eeg"}
    assert set(results["task"]) == tasks
    assert set(results.loc[results["method"] == "supervised", "task"]) == {"eeg->eeg", "eye->eye"}
    assert sorted(results["subject"].unique()) == [1, 2]
    assert len(results) == 2 * (4 + 4 + 2)
    assert results["balanced_accuracy"].between(0, 1).all()
    png = (out / "results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    # the printed table: mean ± sd per method and task, and the M2S / clip comparison
    assert "balanced_accuracy" in stdout and "kappa" in stdout
    rows = [line for line in stdout.splitlines() if "->" in line and " ± " in line]
    assert len(rows) == 4 + 4 + 2
    assert "eye->eeg: M2S - clip" in stdout
    assert "trials 1-9 train" in stdout


def test_demo_raw_level_one_subject(tiny, tmp_path, capsys):
    out = tmp_path / "raw"
    assert cli.main(["demo", "--level", "raw", "--subjects", "1", "--out", str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "SyntheticEmotion (raw level), 1 subject(s)" in stdout
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 4 + 4 + 2
    table = [line for line in stdout.splitlines() if "->" in line and "M2S -" not in line]
    assert len(table) == 10 and not any(" ± " in line for line in table)  # no sd of 1 subject


def test_demo_bad_arguments(tiny, tmp_path, capsys):
    assert cli.main(["demo", "--subjects", "0", "--out", str(tmp_path)]) == 2
    assert "--subjects must be >= 1" in capsys.readouterr().err
    assert cli.main(["demo", "--device", "tpu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mne-m2s demo: error:") and "tpu" in err
    assert not (tmp_path / "results.csv").exists()


def test_datasets_command(capsys):
    assert cli.main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["dataset", "level", "found"]
    for code in list_datasets():
        assert any(line.split()[0] == code for line in lines[1:])
    synthetic = [line.split() for line in lines if line.startswith("SyntheticEmotion")]
    assert sorted(row[1] for row in synthetic) == ["features", "raw"]
    assert all(row[2] == "yes" for row in synthetic)


def test_evaluate_missing_path(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    code = cli.main(["evaluate", "--dataset", "SEED-IV", "--path", str(missing)])
    assert code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mne-m2s evaluate: error: SEED-IV")
    assert str(missing) in captured.err and "does not exist" in captured.err
    assert "MNE_DATASETS_SEED_IV_PATH" in captured.err  # says how to fix it
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    "args, match",
    [
        (["--dataset", "SEEDX"], "Did you mean 'SEED'"),
        (["--dataset", "SyntheticEmotion"], "mne-m2s demo"),
        (["--dataset", "SEED-V", "--subjects", "99"], "no subject(s) [99]"),
    ],
)
def test_evaluate_errors(tmp_path, capsys, args, match):
    write_seed_v(tmp_path, subjects=(1,))
    assert cli.main(["evaluate", "--path", str(tmp_path), *args]) == 2
    assert match in capsys.readouterr().err


def test_evaluate_on_files(tiny, tmp_path, capsys):
    root = tmp_path / "SEED-V"
    write_seed_v(root, subjects=(1,))
    out = tmp_path / "out"
    code = cli.main(["evaluate", "--dataset", "seed_v", "--path", str(root), "--subjects", "1",
                     "--quick", "--n-windows", "1", "--device", "cpu", "--out", str(out),
                     "--methods", "M2S", "supervised"])
    assert code == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["session"]) == {1, 2, 3}
    assert set(results["method"]) == {"M2S", "supervised"}
    assert (results["n_test"] > 0).all()
    assert (out / "results.png").exists()
    assert "SEED-V (features level)" in capsys.readouterr().out
