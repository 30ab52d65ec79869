"""Tests of the scikit-learn estimator M2SClassifier."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import SMALL, make_latent_problem
from mne_m2s import M2SClassifier
from mne_m2s.classifier import EXPECTED_FAILED_CHECKS, PretrainedM2S

CHECK_SETTINGS = dict(embedding_dim=16, n_layers=1, ffn_dim=32, head_dim=8, proj_dim=8,
                      max_epochs=40, lr=1e-2, batch_size=64, device="cpu", random_state=0)


@parametrize_with_checks(
    [M2SClassifier(**CHECK_SETTINGS)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check, monkeypatch):
    # sklearn's array-API check only runs with this variable set (read at call time);
    # it checks that NumPy inputs give the same results with array-API dispatch on.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


def _split(latent_problem):
    xa, xb, y, trial = latent_problem
    return xa, xb, y, trial, trial < 18, trial >= 18


def test_cross_modal_above_chance(pretrained_clf, latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = clone(pretrained_clf).fit({"eye": xb[train]}, y[train])
    assert clf.modality_ == "eye"
    assert sorted(clf.modalities_) == ["eeg", "eye"]
    single = clf.score({"eye": xb[test]}, y[test])
    cross = clf.score({"eeg": xa[test]}, y[test])
    assert cross >= 1 / 3 + 0.2
    assert single >= cross - 0.05
    # plain arrays are recognised by their feature count
    assert clf.score(xa[test], y[test]) == cross


def test_clone_keeps_pretrained_encoders(pretrained_clf, latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    c = clone(pretrained_clf)
    assert isinstance(c.pretrained, PretrainedM2S)
    assert not hasattr(c, "classes_")
    c.fit(xb[train], y[train])
    assert c.score(xa[test], y[test]) >= 1 / 3 + 0.2


def test_frozen_cached_finetuning_leaves_encoders_untouched(pretrained_clf, latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = clone(pretrained_clf).fit({"eye": xb[train]}, y[train])
    ref = pretrained_clf.pretrained.network.encoders["eye"].state_dict()
    for k, v in clf.encoders_["eye"].encoder.state_dict().items():
        torch.testing.assert_close(v.cpu(), ref[k])
    # transform gives the shared-space features the head consumes
    f = clf.transform({"eeg": xa[test]})
    assert f.shape == (test.sum(), SMALL["proj_dim"]) and f.dtype == np.float32


def test_finetuning_variants(pretrained_clf, latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    base = clone(pretrained_clf).set_params(max_epochs=5)
    cached = clone(base).fit(xb[train], y[train])
    dropout = clone(base).set_params(encoder_dropout=True).fit(xb[train], y[train])
    assert not np.allclose(cached.predict_proba(xb[test]), dropout.predict_proba(xb[test]))
    full = clone(base).set_params(freeze_encoder=False).fit(xb[train], y[train])
    ref = pretrained_clf.pretrained.network.encoders["eye"].state_dict()
    moved = full.encoders_["eye"].encoder.state_dict()
    assert any(not torch.equal(moved[k].cpu(), ref[k]) for k in ref)
    # the other modality's encoder is still the pre-trained one
    ref_eeg = pretrained_clf.pretrained.network.encoders["eeg"].state_dict()
    for k, v in full.encoders_["eeg"].encoder.state_dict().items():
        torch.testing.assert_close(v.cpu(), ref_eeg[k])


def test_pretrain_history_records_named_losses(pretrained_clf):
    hist = pretrained_clf.pretrained.history
    assert len(hist) == SMALL["pretrain_max_epochs"]
    for key in ("train_loss", "contrastive", "cpc", "recon", "club", "mi_loglik"):
        values = hist[:, key]
        assert np.all(np.isfinite(values)), key
    assert hist[-1, "contrastive"] < hist[0, "contrastive"]
    assert hist[-1, "recon"] < hist[0, "recon"]


def test_supervised_baseline_without_pretrain(latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = M2SClassifier(**SMALL).fit({"eye": xb[train]}, y[train])
    assert clf.pretrained is None and clf.modalities_ == ["eye"]
    assert clf.score({"eye": xb[test]}, y[test]) > 0.6
    with pytest.raises(ValueError, match="No encoder for modality 'eeg'.*eye"):
        clf.predict({"eeg": xa[test]})


def test_same_seed_same_result_and_global_rng_untouched(latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    settings = dict(SMALL, pretrain_max_epochs=2, max_epochs=3)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()  # noqa: NPY002
    a = M2SClassifier(**settings).pretrain({"eeg": xa[train], "eye": xb[train]})
    b = M2SClassifier(**settings).pretrain({"eeg": xa[train], "eye": xb[train]})
    c = M2SClassifier(**dict(settings, random_state=1)).pretrain(
        {"eeg": xa[train], "eye": xb[train]})
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.random.get_state()[1].tolist() == np_state[1].tolist()  # noqa: NPY002
    sa, sb, sc = (m.pretrained.network.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa)
    pa = a.fit(xb[train], y[train]).predict_proba(xa[test])
    pb = b.fit(xb[train], y[train]).predict_proba(xa[test])
    np.testing.assert_array_equal(pa, pb)


def test_labels_are_labels(latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    names = np.array(["negative", "neutral", "positive"])[y]
    clf = M2SClassifier(**dict(SMALL, max_epochs=5)).fit(xb[train], names[train])
    assert list(clf.classes_) == ["negative", "neutral", "positive"]
    assert set(clf.predict(xb[test])) <= set(clf.classes_)
    seed_labels = y - 1  # SEED's -1 / 0 / 1
    clf.fit(xb[train], seed_labels[train])
    assert list(clf.classes_) == [-1, 0, 1]
    assert clf.predict_proba(xb[test]).shape == (test.sum(), 3)


def test_pickle_and_save_load_roundtrip(pretrained_clf, latent_problem, tmp_path):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = clone(pretrained_clf).set_params(max_epochs=5).fit(xb[train], y[train])
    expected = clf.predict_proba(xa[test])
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(xa[test]), expected)
    path = tmp_path / "model.pkl"
    clf.save(path)
    assert not (tmp_path / "model.pkl.tmp").exists()
    loaded = M2SClassifier.load(path, device="cpu")
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.predict_proba(xa[test]), expected)
    assert isinstance(loaded.pretrained, PretrainedM2S)
    not_clf = tmp_path / "other.m2s"
    clf.pretrained.save(not_clf)  # a model file of another kind
    with pytest.raises(TypeError, match="not a M2SClassifier"):
        M2SClassifier.load(not_clf)
    pickled = tmp_path / "other.pkl"
    pickled.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ValueError, match="pickle"):  # pickles are refused, never loaded
        M2SClassifier.load(pickled)


def test_device_selection(latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = M2SClassifier(**dict(SMALL, device="auto", max_epochs=2)).fit(xb[train], y[train])
    if torch.cuda.is_available():
        assert clf.device_.type == "cuda"
    else:
        assert clf.device_ == torch.device("cpu")
        with pytest.raises(ValueError, match="CUDA is not available"):
            M2SClassifier(**dict(SMALL, device="cuda:1")).fit(xb[train], y[train])
    with pytest.raises(ValueError, match="device must be"):
        M2SClassifier(**dict(SMALL, device="tpu")).fit(xb[train], y[train])


def test_early_stopping_splits_by_group(latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = M2SClassifier(**dict(SMALL, early_stopping=True, n_iter_no_change=3, max_epochs=30))
    with pytest.raises(ValueError, match="needs groups"):
        clf.fit(xb[train], y[train])
    tr_idx, va_idx = clf._validation_split(y[train], trial[train], seed=0)
    assert not set(trial[train][tr_idx]) & set(trial[train][va_idx])
    assert set(y[train][va_idx]) == {0, 1, 2}  # stratified over trials
    clf.fit(xb[train], y[train], groups=trial[train])
    assert "valid_loss" in clf.history_[-1]
    assert len(clf.history_) <= 30


def test_sklearn_tools(pretrained_clf, latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    clf = clone(pretrained_clf).set_params(max_epochs=10)
    cv = StratifiedGroupKFold(3)
    scores = cross_val_score(clf, xb[train], y[train], groups=trial[train], cv=cv)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    grid = GridSearchCV(clf, {"lr": [1e-3, 1e-2]}, cv=StratifiedGroupKFold(2))
    grid.fit(xb[train], y[train], groups=trial[train])
    assert grid.best_params_["lr"] in (1e-3, 1e-2)
    assert grid.score(xa[test], y[test]) > 1 / 3
    flat = make_pipeline(
        FunctionTransformer(lambda a: a.reshape(len(a), 5, -1)),
        clone(pretrained_clf).set_params(max_epochs=10),
    )
    flat.fit(xb[train].reshape(train.sum(), -1), y[train])
    assert flat.score(xb[test].reshape(test.sum(), -1), y[test]) > 0.5


@pytest.mark.parametrize(
    "make_x, err, match",
    [
        (lambda xa, xb: {"eeg": xa}, ValueError, "at least 2 modalities"),
        (lambda xa, xb: {"eeg": xa, "eye": xb[:-1]}, ValueError, "same number of samples"),
        (lambda xa, xb: {"eeg": xa, "eye": np.where(xb > 2, np.nan, xb)}, ValueError, "NaN"),
        (lambda xa, xb: {"eeg": xa, "eye": np.where(xb > 2, np.inf, xb)}, ValueError, "infinity"),
        (lambda xa, xb: {"eeg": xa[..., 0, 0], "eye": xb[:, 0, 0]}, ValueError, "2D array"),
        (lambda xa, xb: {"eeg": xa[:, :, :, :, None], "eye": xb}, ValueError, "shape"),
        (lambda xa, xb: {1: xa, "eye": xb}, TypeError, "modality names"),
        (lambda xa, xb: "eeg.fif", TypeError, "X must be mne.Epochs"),
    ],
)
def test_pretrain_errors(latent_problem, make_x, err, match):
    xa, xb, *_ = latent_problem
    with pytest.raises(err, match=match):
        M2SClassifier(**SMALL).pretrain(make_x(xa[:20], xb[:20]))


def test_fit_predict_errors(pretrained_clf, latent_problem):
    xa, xb, y, trial, train, test = _split(latent_problem)
    with pytest.raises(NotFittedError):
        M2SClassifier().predict(xb)
    with pytest.raises(ValueError, match="single modality"):
        clone(pretrained_clf).fit({"eeg": xa[train], "eye": xb[train]}, y[train])
    with pytest.raises(ValueError, match="No pre-trained encoder for modality 'ecg'"):
        clone(pretrained_clf).fit({"ecg": xb[train]}, y[train])
    with pytest.raises(ValueError, match="requires y"):
        clone(pretrained_clf).fit(xb[train])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        clone(pretrained_clf).fit(xb[train], y[train][:-1])
    with pytest.raises(ValueError, match="expecting 12 features"):
        clone(pretrained_clf).fit({"eye": xb[train, :, :5]}, y[train])
    clf = clone(pretrained_clf).set_params(max_epochs=2).fit(xb[train], y[train])
    with pytest.raises(ValueError, match="matches no available modality.*eeg \\(70\\).*eye"):
        clf.predict(xb[test, :, :5])
    with pytest.raises(ValueError, match="Invalid value for the 'attention' parameter.*'sts'"):
        M2SClassifier(attention="stss").fit(xb[train], y[train])


def test_three_modalities_and_short_windows():
    xa, xb, y, trial = make_latent_problem(seed=1, n_trials=12, per_trial=10, n_windows=3)
    xc = xb[..., :4] + np.random.default_rng(0).normal(size=xb[..., :4].shape).astype(np.float32)
    # cpc_steps=1: with 3 windows the paper's cut range [1, T - N - 1] needs N = 1
    clf = M2SClassifier(**dict(SMALL, pretrain_max_epochs=3, max_epochs=3, cpc_steps=1))
    clf.pretrain({"eeg": xa, "eye": xb, "pps": xc})
    assert clf.pretrained.modalities == ["eeg", "eye", "pps"]
    clf.fit({"pps": xc}, y)
    assert clf.predict({"eeg": xa}).shape == y.shape
