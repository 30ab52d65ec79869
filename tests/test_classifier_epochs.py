"""M2SClassifier on MNE Epochs: modalities from channel types, labels from events."""

import mne
import numpy as np
import pytest

from conftest import SMALL
from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm


@pytest.fixture(scope="module")
def epochs_split():
    ds = SyntheticEmotion(n_subjects=1, trial_duration=20.0, random_state=0)
    X, y, meta = EmotionParadigm(n_windows=5, step=5).get_data(ds, subjects=[1])
    train = meta["run"].astype(int).to_numpy() <= 9
    return X[np.where(train)[0]], X[np.where(~train)[0]]


@pytest.fixture(scope="module")
def fitted(epochs_split):
    ep_tr, _ = epochs_split
    clf = M2SClassifier(**dict(SMALL, pretrain_max_epochs=2, max_epochs=5))
    clf.pretrain(ep_tr)
    return clf.fit(ep_tr.copy().pick("eyetrack"))


def test_pretrain_recognises_modalities(fitted):
    specs = fitted.pretrained.specs
    assert set(specs) == {"eeg", "eye", "pps"}
    assert (specs["eeg"].n_chans, specs["eeg"].n_bands) == (62, 5)
    assert specs["eye"].n_features == 33
    assert set(fitted.pretrained.extractors) == {"eeg", "eye", "pps"}


def test_fit_predict_score_transform_on_epochs(fitted, epochs_split):
    _, ep_te = epochs_split
    assert fitted.modality_ == "eye"
    assert list(fitted.classes_) == ["negative", "neutral", "positive"]
    eeg = ep_te.copy().pick("eeg")
    pred = fitted.predict(eeg)  # cross-modal, through the EEG encoder
    assert pred.shape == (len(ep_te),) and set(pred) <= set(fitted.classes_)
    assert 0.0 <= fitted.score(eeg) <= 1.0  # labels from the events
    assert fitted.transform(eeg).shape == (len(ep_te), SMALL["proj_dim"])
    labels = np.array(list(ep_te.event_id))[ep_te.events[:, 2] - 1]
    assert fitted.score(eeg, labels) == fitted.score(eeg)


def test_epochs_errors(fitted, epochs_split):
    ep_tr, _ = epochs_split
    with pytest.raises(ValueError, match="single modality"):
        fitted.fit(ep_tr.copy().pick(["eeg", "eyetrack"]))
    info = mne.create_info(["a", "b"], 200.0, "misc")
    misc = mne.EpochsArray(np.zeros((3, 2, 1000)), info, verbose=False)
    with pytest.raises(ValueError, match="No modality recognised"):
        fitted.predict(misc)


def test_window_travels_with_the_epochs(fitted, epochs_split):
    ep_tr, ep_te = epochs_split
    assert set(ep_tr.metadata["window"]) == {1.0}  # recorded by the paradigm
    assert fitted.window_ == 1.0 and fitted.pretrained.window == 1.0
    # the eye extractor cut the epochs into the data's 1-s windows, not its own 4 s
    assert fitted.pretrained.extractors["eye"].window == 1.0
    with pytest.raises(ValueError, match="window=2 s disagrees with the epochs"):
        M2SClassifier(**dict(SMALL, window=2.0)).pretrain(ep_tr)
    other = ep_te.copy().pick("eeg")
    other.metadata = other.metadata.assign(window=4.0)
    with pytest.raises(ValueError, match="disagrees with the data, cut into 4-s windows"):
        fitted.predict(other)


def test_task_on_multimodal_epochs_in_cross_val_score(epochs_split):
    from sklearn.model_selection import GroupKFold, cross_val_score

    ep_tr, ep_te = epochs_split
    runs = ep_tr.metadata["run"].astype(int).to_numpy()
    sub = ep_tr[np.where(runs <= 6)[0]].pick(["eeg", "eyetrack"])
    groups = sub.metadata["run"].to_numpy()
    clf = M2SClassifier(**dict(SMALL, pretrain_max_epochs=2, max_epochs=3), task="eye->eeg")
    scores = cross_val_score(clf, sub, None, groups=groups, cv=GroupKFold(2))
    assert scores.shape == (2,) and np.all(np.isfinite(scores))
    clf.fit(sub)  # labels from the events
    assert list(clf.classes_) == ["negative", "neutral", "positive"]
    assert set(clf.pretrained_.specs) == {"eeg", "eye"} and clf.pretrained is None
    test = ep_te.copy().pick(["eeg", "eyetrack"])
    np.testing.assert_array_equal(clf.predict(test), clf.predict(test.copy().pick("eeg")))
    assert clf.score(test) == clf.score(test.copy().pick("eeg"))
