"""MOABB's evaluations with EmotionWindowsParadigm: they run, and splits stay honest.

Spy estimators record which trials / subjects reach ``fit`` and ``predict`` in
every fold (MOABB fits then scores each fold in turn with ``n_jobs=1``).
"""

import numpy as np
import pytest
from moabb.evaluations import (
    CrossSessionEvaluation,
    CrossSubjectEvaluation,
    WithinSessionEvaluation,
    WithinSubjectEvaluation,
)
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from conftest import tiny_shallow_fbcsp
from dataset_fixtures import write_seed_iv
from mne_m2s._moabb_paradigm import check_trial_wise_splits
from mne_m2s.baselines import BraindecodeClassifier
from mne_m2s.datasets import SEEDIV, SyntheticEmotion
from mne_m2s.paradigms import EmotionWindowsParadigm

#: spy name -> list of (call, set of trials, set of subjects)
CALLS = {}


class Spy(ClassifierMixin, BaseEstimator):
    """Records the trials and subjects of the Epochs it is given."""

    def __init__(self, name="spy"):
        self.name = name

    def _record(self, call, X):
        meta = X.metadata
        CALLS.setdefault(self.name, []).append(
            (call, set(meta["trial"]), set(meta["subject"]))
        )

    def fit(self, X, y):
        self._record("fit", X)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        self._record("predict", X)
        return np.full(len(X), self.classes_[0])


def _folds(name):
    """``[((train trials, train subjects), (test trials, test subjects))]`` per fold.

    A fold is one ``fit`` followed by its ``predict`` calls (one per scored
    session for the cross-subject evaluation).
    """
    folds = []
    for call, trials, subjects in CALLS.pop(name):
        if call == "fit":
            folds.append(((trials, subjects), (set(), set())))
        else:
            assert folds, "predict before any fit"
            folds[-1][1][0].update(trials)
            folds[-1][1][1].update(subjects)
    assert all(test[0] for _, test in folds)
    return folds


def _log_var(X):
    return np.log(np.var(X, axis=-1) + 1e-20)


def _epochs_eeg_log_var(epochs):
    return _log_var(epochs.get_data(picks="eeg"))


def _eeg_log_var():
    return make_pipeline(
        FunctionTransformer(_log_var), StandardScaler(), LogisticRegression(max_iter=500)
    )


@pytest.fixture(scope="module")
def synth():
    # 2 subjects x 2 sessions x 6 clips of 4 s (each class twice per session)
    return SyntheticEmotion(
        n_subjects=2, n_sessions=2, n_trials=6, trial_duration=4.0, modalities=("eeg", "eye")
    )


def _run(cls, paradigm, ds, pipelines, tmp_path, **kwargs):
    ev = cls(
        paradigm=paradigm,
        datasets=[ds],
        hdf5_path=str(tmp_path / "moabb"),  # never ~/mne_data or the MNE config
        overwrite=True,
        random_state=0,
        return_epochs=True,
        **kwargs,
    )
    return ev.process(pipelines)


def test_within_session_trial_wise_no_test_window_in_fit(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    res = _run(WithinSessionEvaluation, p, synth, {"spy": Spy("ws")}, tmp_path,
               **p.trial_wise_cv(n_splits=2))
    folds = _folds("ws")
    assert len(folds) == 2 * 2 * 2  # subjects x sessions x folds
    for (train_trials, _), (test_trials, _) in folds:
        assert test_trials and train_trials
        assert not train_trials & test_trials  # no window of a test trial reaches fit
    assert len(res) == 4 and set(res["pipeline"]) == {"spy"}


def test_moabb_default_within_session_cv_is_refused(synth, tmp_path):
    """MOABB's default within-session CV stratifies single samples: refused, fix named."""
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    with pytest.raises(ValueError, match=r"both the training and the test side") as err:
        _run(WithinSessionEvaluation, p, synth, {"spy": Spy("leak")}, tmp_path, n_splits=2)
    assert "**paradigm.trial_wise_cv()" in str(err.value)
    assert "StratifiedKFold splits single samples" in str(err.value)
    assert not CALLS.pop("leak", [])  # refused before any fit
    # a direct get_data call (no evaluation on the stack) is not affected
    X, y, meta = p.get_data(synth, subjects=[1])
    assert len(X) == len(y) == len(meta) > meta["trial"].nunique()


def test_within_subject_default_cv_is_refused(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    with pytest.raises(ValueError, match=r"WithinSubjectEvaluation\(paradigm=paradigm"):
        _run(WithinSubjectEvaluation, p, synth, {"spy": Spy("wsub")}, tmp_path, n_splits=2)
    CALLS.pop("wsub", None)


def test_group_cv_without_trial_wise_groups_is_refused(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    with pytest.raises(ValueError, match="no groups= is given"):
        _run(WithinSessionEvaluation, p, synth, {"spy": Spy("g")}, tmp_path,
             cv_class=StratifiedGroupKFold, n_splits=2)
    with pytest.raises(ValueError, match="in several groups"):
        _run(WithinSessionEvaluation, p, synth, {"spy": Spy("g")}, tmp_path,
             cv_class=StratifiedGroupKFold, n_splits=2, groups="window_start")
    with pytest.raises(ValueError, match="does not resolve"):
        _run(WithinSessionEvaluation, p, synth, {"spy": Spy("g")}, tmp_path,
             cv_class=StratifiedGroupKFold, n_splits=2, groups="no_such_column")
    assert not CALLS.pop("g", [])


def test_cross_subject_sample_wise_custom_cv_is_refused(synth, tmp_path):
    """The fold check covers every evaluation: a sample-wise KFold across subjects leaks."""
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    with pytest.raises(ValueError, match=r"cv_class KFold\) puts windows of \d+ trial"):
        _run(CrossSubjectEvaluation, p, synth, {"spy": Spy("kf")}, tmp_path, cv_class=KFold,
             cv_kwargs={"shuffle": True})
    assert not CALLS.pop("kf", [])


def test_evaluation_without_splitter_is_refused(synth):
    class NoSplitter:
        def _create_splitter(self):
            return None

    p = EmotionWindowsParadigm(n_windows=2, step=1)
    _, y, meta = p.get_data(synth, subjects=[1])
    with pytest.raises(ValueError, match="cannot verify"):
        check_trial_wise_splits(NoSplitter(), y, meta)


def test_cross_subject_held_out_subject_never_in_fit(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=2)
    res = _run(CrossSubjectEvaluation, p, synth, {"spy": Spy("cs")}, tmp_path)
    folds = _folds("cs")
    assert len(folds) == 2
    for (_, train_subjects), (_, test_subjects) in folds:
        assert len(test_subjects) == 1 and not train_subjects & test_subjects
    assert set(res["subject"].astype(int)) == {1, 2}


def test_cross_session_runs(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=2, modalities="eeg")
    res = _run(CrossSessionEvaluation, p, synth, {"logvar": _eeg_log_var()}, tmp_path)
    assert len(res) == 4 and np.isfinite(res["score"]).all()


def test_within_session_braindecode_and_sklearn_on_synthetic(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    pipes = {
        "EEGNet": BraindecodeClassifier(
            "EEGNet",
            model_kwargs={"F1": 4, "D": 1, "F2": 4, "kernel_length": 16},
            max_epochs=1,
            batch_size=32,
            random_state=0,
        ),
        "logvar": make_pipeline(
            FunctionTransformer(_epochs_eeg_log_var),
            StandardScaler(),
            LogisticRegression(max_iter=500),
        ),
    }
    res = _run(WithinSessionEvaluation, p, synth, pipes, tmp_path, **p.trial_wise_cv(2))
    assert set(res["pipeline"]) == {"EEGNet", "logvar"}
    assert len(res) == 8 and np.isfinite(res["score"]).all()


def test_within_session_on_seed_iv_raw_fixture(tmp_path):
    write_seed_iv(tmp_path / "SEED_IV", subjects=(1,), levels=("raw",))
    ds = SEEDIV(tmp_path / "SEED_IV", level="raw")
    ds.subject_list = [1]  # MOABB's idiom for evaluating some subjects
    p = EmotionWindowsParadigm(n_windows=2, step=1, window=0.25)
    pipes = {
        "ShallowFBCSPNet": tiny_shallow_fbcsp(),
        "spy": Spy("seediv"),
    }
    res = _run(WithinSessionEvaluation, p, ds, pipes, tmp_path, **p.trial_wise_cv(3))
    assert len(res) == 2 * 3 and np.isfinite(res["score"]).all()
    for (train, _), (test, _) in _folds("seediv"):
        assert not train & test
