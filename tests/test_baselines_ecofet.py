"""ECO-FET (cross-modal)."""

import numpy as np
import pytest
import torch
from baselines_helpers import (
    TINY_CROSS,
    check_cross_modal_errors,
    check_cross_modal_fit_predict,
    check_no_test_trial_seen,
    check_reproducible,
    cross_modal_score,
    seed_iv_session,
    synthetic,
    take,
)
from sklearn.base import clone

from mne_m2s.baselines import ECOFET
from mne_m2s.baselines.ecofet import FunctionalEmotionEncoder, functional_connectivity

FET = ECOFET(**TINY_CROSS)


def test_functional_connectivity():
    x = torch.randn(2, 3, 4, 5)
    x[:, :, 1] = 2 * x[:, :, 0] + 1  # electrode 1 is a copy of electrode 0
    a = functional_connectivity(x)
    assert a.shape == (2, 4, 4)
    torch.testing.assert_close(a.sum(-1), torch.ones(2, 4))
    assert torch.allclose(a[:, 0, 1], a[:, 0, 0], atol=1e-4)  # |corr| = 1 like the diagonal


def test_synthetic_prototype_and_graph_branch():
    X, y, _, train, test = synthetic()
    est = check_cross_modal_fit_predict(FET, X, y, train, test)
    assert est.prototypes_.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(est.prototypes_, axis=1), 1.0, rtol=1e-5)
    assert isinstance(est.pretrained.embedders["eeg"].encoder, FunctionalEmotionEncoder)
    assert not isinstance(est.pretrained.embedders["eye"].encoder, FunctionalEmotionEncoder)


def test_head_classifier_seed_iv(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    est = check_cross_modal_fit_predict(clone(FET).set_params(classifier="head"), X, y, train,
                                        test)
    assert hasattr(est, "head_") and not hasattr(est, "prototypes_")


def test_above_chance_easy():
    X, y, _, train, test = synthetic("easy", n_trials=15, duration=20.0)
    est = clone(FET).set_params(pretrain_max_epochs=30)
    assert cross_modal_score(est, X, y, train, test, "eye", "eeg") > 0.55  # chance 1/3


def test_errors_reproducible_and_flat_eeg():
    X, y, _, train, test = synthetic()
    check_cross_modal_errors(FET, X, y, train)
    check_reproducible(FET, X, y, train, test, multimodal=False)
    flat = {"eeg": X["eeg"][train].reshape(len(train), X["eeg"].shape[1], -1),
            "eye": X["eye"][train]}
    with pytest.raises(ValueError, match="no electrode layout"):
        clone(FET).set_params(require_connectivity=True).pretrain(flat)
    with pytest.raises(ValueError, match="classifier"):
        clone(FET).set_params(classifier="knn").pretrain(take(X, train))


def test_no_test_trial_seen():
    check_no_test_trial_seen(ECOFET, dict(TINY_CROSS, pretrain_max_epochs=2, max_epochs=2))
