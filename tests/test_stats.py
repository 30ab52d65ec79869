"""Tests of the statistics: M2S against each baseline over subjects."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mne_m2s.evaluation.stats import STAT_COLUMNS, compare_methods


def _rows(method, task, scores, sessions=("1",)):
    return [dict(dataset="D", protocol="within", subject=s, session=sess, split=0,
                 method=method, task=task, balanced_accuracy=v + 0.01 * k)
            for s, v in enumerate(scores, start=1) for k, sess in enumerate(sessions)]


def test_compare_methods_against_scipy():
    m2s = [0.70, 0.65, 0.80, 0.55, 0.60]
    clip = [0.60, 0.66, 0.70, 0.50, 0.60]
    fusion = [0.75, 0.70, 0.78, 0.60, 0.62]
    results = pd.DataFrame(
        _rows("M2S", "eye->eeg", m2s, sessions=("1", "2")) + _rows("M2S", "eeg->eeg", m2s)
        + _rows("clip", "eye->eeg", clip, sessions=("1", "2"))
        + _rows("fusion", "eeg+eye->eeg+eye", fusion)
    )
    st = compare_methods(results)
    assert list(st.columns) == list(STAT_COLUMNS)
    row = st[(st["baseline"] == "clip") & (st["task"] == "eye->eeg")].iloc[0]
    a = np.array(m2s) + 0.005  # sessions averaged first: (v + 0 + v + 0.01) / 2
    b = np.array(clip) + 0.005
    assert row["n_subjects"] == 5
    assert row["mean_difference"] == pytest.approx((a - b).mean())
    assert (row["wins"], row["losses"], row["ties"]) == (3, 1, 1)
    assert row["paired_t_p"] == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert row["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a - b).pvalue)
    assert row["independent_t_p"] == pytest.approx(stats.ttest_ind(a, b).pvalue)
    assert row["independent_t_p"] != pytest.approx(row["paired_t_p"])
    # the multimodal reference is compared with every task of M2S; clip has no eeg->eeg
    fus = st[st["baseline"] == "fusion"]
    assert list(fus["task"]) == ["eye->eeg", "eeg->eeg"]
    assert set(fus["baseline_task"]) == {"eeg+eye->eeg+eye"}
    assert len(st) == 3


def test_undefined_tests_are_nan():
    results = pd.DataFrame(_rows("M2S", "eeg->eeg", [0.5]) + _rows("svm", "eeg->eeg", [0.4]))
    row = compare_methods(results).iloc[0]
    assert row["wins"] == 1 and np.isnan(row["paired_t_p"]) and np.isnan(row["wilcoxon_p"])
    same = pd.DataFrame(_rows("M2S", "eeg->eeg", [0.5, 0.6]) + _rows("svm", "eeg->eeg",
                                                                        [0.5, 0.6]))
    assert np.isnan(compare_methods(same).iloc[0]["wilcoxon_p"])
    with pytest.raises(ValueError, match="no method 'M2S'"):
        compare_methods(pd.DataFrame(_rows("svm", "eeg->eeg", [0.5])))
