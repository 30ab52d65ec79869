"""ETF, emotion transformer fusion (supervised multimodal)."""

import pytest
import torch
from baselines_helpers import (
    TINY_MULTI,
    check_multimodal_fit_predict,
    check_no_test_trial_seen,
    check_reproducible,
    seed_iv_session,
    synthetic,
    take,
)
from sklearn.base import clone

from mne_m2s.baselines import ETFClassifier
from mne_m2s.baselines.etf import ETFNetwork

ETF = ETFClassifier(d_model=16, n_heads=2, n_layers=1, fusion_layers=1, ffn_dim=32,
                    **TINY_MULTI)


def test_network_any_windows():
    net = ETFNetwork({"eeg": 12, "eye": 4}, 3, d_model=8, n_heads=2, n_layers=1,
                     fusion_layers=1, ffn_dim=16).eval()
    for t in (1, 4):
        out = net(eeg=torch.randn(2, t, 3, 4), eye=torch.randn(2, t, 4))
        assert out.shape == (2, 3)


def test_synthetic():
    X, y, _, train, test = synthetic()
    est = check_multimodal_fit_predict(ETF, X, y, train, test)
    assert est.predict_proba(take(X, test)).shape == (len(test), 3)


def test_seed_iv_within_session(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    check_multimodal_fit_predict(ETF, X, y, train, test)


def test_reproducible_and_errors():
    X, y, _, train, test = synthetic()
    check_reproducible(ETF, X, y, train, test, multimodal=True)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        clone(ETF).set_params(d_model=15).fit(take(X, train), y[train])


def test_no_test_trial_seen():
    res = check_no_test_trial_seen(ETFClassifier, dict(TINY_MULTI, d_model=8, n_heads=2,
                                                       ffn_dim=16, max_epochs=2))
    assert set(res["task"]) == {"eeg+eye->eeg+eye"}
