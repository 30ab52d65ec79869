"""Tests of the ``mne-m2s`` command line and of the demo runner (tiny settings)."""

import pandas as pd
import pytest

from dataset_fixtures import write_seed_iv, write_seed_v
from mne_m2s import cli
from mne_m2s.datasets import list_datasets
from mne_m2s.evaluation.experiments import DEMO_METHODS, demo_text, run_demo

TINY = dict(embedding_dim=8, n_layers=1, n_heads=1, head_dim=4, ffn_dim=16, proj_dim=8,
            pretrain_max_epochs=3, pretrain_batch_size=128, pretrain_lr=3e-3,
            max_epochs=5, batch_size=128, lr=3e-3)
SHORT = dict(trial_duration=12.0)


def test_run_demo_outputs(tmp_path):
    out = tmp_path / "demo"
    result = run_demo(out, n_subjects=2, settings=TINY, data=SHORT, random_state=1, verbose=0)
    results = pd.read_csv(out / "results.csv")
    for col in ("method", "task", "subject", "balanced_accuracy", "kappa", "f1"):
        assert col in results.columns
    assert tuple(dict.fromkeys(results["method"])) == DEMO_METHODS == ("M2S", "clip",
                                                                         "supervised")
    tasks = {"eeg->eeg", "eye->eye", "eeg->eye", "eye->eeg"}
    assert set(results["task"]) == tasks
    assert set(results.loc[results["method"] == "supervised", "task"]) == {"eeg->eeg", "eye->eye"}
    assert sorted(results["subject"].unique()) == [1, 2]
    assert len(results) == 2 * (4 + 4 + 2)
    for name in ("results.png", "paired.png"):
        png = (out / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    report = (out / "report.md").read_text()
    assert "| M2S |" in report and "independent-samples t-test" in report
    # the text the command prints: mean ± sd per method and task, the M2S / clip comparison
    text = "\n".join(demo_text(result))
    assert "balanced_accuracy" in text and "kappa" in text
    rows = [line for line in text.splitlines() if "->" in line and " ± " in line]
    assert len(rows) == 4 + 4 + 2
    assert "eye->eeg: M2S - clip" in text
    # rerun: every unit is reused, the same table
    again = run_demo(out, n_subjects=2, settings=TINY, data=SHORT, random_state=1, verbose=0)
    cols = [c for c in results.columns]
    pd.testing.assert_frame_equal(again.results[cols], result.results[cols])
    assert (again.results["time"] == result.results["time"]).all()  # loaded, not refitted


def test_run_demo_raw_level_one_subject(tmp_path):
    result = run_demo(tmp_path / "raw", n_subjects=1, level="raw", settings=TINY, data=SHORT,
                      verbose=0)
    assert len(result.results) == 4 + 4 + 2
    text = "\n".join(demo_text(result)).splitlines()
    table = [line for line in text if "->" in line and "M2S -" not in line]
    assert len(table) == 10 and not any(" ± " in line for line in table)  # no sd of 1 subject


def test_demo_bad_arguments(tmp_path, capsys):
    assert cli.main(["demo", "--subjects", "0", "--out", str(tmp_path)]) == 2
    assert "--subjects must be >= 1" in capsys.readouterr().err
    assert cli.main(["demo", "--device", "tpu", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mne-m2s demo: error:") and "tpu" in err
    assert not (tmp_path / "results.csv").exists()


def test_subcommands_are_separate_functions():
    assert list(cli.COMMANDS) == ["demo", "datasets", "sys-info", "evaluate", "ablate",
                                  "pretrain"]
    for name, add in cli.COMMANDS.items():
        name = name.replace("-", "_")
        assert add.__name__ == f"_add_{name}_parser"
        assert callable(getattr(cli, f"_{name}"))
    parser = cli.build_parser()
    args = parser.parse_args(["ablate", "--kind", "loss", "--dataset", "SEED"])
    assert args.func is cli._ablate


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
        (["--dataset", "SEED-V", "--subjects", "99"], "no subject(s) [99]"),
        (["--dataset", "SEED-V", "--methods", "M2S", "fuson"], "Did you mean 'fusion'"),
        (["--dataset", "SEED-V", "--protocol", "los"], "Did you mean 'loso'"),
        (["--dataset", "SEED-V", "--protocol", "loso", "--subjects", "1", "--quick"],
         "at least 2 subjects"),
        (["--dataset", "SEED-V", "--n-jobs", "0"], "--n-jobs must be"),
    ],
)
def test_evaluate_errors(tmp_path, capsys, args, match):
    write_seed_v(tmp_path, subjects=(1,))
    assert cli.main(["evaluate", "--path", str(tmp_path), "--out", str(tmp_path / "o"),
                     *args]) == 2
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_evaluate_on_synthetic_features_needs_no_path(tmp_path, capsys):
    out = tmp_path / "synthetic"
    assert cli.main(["evaluate", "--dataset", "SyntheticEmotion", "--subjects", "1", "--quick",
                     "--methods", "svm", "--out", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["method"]) == {"svm"}
    assert set(results["task"]) == {"eeg->eeg", "eye->eye"}
    eeg = results.loc[results["task"] == "eeg->eeg", "balanced_accuracy"].mean()
    assert eeg > 1 / 3 + 0.1  # three classes: the linear SVM on DE features learns
    assert "SyntheticEmotion" in capsys.readouterr().out


def test_evaluate_on_files_resumes_and_refuses_other_settings(tmp_path, capsys):
    root = tmp_path / "SEED-IV"
    write_seed_iv(root, subjects=(1,), levels=("features",))
    out = tmp_path / "out"
    base = ["evaluate", "--dataset", "seed_iv", "--path", str(root), "--quick", "--subjects",
            "1", "--n-windows", "1", "--device", "cpu", "--out", str(out)]
    code = cli.main([*base, "--methods", "M2S", "supervised", "svm"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "SEED-IV (features level)" in stdout and "M2S against each baseline" in stdout
    results = pd.read_csv(out / "results.csv")
    assert set(results["session"]) == {1, 2, 3}
    assert sorted(results["subject"].unique()) == [1]
    assert list(dict.fromkeys(results["method"])) == ["M2S", "supervised", "svm"]
    assert (results["n_test"] > 0).all() and (results["protocol"] == "within").all()
    for name in ("report.md", "results.png", "paired.png", "statistics.csv"):
        assert (out / name).stat().st_size > 0
    units = sorted((out / "units").glob("*.json"))
    assert len(units) == 3 * 3  # sessions x methods
    # other settings: refused, nothing lost, the fix named
    code = cli.main([*base, "--methods", "M2S", "--seed", "1"])
    assert code == 2
    err = capsys.readouterr().err
    assert "holds the results of other settings" in err and "--overwrite" in err
    assert "--out NEW_DIR" in err
    assert sorted((out / "units").glob("*.json")) == units
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), results)


def test_ablate_command(tmp_path, capsys):
    out = tmp_path / "abl"
    assert cli.main(["ablate", "--kind", "lose", "--dataset", "SyntheticEmotion"]) == 2
    assert "Did you mean 'loss'" in capsys.readouterr().err
    assert cli.main(["ablate", "--kind", "loss", "--dataset", "SEED-IV", "--out", str(out)]) == 2
    assert "--path is required" in capsys.readouterr().err
    root = tmp_path / "SEED-IV"
    write_seed_iv(root, subjects=(1,), levels=("features",))
    code = cli.main(["ablate", "--kind", "attention", "--dataset", "SEED-IV", "--subjects", "1",
                     "--path", str(root), "--quick", "--n-windows", "1", "--device", "cpu",
                     "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out / "results.csv")
    assert list(dict.fromkeys(table["variant"])) == ["STS", "MHA", "none"]
    assert set(table["task"]) == {"eeg->eeg"}
    assert (out / "ablation_attention.png").stat().st_size > 5000
    assert "| STS |" in (out / "report.md").read_text()
