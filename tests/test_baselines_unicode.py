"""Uni-Code (cross-modal)."""

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

from mne_m2s.baselines import UniCode
from mne_m2s.baselines.unicode import SharedCodebook

UNICODE = UniCode(**TINY_CROSS)


def test_codebook_quantize_and_mm_ema():
    book = SharedCodebook(4, 2, decay=0.0)
    book.codes.copy_(torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]]))
    z = torch.tensor([[[1.0, 0.0]], [[9.0, 1.0]]], requires_grad=True)  # (batch 2, T 1, dim 2)
    q = book.quantize(z)
    torch.testing.assert_close(q.detach(), torch.tensor([[[0.0, 0.0]], [[10.0, 0.0]]]))
    q.sum().backward()  # straight-through: gradient of z
    torch.testing.assert_close(z.grad, torch.ones_like(z))
    # MM-EMA: paired vectors of the other modality pull the codes (decay 0: one step)
    other = torch.tensor([[[3.0, 0.0]], [[7.0, 1.0]]])
    book.ema_update([z.detach(), other])
    # each vector is averaged with its pair: code 0 gets (1+3)/2 twice, code 1 (9+7)/2, (1+1)/2
    torch.testing.assert_close(book.codes[:2], torch.tensor([[2.0, 0.0], [8.0, 1.0]]),
                               rtol=1e-4, atol=1e-4)


def test_synthetic():
    X, y, _, train, test = synthetic()
    est = check_cross_modal_fit_predict(UNICODE, X, y, train, test)
    assert {"recon", "commit", "club", "cpc"} <= set(est.pretrained.history["pretrain"][-1])
    assert 1 <= est.pretrained.extra["codes_used"] <= 64


def test_seed_iv_within_session_single_window(tmp_path, caplog):
    X, y, _, train, test = seed_iv_session(tmp_path)  # one window per sample: no CPC
    with caplog.at_level("WARNING", logger="mne_m2s"):
        check_cross_modal_fit_predict(UNICODE, X, y, train, test)
    assert "CPC term needs >= 2" in caplog.text


def test_above_chance_easy():
    X, y, _, train, test = synthetic("easy", n_trials=15, duration=20.0)
    est = clone(UNICODE).set_params(pretrain_max_epochs=30, max_epochs=30)
    assert cross_modal_score(est, X, y, train, test, "eye", "eeg") > 0.5  # chance 1/3


def test_errors():
    X, y, _, train, _ = synthetic()
    check_cross_modal_errors(UNICODE, X, y, train)
    with pytest.raises(ValueError, match="decay"):
        clone(UNICODE).set_params(decay=1.0).pretrain(take(X, train))


def test_no_test_trial_seen():
    check_no_test_trial_seen(UniCode, dict(TINY_CROSS, pretrain_max_epochs=2, max_epochs=2))
