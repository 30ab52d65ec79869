"""BDAE-cGAN (cross-modal)."""

import pytest
import torch
from baselines_helpers import (
    TINY_CROSS,
    check_cross_modal_errors,
    check_cross_modal_fit_predict,
    check_no_test_trial_seen,
    cross_modal_score,
    seed_iv_session,
    synthetic,
    take,
)
from sklearn.base import clone

from mne_m2s.baselines import BDAECGAN
from mne_m2s.baselines.cgan import ConditionalDiscriminator

CGAN = BDAECGAN(**TINY_CROSS)


def test_discriminator_shapes():
    d = ConditionalDiscriminator(6, 4, hidden=(8,))
    assert d(torch.randn(3, 6), torch.randn(3, 2, 4)).shape == (3,)


def test_synthetic_history_has_both_players():
    X, y, _, train, test = synthetic()
    est = check_cross_modal_fit_predict(CGAN, X, y, train, test)
    last = est.pretrained.history["generators"][-1]
    assert {"discriminator", "adversarial", "l2"} <= set(last)


def test_seed_iv_within_session(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    check_cross_modal_fit_predict(clone(CGAN).set_params(generator="mlp"), X, y, train, test)


def test_above_chance_easy():
    X, y, _, train, test = synthetic("easy", n_trials=15, duration=20.0)
    est = clone(CGAN).set_params(pretrain_max_epochs=30, max_epochs=30)
    assert cross_modal_score(est, X, y, train, test, "eye", "eeg") > 0.55  # chance 1/3


def test_errors():
    X, y, _, train, _ = synthetic()
    check_cross_modal_errors(CGAN, X, y, train)
    with pytest.raises(ValueError, match="l2_weight"):
        clone(CGAN).set_params(l2_weight=-1.0).pretrain(take(X, train))
    # a map pre-trained by another system is refused
    from mne_m2s.baselines import BDAERegressor

    other = BDAERegressor(**dict(TINY_CROSS, pretrain_max_epochs=1)).pretrain(take(X, train))
    with pytest.raises(ValueError, match="produced by BDAERegressor"):
        clone(CGAN).set_params(pretrained=other.pretrained).fit(take(X, train, ["eye"]),
                                                                 y[train])


def test_no_test_trial_seen():
    check_no_test_trial_seen(BDAECGAN, dict(TINY_CROSS, pretrain_max_epochs=2, max_epochs=2))
