"""Tests of the method registry and of the built-in baselines (svm, fusion)."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import balanced_accuracy_score
from sklearn.pipeline import make_pipeline

from mne_m2s import M2SClassifier
from mne_m2s.baselines.fusion import FusionClassifier
from mne_m2s.baselines.svm import WindowFeatures, make_svm
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.evaluation import (
    CrossModalEvaluation,
    TrialHoldoutSplit,
    describe_methods,
    get_method,
    list_methods,
    make_pipelines,
    register_method,
    unregister_method,
)
from mne_m2s.evaluation.methods import CLIP_WEIGHTS
from mne_m2s.paradigms import EmotionParadigm

TINY = dict(embedding_dim=16, n_layers=1, n_heads=1, head_dim=8, ffn_dim=32, proj_dim=8,
            pretrain_max_epochs=2, pretrain_batch_size=64, max_epochs=30, batch_size=32,
            lr=3e-3, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def easy():
    """One easy synthetic subject: features, labels, training mask (trials 1-9)."""
    ds = SyntheticEmotion(n_subjects=1, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, difficulty="easy", random_state=0)
    X, y, meta = EmotionParadigm(n_windows=5, step=2).get_data(ds, subjects=[1])
    train = meta["run"].astype(int).to_numpy() <= 9
    return X, np.asarray(y), train


@pytest.fixture
def registry_guard():
    before = list_methods()
    yield
    for name in list_methods():
        if name not in before:
            unregister_method(name)


def test_builtin_methods():
    assert list_methods()[:5] == ["M2S", "clip", "supervised", "fusion", "svm"]
    lines = describe_methods()
    assert len(lines) == len(list_methods())
    assert all("\n" not in line and ": " in line for line in lines)
    assert get_method("fusion").kind == "multimodal"
    assert get_method("svm").levels == ("features",)
    raw, features = list_methods(level="raw"), list_methods(level="features")
    assert "svm" not in raw and {"M2S", "clip", "supervised", "fusion"} <= set(raw)
    assert {"ShallowFBCSPNet", "EEGNet"} <= set(raw) - set(features)  # raw-EEG networks
    assert {"BDAE", "MAET", "BDAE-cGAN"} <= set(features) - set(raw)  # feature-level systems
    assert list_methods(kind="cross-modal")[:2] == ["M2S", "clip"]
    spec = make_pipelines(["M2S", "clip", "supervised", "fusion", "svm"], TINY)
    pipes = spec["pipelines"]
    assert spec["pretrain"] == {"M2S": True, "clip": True, "supervised": False,
                                "fusion": False, "svm": False}
    assert spec["kinds"]["fusion"] == "multimodal" and spec["kinds"]["svm"] == "single-modal"
    assert isinstance(pipes["M2S"], M2SClassifier) and pipes["M2S"].cpc_weight == 1.0
    clip = pipes["clip"].get_params()
    assert all(clip[k] == v for k, v in CLIP_WEIGHTS.items()) and clip["contrastive_weight"] == 1
    assert isinstance(pipes["fusion"], FusionClassifier)
    assert pipes["fusion"].embedding_dim == 16 and pipes["fusion"].max_epochs == 30
    assert pipes["svm"].steps[-1][1].random_state == 0
    # per-method parameters
    svm = make_pipelines(["svm"], TINY, params={"svm": {"C": 0.01}})["pipelines"]["svm"]
    assert svm.get_params()["svm__C"] == 0.01


def test_registry_errors(registry_guard):
    with pytest.raises(ValueError, match="Unknown method 'M2s'.*Did you mean 'M2S'"):
        get_method("M2s")
    with pytest.raises(ValueError, match="Unknown method 'fuson'.*Did you mean 'fusion'"):
        make_pipelines(["M2S", "fuson"])
    with pytest.raises(ValueError, match="already registered"):
        register_method("M2S", lambda s: None, description="x", kind="cross-modal")
    with pytest.raises(ValueError, match="kind must be one of.*Did you mean 'multimodal'"):
        register_method("x", lambda s: None, description="x", kind="multimodel")
    with pytest.raises(ValueError, match="one non-empty line"):
        register_method("x", lambda s: None, description="two\nlines", kind="single-modal")
    with pytest.raises(ValueError, match="levels must be"):
        register_method("x", lambda s: None, description="x", kind="single-modal",
                        levels=("signals",))
    with pytest.raises(ValueError, match="duplicates"):
        make_pipelines(["M2S", "M2S"])
    with pytest.raises(ValueError, match="params names method"):
        make_pipelines(["M2S"], params={"svm": {}})
    with pytest.raises(ValueError, match="svm' reads features-level data only.*'raw' level"):
        make_pipelines(["svm"], level="raw")
    with pytest.raises(ValueError, match="M2SClassifier does not take.*Did you mean 'lr'"):
        make_pipelines(["M2S"], {"lrr": 1e-3})
    register_method("broken", lambda s: object(), description="x", kind="single-modal")
    with pytest.raises(TypeError, match="not a scikit-learn estimator"):
        make_pipelines(["broken"])


class _RawOnly(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):  # pragma: no cover - never reached: refused by level
        return self

    def predict(self, X):  # pragma: no cover
        return X


def test_user_methods_run_in_the_evaluation(registry_guard):
    # a single-modal method of the user's, and one restricted to signal-level data
    register_method(
        "lda", lambda settings, **p: make_pipeline(WindowFeatures(), LinearDiscriminantAnalysis()),
        description="LDA on the mean window", kind="single-modal", levels=("features",),
    )
    register_method("rawnet", lambda settings: _RawOnly(), description="raw EEG network",
                    kind="single-modal", levels=("raw",), modalities=("eeg",))
    assert "lda" in list_methods() and get_method("rawnet").modalities == ("eeg",)
    ds = SyntheticEmotion(n_subjects=1, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, difficulty="easy", random_state=0)
    with pytest.raises(ValueError, match="'rawnet' reads raw-level data only"):
        make_pipelines(["lda", "rawnet"], level=ds.level)
    ev = CrossModalEvaluation(EmotionParadigm(n_windows=5, step=2), [ds], random_state=0)
    results = ev.process(**make_pipelines(["lda", "svm"], TINY, level=ds.level))
    assert list(results["task"]) == ["eeg->eeg", "eye->eye"] * 2
    assert list(results["method"]) == ["lda", "lda", "svm", "svm"]
    assert results["balanced_accuracy"].gt(0.45).all()  # chance 1/3


def test_svm_scales_on_training_data_only(easy):
    X, y, train = easy
    svm = make_svm(random_state=0).fit({"eye": X["eye"][train]}, y[train])
    mean = X["eye"][train].mean(axis=1).mean(axis=0)
    np.testing.assert_allclose(svm.named_steps["scale"].mean_, mean, rtol=1e-6)
    assert not np.allclose(svm.named_steps["scale"].mean_, X["eye"].mean(axis=1).mean(axis=0))
    score = balanced_accuracy_score(y[~train], svm.predict({"eye": X["eye"][~train]}))
    assert score > 0.5  # chance 1/3
    with pytest.raises(ValueError, match="trained on modality 'eye'; it cannot predict from"):
        svm.predict({"eeg": X["eeg"][~train]})
    with pytest.raises(ValueError, match="one modality, got 2"):
        make_svm().fit(X, y)
    concat = WindowFeatures(aggregate="concat").fit(X["eeg"])
    assert concat.transform(X["eeg"]).shape == (len(y), 5 * 62 * 5)


def test_fusion_classifier(easy):
    X, y, train = easy
    Xtr = {m: a[train] for m, a in X.items()}
    Xte = {m: a[~train] for m, a in X.items()}
    kwargs = {k: v for k, v in TINY.items() if not k.startswith("pretrain")}
    kwargs["max_epochs"] = 12
    fusion = FusionClassifier(**kwargs).fit(Xtr, y[train])
    assert fusion.modalities_ == ["eeg", "eye"]
    assert sorted(fusion.module_.embedders) == ["eeg", "eye"]
    y_pred = fusion.predict(Xte)
    assert balanced_accuracy_score(y[~train], y_pred) > 0.5  # chance 1/3
    proba = fusion.predict_proba(Xte)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # same seed, same result; clone gives an unfitted copy
    again = clone(fusion).fit(Xtr, y[train])
    np.testing.assert_array_equal(again.predict_proba(Xte), proba)
    with pytest.raises(ValueError, match="lacks \\['eye'\\]"):
        fusion.predict({"eeg": Xte["eeg"]})
    with pytest.raises(ValueError, match="at least 2 classes"):
        FusionClassifier(**kwargs).fit(Xtr, np.zeros(train.sum()))


def test_multimodal_method_in_the_evaluation():
    ds = SyntheticEmotion(n_subjects=1, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, difficulty="easy", random_state=0)
    settings = dict(TINY, max_epochs=5)
    results = CrossModalEvaluation(
        EmotionParadigm(n_windows=5, step=3), [ds], cv=TrialHoldoutSplit(9), random_state=0
    ).process(**make_pipelines(["fusion", "svm"], settings))
    fusion = results[results["method"] == "fusion"]
    assert list(fusion["task"]) == ["eeg+eye->eeg+eye"]
    assert fusion.iloc[0]["train_modality"] == "eeg+eye"
    assert list(results["method"]) == ["fusion", "svm", "svm"]
