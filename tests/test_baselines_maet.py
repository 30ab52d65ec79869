"""MAET (supervised multimodal), matched to its public reference."""

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

from mne_m2s.baselines import MAETClassifier
from mne_m2s.baselines._common import count_parameters
from mne_m2s.baselines.maet import MAET

MAET_EST = MAETClassifier(embed_dim=16, depth=2, n_heads=2, mix_start=1, **TINY_MULTI)


def test_parameter_count_of_the_reference_readme_configuration():
    # README of 935963004/MAET: embed_dim=32, num_classes=7, eeg_seq_len=eye_seq_len=5,
    # eeg_dim=310, eye_dim=33, depth=3, num_heads=4, qkv_bias=True,
    # mixffn_start_layer_index=2 -> 139,541 parameters in the reference implementation.
    net = MAET(eeg_dim=310, eye_dim=33, n_classes=7, embed_dim=32, depth=3, n_heads=4,
               n_views=5, qkv_bias=True, mix_start=2)
    assert count_parameters(net) == 139_541
    assert count_parameters(net.embed["a"]) == 59_776  # EEG multi-view embedding
    assert count_parameters(net.embed["b"]) == 6_592  # eye multi-view embedding
    assert count_parameters(net.blocks) == 71_872  # 2 blocks 21,152 + 1 mixture block 29,568
    assert count_parameters(net.blocks[2]) - count_parameters(net.blocks[0]) == 8_416


def test_forward_flexible_inputs():
    net = MAET(eeg_dim=310, eye_dim=33, n_classes=7).eval()
    eeg, eye = torch.randn(4, 310), torch.randn(4, 33)
    assert net(eeg=eeg).shape == net(eye=eye).shape == net(eeg=eeg, eye=eye).shape == (4, 7)
    with pytest.raises(ValueError, match="eeg, eye or both"):
        net()


def test_synthetic_reference_sizes():
    X, y, _, train, test = synthetic()
    est = check_multimodal_fit_predict(clone(MAET_EST).set_params(embed_dim=32, depth=3,
                                                                  n_heads=4, mix_start=2,
                                                                  max_epochs=3),
                                       X, y, train, test)
    # 310 EEG + 33 eye features, 3 classes: the README network with a 3-class head
    assert est.n_parameters_ == 139_541 - 3 * 4 * 33
    assert isinstance(est.module_.maet, MAET)


def test_seed_iv_within_session(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    check_multimodal_fit_predict(MAET_EST, X, y, train, test)


def test_reproducible_and_errors():
    X, y, _, train, test = synthetic()
    check_reproducible(MAET_EST, X, y, train, test, multimodal=True)
    with pytest.raises(ValueError, match="streams"):
        clone(MAET_EST).set_params(streams=("eeg", "pps")).fit(take(X, train), y[train])
    with pytest.raises(ValueError, match="multiple of n_heads"):
        clone(MAET_EST).set_params(embed_dim=15).fit(take(X, train), y[train])


def test_no_test_trial_seen():
    check_no_test_trial_seen(MAETClassifier, dict(TINY_MULTI, embed_dim=8, depth=1, n_heads=2,
                                                  max_epochs=2))
