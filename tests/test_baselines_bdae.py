"""BDAE (supervised multimodal) and BDAE-regressor (cross-modal)."""

import numpy as np
import pytest
from baselines_helpers import (
    TINY_CROSS,
    TINY_MULTI,
    check_cross_modal_errors,
    check_cross_modal_fit_predict,
    check_multimodal_fit_predict,
    check_no_test_trial_seen,
    check_reproducible,
    cross_modal_score,
    seed_iv_session,
    synthetic,
    take,
)
from sklearn.base import clone

from mne_m2s.baselines import BDAEClassifier, BDAERegressor
from mne_m2s.baselines.bdae import BimodalAutoencoder

BDAE = BDAEClassifier(max_epochs=15, batch_size=64, lr=3e-3, device="cpu", random_state=0)
REGRESSOR = BDAERegressor(**TINY_CROSS)


def test_autoencoder_shapes():
    import torch

    net = BimodalAutoencoder({"eeg": 10, "eye": 4}, hidden=(8, 6), shared_dim=3)
    x = {"eeg": torch.randn(5, 10), "eye": torch.randn(5, 4)}
    assert net.encode(**x).shape == (5, 3)
    rec = net(**x)
    assert rec["eeg"].shape == (5, 10) and rec["eye"].shape == (5, 4)


def test_bdae_synthetic_and_svm():
    X, y, _, train, test = synthetic()
    est = check_multimodal_fit_predict(BDAE, X, y, train, test)
    assert est.transform(take(X, test)).shape == (len(test), 64)
    assert est.decision_function(take(X, test)).shape == (len(test), 3)
    with pytest.raises(AttributeError, match="linear SVM"):
        est.predict_proba(take(X, test))


def test_bdae_seed_iv_within_session(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    est = check_multimodal_fit_predict(BDAE, X, y, train, test)
    assert set(est.classes_) == {"neutral", "sad", "fear", "happy"}
    # the scalers saw the training windows only
    np.testing.assert_allclose(est.scalers_["eye"].mean_, X["eye"][train].reshape(-1, 31).mean(0),
                               rtol=1e-4, atol=1e-5)


def test_bdae_reproducible_and_errors():
    X, y, _, train, test = synthetic()
    check_reproducible(BDAE, X, y, train, test, multimodal=True)
    with pytest.raises(ValueError, match="hidden"):
        clone(BDAE).set_params(hidden=()).fit(take(X, train), y[train])
    with pytest.raises(ValueError, match="C must be"):
        clone(BDAE).set_params(C=0.0).fit(take(X, train), y[train])


def test_regressor_synthetic():
    X, y, _, train, test = synthetic()
    est = check_cross_modal_fit_predict(REGRESSOR, X, y, train, test)
    assert est.transform(take(X, test, ["eeg"])).shape == (len(test), 64)
    assert set(est.pretrained.history) == {"bdae", "generators"}


def test_regressor_mlp_generator_seed_iv(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    check_cross_modal_fit_predict(clone(REGRESSOR).set_params(generator="mlp"), X, y, train,
                                  test)


def test_regressor_above_chance_easy():
    X, y, _, train, test = synthetic("easy", n_trials=15, duration=20.0)
    est = clone(REGRESSOR).set_params(pretrain_max_epochs=30, max_epochs=30)
    assert cross_modal_score(est, X, y, train, test, "eye", "eeg") > 0.55  # chance 1/3


def test_regressor_errors_and_reproducible():
    X, y, _, train, test = synthetic()
    check_cross_modal_errors(REGRESSOR, X, y, train)
    check_reproducible(REGRESSOR, X, y, train, test, multimodal=False)
    with pytest.raises(ValueError, match="generator"):
        clone(REGRESSOR).set_params(generator="gan").pretrain(take(X, train))


def test_no_test_trial_seen():
    check_no_test_trial_seen(BDAERegressor, dict(TINY_CROSS, pretrain_max_epochs=2,
                                                 max_epochs=2))
    res = check_no_test_trial_seen(BDAEClassifier, dict(TINY_MULTI, max_epochs=2))
    assert set(res["task"]) == {"eeg+eye->eeg+eye"}
