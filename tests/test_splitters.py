"""Trial-wise splitters (papers' protocols)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, cross_val_score

from mne_m2s.datasets import SEEDIV
from mne_m2s.evaluation.splitters import (
    TrialHoldoutSplit,
    TrialKFold,
    get_protocol,
    trial_groups,
)


def make_meta(n_trials, subjects=(1, 2), sessions=("1", "2"), seed=0, shuffle=False):
    """Paradigm-like meta: a varying number of windows per trial, runs as strings."""
    rng = np.random.default_rng(seed)
    rows = []
    for subject in subjects:
        for session in sessions:
            for run in range(1, n_trials + 1):
                rows += [(subject, session, str(run))] * int(rng.integers(1, 5))
    meta = pd.DataFrame(rows, columns=["subject", "session", "run"])
    if shuffle:
        meta = meta.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return meta


def _trials(meta, idx):
    return set(map(tuple, meta.iloc[idx][["subject", "session", "run"]].to_numpy()))


def _check_disjoint(cv, table, **kwargs):
    n = len(table)
    seen_test = []
    for train, test in cv.split(np.zeros((n, 2)), **kwargs):
        assert np.intersect1d(train, test).size == 0
        assert np.union1d(train, test).size == n
        assert not (_trials(table, train) & _trials(table, test))  # no trial on both sides
        seen_test.append(test)
    return seen_test


@pytest.mark.parametrize(
    "code, n_trials, n_train", [("SEED", 15, 9), ("SEED-IV", 24, 16), ("SEED-V", 15, 10)]
)
def test_holdout_protocols(code, n_trials, n_train):
    cv = get_protocol(code)
    assert isinstance(cv, TrialHoldoutSplit) and cv.n_train_trials == n_train
    assert cv.get_n_splits() == 1
    meta = make_meta(n_trials, shuffle=True)
    (test,) = _check_disjoint(cv, meta, meta=meta)
    test_runs = set(meta.iloc[test]["run"].astype(int))
    assert test_runs == set(range(n_train + 1, n_trials + 1))  # numeric, not string, order
    # within every subject-session
    for _, group in meta.iloc[test].groupby(["subject", "session"]):
        assert set(group["run"].astype(int)) == set(range(n_train + 1, n_trials + 1))


@pytest.mark.parametrize("code, n_folds, block", [("DEAP", 4, 10), ("DREAMER", 3, 6)])
def test_kfold_protocols(code, n_folds, block):
    cv = get_protocol(code)
    assert isinstance(cv, TrialKFold) and cv.get_n_splits() == n_folds
    meta = make_meta(n_folds * block, sessions=("1",))
    tests = _check_disjoint(cv, meta, meta=meta)
    assert len(tests) == n_folds
    all_test = np.concatenate(tests)
    assert np.sort(all_test).tolist() == list(range(len(meta)))  # each sample tested once
    for k, test in enumerate(tests):
        runs = set(meta.iloc[test]["run"].astype(int))
        assert runs == set(range(k * block + 1, (k + 1) * block + 1))  # contiguous blocks


def test_uneven_blocks():
    meta = make_meta(10, subjects=(1,), sessions=("1",))
    blocks = [sorted(set(meta.iloc[t]["run"].astype(int))) for _, t in TrialKFold(3).split(
        None, meta=meta)]  # fmt: skip
    assert blocks == [[1, 2, 3, 4], [5, 6, 7], [8, 9, 10]]


def test_positions_are_trial_numbers():
    """Trials the paradigm dropped (too short) do not shift the protocol."""
    meta = make_meta(15, shuffle=True)
    kept = meta[~meta["run"].isin(["3", "12"])].reset_index(drop=True)
    train, test = next(get_protocol("SEED").split(None, meta=kept))
    assert set(kept.iloc[train]["run"].astype(int)) == {1, 2, 4, 5, 6, 7, 8, 9}
    assert set(kept.iloc[test]["run"].astype(int)) == {10, 11, 13, 14, 15}
    meta = make_meta(40, sessions=("1",))
    kept = meta[meta["run"].astype(int) <= 36].reset_index(drop=True)  # last 4 dropped
    folds = [set(kept.iloc[t]["run"].astype(int)) for _, t in get_protocol("DEAP").split(
        None, meta=kept)]  # fmt: skip
    assert folds[0] == set(range(1, 11)) and folds[3] == set(range(31, 37))
    folds = [set(kept.iloc[t]["run"].astype(int)) for _, t in TrialKFold(4).split(
        None, meta=kept)]  # fmt: skip
    assert folds[0] == set(range(1, 10))  # without n_trials: blocks of the 36 present


def test_groups_forms_agree():
    meta = make_meta(15, shuffle=True, seed=3)
    cv = TrialHoldoutSplit(9)
    ref = next(cv.split(None, meta=meta))
    for groups in (meta, trial_groups(meta), meta[["subject", "session", "run"]].to_numpy()):
        train, test = next(cv.split(np.zeros(len(meta)), groups=groups))
        np.testing.assert_array_equal(train, ref[0])
        np.testing.assert_array_equal(test, ref[1])


def test_one_dimensional_trial_ids():
    # one subject-session, trial ids in time order (not numeric): first-appearance order
    ids = np.repeat(["clip-c", "clip-a", "clip-b", "clip-d"], 3)
    train, test = next(TrialHoldoutSplit(2).split(np.zeros(12), groups=ids))
    assert set(ids[train]) == {"clip-c", "clip-a"} and set(ids[test]) == {"clip-b", "clip-d"}


def test_sklearn_cv_usage():
    meta = make_meta(15)
    X = np.random.default_rng(0).standard_normal((len(meta), 3))
    y = meta["run"].astype(int).to_numpy() % 3
    scores = cross_val_score(
        DummyClassifier(), X, y, cv=get_protocol("SEED"), groups=trial_groups(meta)
    )
    assert scores.shape == (1,)
    scores = cross_val_score(DummyClassifier(), X, y, cv=TrialKFold(5), groups=meta)
    assert scores.shape == (5,)
    search = GridSearchCV(
        DummyClassifier(), {"strategy": ["prior", "uniform"]}, cv=TrialKFold(3)
    ).fit(X, y, groups=trial_groups(meta))
    assert search.best_params_["strategy"] in ("prior", "uniform")
    assert repr(TrialKFold(3)) == "TrialKFold(n_splits=3, n_trials=None)"


def test_dict_input_and_length_check():
    meta = make_meta(15)
    X = {"eeg": np.zeros((len(meta), 5, 310)), "eye": np.zeros((len(meta), 5, 31))}
    train, test = next(get_protocol("SEED").split(X, meta=meta))
    assert train.size + test.size == len(meta)
    with pytest.raises(ValueError, match="X has"):
        next(TrialHoldoutSplit(9).split(np.zeros(3), meta=meta))


def test_errors():
    meta = make_meta(5)
    with pytest.raises(ValueError, match="trial of every sample"):
        next(TrialKFold(2).split(np.zeros(len(meta))))
    with pytest.raises(ValueError, match="empty test side"):
        next(TrialHoldoutSplit(9).split(None, meta=meta))
    with pytest.raises(ValueError, match="more than n_trials=4"):
        next(TrialKFold(2, n_trials=4).split(None, meta=meta))
    with pytest.raises(ValueError, match="n_trials must be"):
        next(TrialKFold(2, n_trials=0).split(None, meta=meta))
    with pytest.raises(ValueError, match="fewer than n_splits"):
        next(TrialKFold(6).split(None, meta=meta))
    with pytest.raises(ValueError, match="n_splits"):
        TrialKFold(1).get_n_splits()
    with pytest.raises(ValueError, match="n_train_trials"):
        next(TrialHoldoutSplit(0).split(None, meta=meta))
    with pytest.raises(ValueError, match="columns"):
        next(TrialKFold(2).split(None, meta=meta.drop(columns="session")))
    with pytest.raises(TypeError, match="DataFrame"):
        trial_groups(meta.to_numpy())
    with pytest.raises(ValueError, match="groups must be"):
        next(TrialKFold(2).split(None, groups=np.zeros((4, 2))))
    with pytest.raises(ValueError, match="No published protocol"):
        get_protocol("SyntheticEmotion")


def test_get_protocol_accepts_dataset_and_spelling():
    assert get_protocol(SEEDIV()).n_train_trials == 16
    assert get_protocol("seed_v").n_train_trials == 10
    assert get_protocol("dreamer").n_splits == 3


@pytest.mark.parametrize("seed", range(5))
def test_never_both_sides_random(seed):
    rng = np.random.default_rng(seed)
    meta = make_meta(int(rng.integers(6, 20)), seed=seed, shuffle=True)
    for cv in (TrialHoldoutSplit(5), TrialKFold(int(rng.integers(2, 6)))):
        _check_disjoint(cv, meta, groups=trial_groups(meta))
