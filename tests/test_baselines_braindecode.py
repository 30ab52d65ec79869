"""braindecode models as scikit-learn baselines."""

import sys

import mne
import numpy as np
import pytest
import torch
from sklearn.base import clone

from mne_m2s.baselines import BRAINDECODE_MODELS, BraindecodeClassifier

SFREQ = 128.0


def _data(n=24, n_chans=4, n_times=256, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["calm", "fear", "happy"] * (n // 3))
    X = rng.normal(size=(n, n_chans, n_times))
    t = np.arange(n_times) / SFREQ
    freq = {"calm": 6.0, "fear": 12.0, "happy": 20.0}
    for i, label in enumerate(y):  # a class-specific rhythm on every channel
        X[i] += 2.0 * np.sin(2 * np.pi * freq[label] * t)
    return X.astype(np.float32), y


def _epochs(X, y):
    info = mne.create_info([f"EEG{i}" for i in range(X.shape[1])], SFREQ, "eeg")
    codes = {name: i + 1 for i, name in enumerate(sorted(set(y)))}
    events = np.c_[np.arange(len(y)) * X.shape[2], np.zeros(len(y), int), [codes[v] for v in y]]
    return mne.EpochsArray(X * 1e-6, info, events=events, event_id=codes, verbose=False)


def test_models_registry():
    assert {"ShallowFBCSPNet", "EEGNet", "TSception", "EEGConformer"} <= set(BRAINDECODE_MODELS)
    assert all(isinstance(v, str) and v for v in BRAINDECODE_MODELS.values())
    import braindecode.models

    assert all(hasattr(braindecode.models, name) for name in BRAINDECODE_MODELS)


@pytest.mark.parametrize("model", list(BRAINDECODE_MODELS))
def test_fit_predict_labels_and_shapes(model):
    X, y = _data()
    kwargs = {"sfreq": SFREQ} if model == "TSception" else None
    clf = BraindecodeClassifier(
        model, model_kwargs=kwargs, max_epochs=1, batch_size=8, random_state=0
    )
    assert clf.fit(X, y) is clf
    assert list(clf.classes_) == ["calm", "fear", "happy"]
    assert (clf.n_chans_, clf.n_times_) == (4, 256)
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    pred = clf.predict(X[:5])
    assert set(pred) <= set(y)  # labels, not indices
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(axis=1)])


def test_learns_and_is_reproducible():
    X, y = _data(n=48)
    clf = BraindecodeClassifier("ShallowFBCSPNet", max_epochs=10, batch_size=16, lr=1e-2,
                                random_state=0)
    state = torch.random.get_rng_state()
    clf.fit(X, y)
    assert torch.equal(state, torch.random.get_rng_state())  # global RNG untouched
    X_test, y_test = _data(n=24, seed=1)
    assert clf.score(X_test, y_test) > 0.6  # chance 1/3
    again = clone(clf).fit(X, y)
    np.testing.assert_allclose(again.predict_proba(X_test), clf.predict_proba(X_test), atol=1e-6)


def test_epochs_input_labels_from_events_and_scale():
    X, y = _data()
    ep = _epochs(X, y)
    clf = BraindecodeClassifier("EEGNet", max_epochs=1, batch_size=8, random_state=0).fit(ep)
    assert list(clf.classes_) == ["calm", "fear", "happy"]
    assert clf.sfreq_ == SFREQ and clf.ch_names_ == ep.ch_names
    # Epochs (volts) are scaled to microvolts: same predictions as the microvolt array
    arr = BraindecodeClassifier("EEGNet", max_epochs=1, batch_size=8, random_state=0).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(ep), arr.predict_proba(X), atol=1e-5)


def test_clone_and_params():
    clf = BraindecodeClassifier("TSception", max_epochs=3, lr=5e-4)
    c = clone(clf)
    assert c.get_params() == clf.get_params() and not hasattr(c, "net_")


def test_errors():
    X, y = _data()
    with pytest.raises(ValueError, match="EEGNet"):
        BraindecodeClassifier("EEGNetv4").fit(X, y)
    with pytest.raises(TypeError, match="M2SClassifier"):
        BraindecodeClassifier().fit({"eeg": X}, y)
    with pytest.raises(ValueError, match=r"n_samples, n_chans, n_times"):
        BraindecodeClassifier().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="not arguments of braindecode's EEGNet"):
        BraindecodeClassifier("EEGNet", model_kwargs={"n_filtrs": 3}, max_epochs=1).fit(X, y)
    clf = BraindecodeClassifier("EEGNet", max_epochs=1, batch_size=8).fit(X, y)
    with pytest.raises(ValueError, match="fitted on 4 x 256"):
        clf.predict(X[:, :3])


def test_missing_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "braindecode", None)  # import braindecode -> ImportError
    X, y = _data()
    with pytest.raises(ImportError, match=r'pip install "mne-m2s\[braindecode\]"'):
        BraindecodeClassifier().fit(X, y)


def test_registered_as_raw_level_methods_and_run_in_the_evaluation():
    from mne_m2s.datasets import SyntheticEmotion
    from mne_m2s.evaluation import CrossModalEvaluation, get_method, list_methods, make_pipelines
    from mne_m2s.paradigms import EmotionParadigm

    raw_methods = list_methods(level="raw")
    assert set(BRAINDECODE_MODELS) <= set(raw_methods)
    assert not set(BRAINDECODE_MODELS) & set(list_methods(level="features"))
    spec = get_method("EEGNet")
    assert spec.kind == "single-modal" and spec.modalities == ("eeg",)
    with pytest.raises(ValueError, match="raw-level data only"):
        make_pipelines(["EEGNet"], level="features")
    ds = SyntheticEmotion(n_subjects=1, n_trials=15, trial_duration=4.0, modalities=("eeg", "eye"))
    kwargs = make_pipelines(
        ["EEGNet"],
        settings={"device": "cpu", "random_state": 0},
        params={"EEGNet": {"max_epochs": 1, "batch_size": 16,
                           "model_kwargs": {"F1": 4, "D": 1, "F2": 4}}},
        level="raw",
    )
    ev = CrossModalEvaluation(EmotionParadigm(n_windows=2, step=2), [ds], protocol="within")
    res = ev.process(**kwargs)
    assert set(res["method"]) == {"EEGNet"} and set(res["task"]) == {"eeg->eeg"}
    assert np.isfinite(res["balanced_accuracy"]).all()
