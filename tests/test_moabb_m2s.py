"""M2SClassifier(task="eye->eeg") inside MOABB's evaluations with EmotionWindowsParadigm."""

import numpy as np
import pytest
from moabb.evaluations import CrossSubjectEvaluation, WithinSessionEvaluation

from conftest import SMALL, tiny_shallow_fbcsp
from dataset_fixtures import write_seed_iv
from mne_m2s import M2SClassifier
from mne_m2s.baselines import BraindecodeClassifier
from mne_m2s.datasets import SEEDIV, SyntheticEmotion
from mne_m2s.paradigms import EmotionWindowsParadigm

#: spy name -> list of (call, detail)
CALLS = {}
TINY = {**SMALL, "pretrain_max_epochs": 1, "max_epochs": 2}


class SpyM2S(M2SClassifier):
    """M2SClassifier recording the subjects and trials of fit / predict and pre-training."""

    def fit(self, X, y=None, groups=None):
        meta = X.metadata
        CALLS.setdefault("m2s", []).append(
            ("fit", set(meta["subject"]), set(meta["trial"]), len(X))
        )
        return super().fit(X, y, groups=groups) if groups is not None else super().fit(X, y)

    def _pretrain(self, inputs, *args, **kwargs):
        n = {len(a) for a in inputs.data.values()}
        CALLS.setdefault("m2s", []).append(("pretrain", n))
        return super()._pretrain(inputs, *args, **kwargs)

    def predict(self, X):
        meta = X.metadata
        CALLS.setdefault("m2s", []).append(
            ("predict", set(meta["subject"]), set(meta["trial"]), len(X))
        )
        return super().predict(X)


@pytest.fixture(scope="module")
def synth():
    return SyntheticEmotion(
        n_subjects=2, n_sessions=1, n_trials=6, trial_duration=4.0, modalities=("eeg", "eye")
    )


def _evaluate(cls, paradigm, ds, pipelines, tmp_path, **kwargs):
    return cls(
        paradigm=paradigm,
        datasets=[ds],
        hdf5_path=str(tmp_path / "moabb"),
        overwrite=True,
        random_state=0,
        return_epochs=True,
        **kwargs,
    ).process(pipelines)


def _m2s_folds():
    """``[(fit call, pretrain call, [predict calls])]`` per fold."""
    folds = []
    for call in CALLS.pop("m2s"):
        if call[0] == "fit":
            folds.append([call, None, []])
        elif call[0] == "pretrain":
            folds[-1][1] = call
        else:
            folds[-1][2].append(call)
    return folds


def test_within_session_m2s_task_and_braindecode(tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=1)
    pipes = {
        "M2S": SpyM2S(task="eye->eeg", **TINY),
        "EEGNet": BraindecodeClassifier(
            "EEGNet", model_kwargs={"F1": 4, "D": 1, "F2": 4}, max_epochs=1, batch_size=32,
            random_state=0,
        ),
    }
    ds = SyntheticEmotion(
        n_subjects=1, n_sessions=1, n_trials=6, trial_duration=4.0, modalities=("eeg", "eye")
    )
    res = _evaluate(WithinSessionEvaluation, p, ds, pipes, tmp_path, **p.trial_wise_cv(2))
    assert set(res["pipeline"]) == {"M2S", "EEGNet"} and np.isfinite(res["score"]).all()
    folds = _m2s_folds()
    assert len(folds) == 2  # folds of the one subject-session
    for (_, _, train_trials, n_fit), pretrain, predicts in folds:
        assert pretrain == ("pretrain", {n_fit})  # pre-trained on exactly the fit data
        test_trials = set().union(*(c[2] for c in predicts))
        assert test_trials and not train_trials & test_trials  # no test window in fit


def test_cross_subject_held_out_subject_never_in_pretraining(synth, tmp_path):
    p = EmotionWindowsParadigm(n_windows=2, step=2)
    _evaluate(CrossSubjectEvaluation, p, synth, {"M2S": SpyM2S(task="eye->eeg", **TINY)},
              tmp_path)
    folds = _m2s_folds()
    assert len(folds) == 2
    for (_, train_subjects, _, n_fit), pretrain, predicts in folds:
        assert pretrain == ("pretrain", {n_fit})
        test_subjects = set().union(*(c[1] for c in predicts))
        assert len(test_subjects) == 1 and not train_subjects & test_subjects


def test_within_session_m2s_task_and_braindecode_on_seed_iv_raw(tmp_path):
    """SEED-IV raw EEG + its published eye features (eye="features") in MOABB.

    Each 4-s eye-feature window gives two samples of 2 x 1-s windows, so every
    trial has several samples and a sample-wise split would leak; the spy shows
    that no window of a test trial reaches fit (or pre-training).
    """
    write_seed_iv(tmp_path / "SEED_IV", subjects=(1,), levels=("raw",), raw_eye=True)
    ds = SEEDIV(tmp_path / "SEED_IV", level="raw", eye="features")
    ds.subject_list = [1]  # MOABB's idiom for evaluating some subjects
    p = EmotionWindowsParadigm(n_windows=2, step=2, window=1.0, events=["neutral", "happy"])
    pipes = {
        "M2S": SpyM2S(task="eye->eeg", **TINY),
        "ShallowFBCSPNet": tiny_shallow_fbcsp(),
    }
    res = _evaluate(WithinSessionEvaluation, p, ds, pipes, tmp_path, **p.trial_wise_cv(2))
    assert set(res["pipeline"]) == {"M2S", "ShallowFBCSPNet"}
    assert len(res) == 2 * 3 and np.isfinite(res["score"]).all()  # pipelines x sessions
    folds = _m2s_folds()
    assert len(folds) == 3 * 2  # sessions x folds
    for (_, _, train_trials, n_fit), pretrain, predicts in folds:
        assert pretrain == ("pretrain", {n_fit})  # pre-trained on exactly the fit data
        test_trials = set().union(*(c[2] for c in predicts))
        assert test_trials and not train_trials & test_trials  # no test window in fit
        assert n_fit > len(train_trials)  # several windows per trial: a leak was possible
