"""Shared checks of the comparison systems (tests/test_baselines_*.py).

Data: SyntheticEmotion features (EEG 62 x 5 DE + eye) through EmotionParadigm,
SEED-IV feature fixtures (tests/dataset_fixtures.py) under the paper's
within-session 16:8 protocol, and a trial-coded dataset whose first feature of
every window names its trial (the spy: no test trial may reach pretrain/fit).
"""

import functools

import numpy as np
from sklearn.base import clone
from sklearn.metrics import balanced_accuracy_score

from dataset_fixtures import write_seed_iv
from mne_m2s.datasets import FeatureRun, SyntheticEmotion
from mne_m2s.datasets.base import BaseEmotionDataset
from mne_m2s.evaluation import CrossModalEvaluation, TrialHoldoutSplit
from mne_m2s.evaluation.splitters import get_protocol
from mne_m2s.paradigms import EmotionParadigm

#: Tiny M2S encoder / schedule for the cross-modal systems.
TINY_CROSS = dict(embedding_dim=16, n_layers=1, n_heads=2, head_dim=8, ffn_dim=32,
                  pretrain_max_epochs=8, pretrain_batch_size=64, pretrain_lr=3e-3,
                  max_epochs=15, batch_size=64, lr=3e-3, device="cpu", random_state=0)
#: Tiny schedule for the supervised multimodal systems.
TINY_MULTI = dict(max_epochs=15, batch_size=64, lr=3e-3, device="cpu", random_state=0)


@functools.lru_cache(maxsize=4)
def synthetic(difficulty="medium", n_trials=6, duration=12.0, n_windows=3, step=2, seed=0):
    """One subject-session of SyntheticEmotion features: ``X, y, meta, train, test``.

    The first 2/3 of the trials train, the rest test (SEED's 9:6 split).
    """
    ds = SyntheticEmotion(n_subjects=1, level="features", modalities=("eeg", "eye"),
                          n_trials=n_trials, trial_duration=duration, difficulty=difficulty,
                          random_state=seed)
    X, y, meta = EmotionParadigm(n_windows=n_windows, step=step).get_data(ds, subjects=[1])
    (train, test), = TrialHoldoutSplit(n_train_trials=2 * n_trials // 3).split(None, y,
                                                                                meta=meta)
    return X, np.asarray(y), meta, train, test


def take(X, idx, modalities=None):
    """Samples ``idx`` of the chosen modalities of a feature dict."""
    return {m: X[m][idx] for m in (modalities or X)}


def seed_iv_session(tmp_path):
    """SEED-IV feature fixtures, subject 1 session 1, split 16:8 by trial."""
    from mne_m2s.datasets import SEEDIV

    write_seed_iv(tmp_path, subjects=(1,), levels=("features",))
    ds = SEEDIV(path=tmp_path, level="features")
    X, y, meta = EmotionParadigm(n_windows=1, step=1).get_data(ds, subjects=[1])
    session = (meta["session"] == "1").to_numpy()
    X = {m: a[session] for m, a in X.items()}
    y, meta = np.asarray(y)[session], meta[session].reset_index(drop=True)
    (train, test), = get_protocol("SEED-IV").split(X["eye"], meta=meta)
    return X, y, meta, train, test


# ----------------------------------------------------------------- cross-modal checks
def check_cross_modal_fit_predict(est, X, y, train, test):
    """pretrain on training trials (no labels), fit on eye, predict on EEG and eye."""
    est = clone(est)
    assert est.pretrain(take(X, train)) is est
    assert est.pretrained is not None and set(est.pretrained.modalities) == set(X)
    assert est.fit(take(X, train, ["eye"]), y[train]) is est
    assert est.modality_ == "eye" and set(est.modalities_) == set(X)
    np.testing.assert_array_equal(est.classes_, np.unique(y[train]))
    for m in X:
        pred = est.predict(take(X, test, [m]))
        assert pred.shape == (len(test),) and set(pred) <= set(est.classes_)
        proba = est.predict_proba(take(X, test, [m]))
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # clone keeps (a copy of) the pre-trained maps and refits only the head
    again = clone(est)
    assert not hasattr(again, "classes_")
    assert again.pretrained.modalities == est.pretrained.modalities
    np.testing.assert_allclose(again.transform(take(X, test, ["eeg"])),
                               est.transform(take(X, test, ["eeg"])), rtol=1e-5, atol=1e-6)
    again.fit(take(X, train, ["eeg"]), y[train])
    assert again.modality_ == "eeg"
    return est


def cross_modal_score(est, X, y, train, test, fit_mod, test_mod):
    """Balanced accuracy of ``fit_mod -> test_mod`` after pre-training on the training trials."""
    est = clone(est).pretrain(take(X, train))
    est.fit(take(X, train, [fit_mod]), y[train])
    return balanced_accuracy_score(y[test], est.predict(take(X, test, [test_mod])))


def check_cross_modal_errors(est, X, y, train):
    import pytest

    est = clone(est).set_params(pretrain_max_epochs=1, max_epochs=1)  # errors only: be quick

    with pytest.raises(ValueError, match="pretrain"):
        clone(est).fit(take(X, train, ["eye"]), y[train])
    with pytest.raises(ValueError, match="at least 2 modalities"):
        clone(est).pretrain(take(X, train, ["eye"]))
    fitted = clone(est).pretrain(take(X, train))
    with pytest.raises(ValueError, match="single modality"):
        fitted.fit(take(X, train), y[train])
    with pytest.raises(ValueError, match="No pre-trained map"):
        fitted.fit({"pps": X["eye"][train]}, y[train])


def check_reproducible(est, X, y, train, test, multimodal):
    """Same random_state, same predictions; the global RNG state is untouched."""
    import torch

    state = torch.random.get_rng_state().clone()
    np_state = np.random.get_state()[1].copy()  # noqa: NPY002 (checked, never drawn)
    preds = []
    if not multimodal:  # short schedules are enough to compare two runs
        est = clone(est).set_params(pretrain_max_epochs=2, max_epochs=3)
    for _ in range(2):
        e = clone(est)
        if multimodal:
            e.fit(take(X, train), y[train])
            preds.append(e.predict_proba(take(X, test)) if hasattr(e, "module_")
                         else e.decision_function(take(X, test)))
        else:
            e.pretrain(take(X, train)).fit(take(X, train, ["eye"]), y[train])
            preds.append(e.predict_proba(take(X, test, ["eeg"])))
    np.testing.assert_allclose(preds[0], preds[1], rtol=1e-5, atol=1e-6)
    assert torch.equal(torch.random.get_rng_state(), state)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # noqa: NPY002


# ------------------------------------------------------------- multimodal checks
def check_multimodal_fit_predict(est, X, y, train, test):
    """fit and predict on every modality; labels returned as labels."""
    import pytest

    est = clone(est)
    assert est.fit(take(X, train), y[train]) is est
    np.testing.assert_array_equal(est.classes_, np.unique(y[train]))
    assert set(est.modalities_) == set(X)
    pred = est.predict(take(X, test))
    assert pred.shape == (len(test),) and set(pred) <= set(est.classes_)
    with pytest.raises(ValueError, match="at least 2 modalities|exactly"):
        clone(est).fit(take(X, train, ["eye"]), y[train])
    with pytest.raises(ValueError, match="needs exactly those"):
        est.predict(take(X, test, ["eeg"]))
    return est


# -------------------------------------------------------------------------- spy
N_TRIALS, WINDOWS = 6, 5
EVENT_ID = {"negative": -1, "neutral": 0, "positive": 1}


class TrialCoded(BaseEmotionDataset):
    """One subject, one session; feature 0 of every window of every modality names the trial."""

    def __init__(self):
        super().__init__(
            code="TrialCodedBaselines", subject_list=[1], sessions_per_subject=1,
            event_id=EVENT_ID, modalities={"eeg": 1.0, "eye": 1.0}, level="features",
            levels=("features",), doi="", licence_url="", folder_name="TrialCodedBaselines",
            trials_per_session=N_TRIALS, window=1.0,
        )

    def _check_layout(self):
        return None

    def _subject_files(self, subject):
        return []  # held in memory: no source files

    def _get_single_subject_data(self, subject):
        rng = np.random.default_rng(0)
        names = list(EVENT_ID)
        runs = {}
        for trial in range(1, N_TRIALS + 1):
            c = (trial - 1) % 3
            eeg = rng.normal(size=(WINDOWS, 4, 5)) + c
            eye = rng.normal(size=(WINDOWS, 3)) + c
            eeg[:, 0, 0] = eye[:, 0] = 100 * trial
            runs[str(trial)] = FeatureRun({"eeg": eeg, "eye": eye}, 1.0, names[c])
        return {"1": runs}


def _trials(X):
    out = set()
    for a in X.values():
        first = a[:, :, 0, 0] if a.ndim == 4 else a[:, :, 0]
        out |= set((np.unique(first) // 100).astype(int).tolist())
    return out


def spy_class(cls, log):
    """Subclass of ``cls`` that logs the trials reaching pretrain / fit / predict."""

    class Spy(cls):
        def fit(self, X, y=None, groups=None):
            log.append(("fit", _trials(X)))
            return super().fit(X, y, groups=groups)

        def predict(self, X):
            log.append(("predict", _trials(X)))
            return super().predict(X)

    if hasattr(cls, "pretrain"):
        def pretrain(self, X, y=None):
            assert y is None
            log.append(("pretrain", _trials(X)))
            return cls.pretrain(self, X, y)

        Spy.pretrain = pretrain
    Spy.__name__ = Spy.__qualname__ = cls.__name__
    return Spy


def check_no_test_trial_seen(cls, params, tasks=None):
    """Run CrossModalEvaluation with a spy; pretrain and fit see training trials only."""
    log = []
    est = spy_class(cls, log)(**params)
    evaluation = CrossModalEvaluation(EmotionParadigm(n_windows=2, step=1), [TrialCoded()],
                                      protocol=TrialHoldoutSplit(n_train_trials=4),
                                      tasks=tasks)
    kind = "cross-modal" if hasattr(cls, "pretrain") else "multimodal"
    results = evaluation.process({"spy": est}, kinds={"spy": kind})
    train, test = {1, 2, 3, 4}, {5, 6}
    kinds = [k for k, _ in log]
    assert "fit" in kinds and "predict" in kinds
    assert ("pretrain" in kinds) == (kind == "cross-modal")
    for kind, trials in log:
        if kind in ("pretrain", "fit"):
            assert trials <= train, (kind, trials)
        else:
            assert trials <= test, (kind, trials)
    return results
