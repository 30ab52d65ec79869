"""VigilanceNet (supervised multimodal)."""

import pytest
import torch
from baselines_helpers import (
    TINY_MULTI,
    check_multimodal_fit_predict,
    check_no_test_trial_seen,
    seed_iv_session,
    synthetic,
    take,
)
from sklearn.base import clone

from mne_m2s.baselines import VigilanceNetClassifier
from mne_m2s.baselines.vigilancenet import OuterProductEmbedding, VigilanceNetwork

VIGILANCE = VigilanceNetClassifier(rank=4, d_model=16, n_heads=2, ffn_dim=32, **TINY_MULTI)


def test_outer_product_embedding_is_second_order():
    emb = OuterProductEmbedding(3, 2, 5)
    x = torch.randn(4, 2, 3)
    # p(-x) = -p(x) + 2 b: with a zero bias the embedding is even in x (second order)
    torch.nn.init.zeros_(emb.reduce.bias)
    torch.testing.assert_close(emb(x), emb(-x))


def test_network_shapes():
    net = VigilanceNetwork({"eeg": 10, "eye": 4}, 3, rank=3, d_model=8, n_heads=2,
                           ffn_dim=16).eval()
    assert net(eeg=torch.randn(2, 3, 10), eye=torch.randn(2, 3, 4)).shape == (2, 3)
    assert isinstance(net.embed["eye"], OuterProductEmbedding)
    assert set(net.cross) == {"eeg<-eye", "eye<-eeg"}


def test_synthetic():
    X, y, _, train, test = synthetic()
    check_multimodal_fit_predict(VIGILANCE, X, y, train, test)


def test_seed_iv_within_session(tmp_path):
    X, y, _, train, test = seed_iv_session(tmp_path)
    check_multimodal_fit_predict(VIGILANCE, X, y, train, test)


def test_errors():
    X, y, _, train, _ = synthetic()
    with pytest.raises(ValueError, match="outer_product names modalities"):
        clone(VIGILANCE).set_params(outer_product=("eog",)).fit(take(X, train), y[train])


def test_no_test_trial_seen():
    check_no_test_trial_seen(VigilanceNetClassifier,
                             dict(TINY_MULTI, rank=2, d_model=8, n_heads=2, ffn_dim=16,
                                  max_epochs=2))
