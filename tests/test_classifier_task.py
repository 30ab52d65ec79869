"""M2SClassifier(task="a->b"): one scikit-learn classifier over multimodal input."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GroupKFold, cross_val_score

from conftest import SMALL
from mne_m2s import M2SClassifier
from mne_m2s.modalities import FeatureDict

FAST = dict(SMALL, pretrain_max_epochs=20, max_epochs=40)


@pytest.fixture
def spy_pretrain(monkeypatch):
    """Record the samples each pre-training sees (first EEG feature of each sample)."""
    seen = []
    original = M2SClassifier._pretrain

    def spy(self, inputs):
        seen.append(np.round(inputs.data["eye"][:, 0, 0], 5))
        return original(self, inputs)

    monkeypatch.setattr(M2SClassifier, "_pretrain", spy)
    return seen


def _multi(latent_problem, idx):
    xa, xb, y, trial = latent_problem
    return FeatureDict({"eeg": xa[idx], "eye": xb[idx]}), y[idx], trial[idx]


def test_task_fit_pretrains_then_fine_tunes_and_predicts_cross_modal(latent_problem,
                                                                     spy_pretrain):
    xa, xb, y, trial = latent_problem
    train, test = trial < 18, trial >= 18
    clf = M2SClassifier(**FAST, task="eye->eeg")
    clf.fit({"eeg": xa[train], "eye": xb[train]}, y[train])
    assert len(spy_pretrain) == 1 and len(spy_pretrain[0]) == train.sum()
    assert clf.pretrained is None  # fitted state, not the parameter
    assert clf.pretrained_.modalities == ["eeg", "eye"]
    assert clf.modality_ == "eye" and sorted(clf.modalities_) == ["eeg", "eye"]
    multi = {"eeg": xa[test], "eye": xb[test]}
    # multimodal input -> the task's test modality (EEG), single modality -> itself
    np.testing.assert_array_equal(clf.predict_proba(multi), clf.predict_proba({"eeg": xa[test]}))
    np.testing.assert_array_equal(clf.transform(multi), clf.transform({"eeg": xa[test]}))
    assert clf.score(multi, y[test]) >= 1 / 3 + 0.2
    assert clf.score({"eye": xb[test]}, y[test]) >= 1 / 3 + 0.2


def test_clone_does_not_keep_task_encoders_and_every_fold_pretrains_on_its_own(
    latent_problem, spy_pretrain
):
    X, y, trial = _multi(latent_problem, np.arange(len(latent_problem[2])))
    clf = M2SClassifier(**dict(FAST, pretrain_max_epochs=5, max_epochs=10), task="eye->eeg")
    fitted = clone(clf).fit(X, y)
    assert clone(fitted).pretrained is None
    spy_pretrain.clear()
    cv = GroupKFold(3)
    scores = cross_val_score(clf, X, y, groups=trial, cv=cv)
    assert scores.shape == (3,)
    assert len(spy_pretrain) == 3  # one pre-training per fold, from scratch
    eye = np.round(X["eye"][:, 0, 0], 5)
    for seen, (tr, te) in zip(spy_pretrain, cv.split(eye, y, trial), strict=True):
        np.testing.assert_array_equal(np.sort(seen), np.sort(eye[tr]))
        assert not set(seen) & set(eye[te])  # no test sample reaches pre-training


def test_task_with_pretrained_encoders_does_not_pretrain(pretrained_clf, latent_problem,
                                                         spy_pretrain):
    xa, xb, y, trial = latent_problem
    train, test = trial < 18, trial >= 18
    clf = clone(pretrained_clf).set_params(task="eye->eeg", max_epochs=20)
    clf.fit({"eeg": xa[train], "eye": xb[train]}, y[train])
    assert spy_pretrain == []
    assert clf.pretrained_ is clf.pretrained  # (clone keeps a copy of the encoders)
    assert clf.score({"eeg": xa[test], "eye": xb[test]}, y[test]) >= 1 / 3 + 0.2
    # with pre-trained encoders, the fine-tune modality alone is enough
    clf.fit({"eye": xb[train]}, y[train])
    with pytest.raises(ValueError, match="fine-tunes on 'eye', but X holds only"):
        clf.fit({"eeg": xa[train]}, y[train])


def test_without_task_behaviour_is_unchanged(pretrained_clf, latent_problem):
    xa, xb, y, trial = latent_problem
    with pytest.raises(ValueError, match="single modality.*task='eye->eeg'"):
        clone(pretrained_clf).fit({"eeg": xa, "eye": xb}, y)


@pytest.mark.parametrize(
    "task, match",
    [("eye->ecg", r"needs modalities \['eye', 'ecg'\].*missing \['ecg'\]"),
     ("eye-eeg", "task must be None or 'fine_tune_modality->test_modality'"),
     ("->eeg", "task must be None")],
)
def test_task_errors(latent_problem, task, match):
    xa, xb, y, trial = latent_problem
    with pytest.raises(ValueError, match=match):
        M2SClassifier(**FAST, task=task).fit({"eeg": xa[:30], "eye": xb[:30]}, y[:30])


def test_feature_dict_is_split_by_scikit_learn(latent_problem):
    X, y, trial = _multi(latent_problem, np.arange(20))
    X.window = 4.0
    sub = X[np.array([0, 3, 5])]
    assert isinstance(sub, FeatureDict) and sub.window == 4.0 and sub.shape == (3,)
    np.testing.assert_array_equal(sub["eye"], X["eye"][[0, 3, 5]])
    assert X.shape == (20,) and len(X) == 2 and list(X) == ["eeg", "eye"]
