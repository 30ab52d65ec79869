"""Tests of the reports: paper tables, markdown, files written."""

import pandas as pd

from mne_m2s.evaluation.report import markdown_table, paper_scores, paper_table, write_report


def _results(dataset="SEED-IV", protocol="within"):
    rows = []
    for s, (a, b) in enumerate([(0.7, 0.6), (0.5, 0.55), (0.9, 0.6)], start=1):
        for method, v in (("M2S", a), ("svm", b)):
            for task in ("eeg->eeg", "eye->eeg") if method == "M2S" else ("eeg->eeg",):
                rows.append(dict(dataset=dataset, protocol=protocol, subject=s, session="1",
                                 split=0, pipeline=method, method=method, task=task,
                                 train_modality=task[:3], test_modality=task[-3:], n_train=10,
                                 n_test=5, balanced_accuracy=v, kappa=v - 0.3, f1=v - 0.1,
                                 accuracy=v, selection="none", selected="", time=1.0,
                                 pretrain_time=2.0))
    return pd.DataFrame(rows)


def test_paper_table_and_scores():
    assert paper_scores("SEED-IV") == ("balanced_accuracy", "kappa")
    assert paper_scores("DEAP") == ("balanced_accuracy", "f1")
    table = paper_table(_results())
    assert list(table.index) == ["M2S", "svm"] and list(table.columns) == ["eeg->eeg",
                                                                          "eye->eeg"]
    assert table.loc["M2S", "eeg->eeg"] == "0.700 ± 0.200"
    assert table.loc["svm", "eye->eeg"] == ""
    md = markdown_table(table)
    assert md.splitlines()[0] == "| method | eeg->eeg | eye->eeg |"
    assert "| svm | 0.583 ± 0.029 |  |" in md


def test_write_report(tmp_path):
    paths = write_report(_results("DEAP"), tmp_path, title="T", chance=0.5)
    csv = pd.read_csv(paths["results"])
    assert "time" not in csv.columns and len(csv) == 9
    assert list(pd.read_csv(paths["timings"]).columns)[-2:] == ["time", "pretrain_time"]
    report = paths["report"].read_text()
    assert "## DEAP: F1 (macro)" in report and "Cohen's kappa" not in report
    assert "independent-samples t-test p (as in the paper)" in report
    assert "SELECTED ON TEST DATA" not in report
    for name in ("results.png", "paired.png"):
        assert paths[name].read_bytes()[:4] == b"\x89PNG"
    ref = write_report(_results(protocol="reference"), tmp_path / "ref")
    text = ref["report"].read_text()
    assert "SELECTED ON TEST DATA" in text and "selected on TEST data" in text
