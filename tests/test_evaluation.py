"""Tests of the cross-modal evaluation (schema, tasks, protocol, no test-trial leakage)."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import KFold

from mne_m2s import M2SClassifier
from mne_m2s.datasets import FeatureRun, SyntheticEmotion
from mne_m2s.datasets.base import BaseEmotionDataset
from mne_m2s.evaluation import (
    CrossModalEvaluation,
    TrialHoldoutSplit,
    TrialKFold,
    default_protocol,
    parse_task,
    plot_results,
    summarize,
)
from mne_m2s.evaluation.cross_modal import COLUMNS, NO_SELECTION, VALIDATION_SELECTION
from mne_m2s.paradigms import EmotionParadigm

N_TRIALS = 6
WINDOWS = 7  # windows per trial -> 3 samples of 5 windows per trial
EVENT_ID = {"negative": -1, "neutral": 0, "positive": 1}


def _code(subject, session, trial):
    return subject * 10000 + session * 100 + trial


class TrialCodedDataset(BaseEmotionDataset):
    """Feature-level dataset whose first feature of every window names its trial."""

    def __init__(self, n_subjects=2, n_sessions=2):
        super().__init__(
            code="TrialCoded",
            subject_list=range(1, n_subjects + 1),
            sessions_per_subject=n_sessions,
            event_id=EVENT_ID,
            modalities={"eeg": 1.0, "eye": 1.0},
            level="features",
            levels=("features",),
            doi="",
            licence_url="",
            folder_name="TrialCoded",
            trials_per_session=N_TRIALS,
            window=1.0,
        )

    def _check_layout(self):
        return None

    def _subject_files(self, subject):
        return []  # held in memory: no source files

    def _get_single_subject_data(self, subject):
        names = list(EVENT_ID)
        rng = np.random.default_rng(subject)
        out = {}
        for session in range(1, self.n_sessions + 1):
            runs = {}
            for trial in range(1, N_TRIALS + 1):
                eeg = rng.normal(size=(WINDOWS, 4, 5))
                eye = rng.normal(size=(WINDOWS, 3))
                eeg[:, 0, 0] = eye[:, 0] = _code(subject, session, trial)
                runs[str(trial)] = FeatureRun(
                    {"eeg": eeg, "eye": eye}, 1.0, names[(trial - 1) % 3]
                )
            out[str(session)] = runs
        return out


def _codes(X):
    """Trial codes carried by a feature dict, per modality."""
    out = {}
    for m, a in X.items():
        first = a[:, :, 0, 0] if a.ndim == 4 else a[:, :, 0]
        assert np.all(first == first[:, :1])  # samples never cross trials
        out[m] = set(np.unique(first).astype(int).tolist())
    return out


class Spy(ClassifierMixin, BaseEstimator):
    """Records every sample it receives; predicts the majority training class."""

    calls = []

    def __init__(self, pretrained=None, random_state=None):
        self.pretrained = pretrained
        self.random_state = random_state

    def pretrain(self, X, y=None):
        assert y is None
        Spy.calls.append(("pretrain", _codes(X), None, self.random_state))
        self.pretrained = {"modalities": sorted(X)}
        return self

    def fit(self, X, y, groups=None):
        (modality,) = X
        Spy.calls.append(("fit", _codes(X), set(groups), self.random_state))
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        self.modality_ = modality
        self.modalities_ = self.pretrained["modalities"] if self.pretrained else [modality]
        return self

    def predict(self, X):
        (modality,) = X
        assert modality in self.modalities_
        Spy.calls.append(("predict", _codes(X), modality, self.random_state))
        return np.full(len(X[modality]), self.majority_)


@pytest.fixture
def spy_calls():
    Spy.calls = []
    yield Spy.calls
    Spy.calls = []


def _unit(codes):
    units = {(c // 10000, (c // 100) % 100) for c in codes}
    assert len(units) == 1, units
    return units.pop()


def test_no_test_trial_reaches_pretraining_fitting_or_selection(spy_calls):
    ds = TrialCodedDataset()
    results = CrossModalEvaluation(
        EmotionParadigm(), [ds], protocol=TrialHoldoutSplit(4), random_state=3
    ).process({"M2S": Spy(), "supervised": Spy()}, pretrain={"supervised": False})
    train_trials, test_trials = {1, 2, 3, 4}, {5, 6}
    kinds = [c[0] for c in spy_calls]
    # per subject-session: M2S 1 pretrain, 2 fits, 4 predictions; supervised 2 fits, 2 predictions
    assert kinds.count("pretrain") == 4
    assert kinds.count("fit") == 4 * 4
    assert kinds.count("predict") == 4 * 6
    for kind, codes, extra, seed in spy_calls:
        assert seed == 3  # random_state given to clones whose own is None
        all_codes = set().union(*codes.values())
        _unit(all_codes)  # one subject-session at a time
        trials = {c % 100 for c in all_codes}
        if kind == "pretrain":
            assert sorted(codes) == ["eeg", "eye"]
            assert trials == train_trials
            assert codes["eeg"] == codes["eye"]  # paired
        elif kind == "fit":
            assert len(codes) == 1
            assert trials == train_trials
            assert extra == {str(t) for t in train_trials}  # groups: training trials only
        else:
            assert trials == test_trials
    assert set(results["task"]) == {"eeg->eeg", "eye->eye", "eeg->eye", "eye->eeg"}
    assert (results["n_train"] == 4 * 3).all() and (results["n_test"] == 2 * 3).all()


def test_schema_sorting_and_tasks(spy_calls):
    ds = TrialCodedDataset()
    results = CrossModalEvaluation(EmotionParadigm(), [ds], protocol=TrialHoldoutSplit(4)).process(
        {"b": Spy(), "a": Spy()}, pretrain={"a": False}
    )
    assert list(results.columns) == list(COLUMNS)
    assert (results["method"] == results["pipeline"]).all()
    assert len(results) == 2 * 2 * (4 + 2)
    # sorted: dataset, subject, session, pipeline (order given), task (single-modal first)
    first = results[(results["subject"] == 1) & (results["session"] == "1")]
    assert list(first["pipeline"]) == ["b"] * 4 + ["a"] * 2
    assert list(first["task"]) == ["eeg->eeg", "eye->eye", "eeg->eye", "eye->eeg",
                                   "eeg->eeg", "eye->eye"]
    assert list(results["subject"].unique()) == [1, 2]
    assert list(results["session"].unique()) == ["1", "2"]
    sup = results[results["pipeline"] == "a"]
    assert (sup["train_modality"] == sup["test_modality"]).all()
    assert (results["pretrain_time"][results["pipeline"] == "a"] == 0).all()
    for col in ("balanced_accuracy", "f1", "accuracy"):
        assert results[col].between(0, 1).all()
    # training trials 1-4 are mostly "negative", test trials 5-6 are "neutral" and "positive":
    # the majority-class spy recalls nothing (and the unseen-class warning is handled)
    np.testing.assert_allclose(results["balanced_accuracy"], 0.0)
    np.testing.assert_allclose(results["kappa"], 0.0)


def test_tasks_subset_and_folds(spy_calls):
    ds = TrialCodedDataset(n_subjects=1, n_sessions=1)
    results = CrossModalEvaluation(
        EmotionParadigm(), [ds], protocol={"TrialCoded": TrialKFold(3)}, tasks=["eye->eeg"]
    ).process({"M2S": Spy()})
    assert list(results["task"]) == ["eye->eeg"] * 3  # one row per fold
    assert list(results["split"]) == [0, 1, 2]
    assert results["n_test"].sum() == N_TRIALS * 3  # every sample tested once over the folds
    assert (results["n_train"] == 4 * 3).all()
    fits = [c for c in spy_calls if c[0] == "fit"]
    assert [set(c[1]) for c in fits] == [{"eye"}] * 3
    tested = set()
    for (_, fit_codes, _, _), (_, pred_codes, _, _) in zip(
        fits, [c for c in spy_calls if c[0] == "predict"], strict=True
    ):
        assert not fit_codes["eye"] & pred_codes["eeg"]
        tested |= pred_codes["eeg"]
    assert len(tested) == N_TRIALS


def test_errors(spy_calls):
    ds = TrialCodedDataset(n_subjects=1, n_sessions=1)
    ev = CrossModalEvaluation(EmotionParadigm(), [ds], protocol=TrialHoldoutSplit(4))
    with pytest.raises(ValueError, match="unknown pipeline"):
        ev.process({"M2S": Spy()}, pretrain={"M2s": True})
    with pytest.raises(ValueError, match="has no pretrain method"):
        ev.process({"lr": _NoPretrain()}, pretrain=True)
    with pytest.raises(TypeError, match="pretrain must be"):
        ev.process({"M2S": Spy()}, pretrain="yes")
    with pytest.raises(ValueError, match="pipelines is empty"):
        ev.process({})
    with pytest.raises(TypeError, match="scikit-learn estimator"):
        ev.process({"x": object()})
    with pytest.raises(ValueError, match="Did you mean 'eye'"):
        CrossModalEvaluation(EmotionParadigm(), [ds], tasks=["eeg->eyes"]).process({"s": Spy()})
    with pytest.raises(ValueError, match="train_modality->test_modality"):
        parse_task("eeg-eye")
    with pytest.raises(ValueError, match="no \\['pps'\\] data"):
        CrossModalEvaluation(EmotionParadigm(), [ds], protocol=TrialHoldoutSplit(4),
                             modalities=("eeg", "pps")).process({"s": Spy()})
    with pytest.raises(ValueError, match="Unknown protocol 'los'.*Did you mean 'loso'"):
        CrossModalEvaluation(EmotionParadigm(), [ds], protocol="los").process({"s": Spy()})
    with pytest.raises(TypeError, match="cross-validator"):
        CrossModalEvaluation(EmotionParadigm(), [ds], cv="SEED").process({"s": Spy()})
    with (pytest.raises(ValueError, match="both training and test"),
          pytest.warns(UserWarning, match="groups parameter is ignored")):
        # a window-level split would leak trials: refused
        CrossModalEvaluation(EmotionParadigm(), [ds], protocol=KFold(4)).process({"s": Spy()})
    with pytest.raises(ValueError, match="No published protocol"):
        CrossModalEvaluation(EmotionParadigm(), [ds]).process({"s": Spy()})
    assert isinstance(default_protocol(SyntheticEmotion(n_subjects=1)), TrialHoldoutSplit)
    assert default_protocol(SyntheticEmotion(n_subjects=1)).n_train_trials == 9


class _NoPretrain(Spy):
    pretrain = None


def test_external_pretraining_is_flagged(spy_calls, caplog):
    import logging

    ds = TrialCodedDataset(n_subjects=1, n_sessions=1)
    est = Spy(pretrained={"modalities": ["eeg", "eye"]})
    logger = logging.getLogger("mne_m2s")
    logger.addHandler(caplog.handler)
    try:
        results = CrossModalEvaluation(
            EmotionParadigm(), [ds], protocol=TrialHoldoutSplit(4)
        ).process({"given": est}, pretrain=False)
    finally:
        logger.removeHandler(caplog.handler)
    assert "pre-trained outside this evaluation" in caplog.text
    assert len(results) == 4  # its encoders cover both modalities
    assert "pretrain" not in [c[0] for c in spy_calls]


@pytest.fixture(scope="module")
def m2s_results():
    ds = SyntheticEmotion(n_subjects=2, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, difficulty="easy", random_state=0)
    settings = dict(embedding_dim=16, n_layers=1, n_heads=1, head_dim=8, ffn_dim=32, proj_dim=8,
                    pretrain_max_epochs=30, pretrain_batch_size=64, pretrain_lr=3e-3,
                    max_epochs=20, batch_size=32, lr=3e-3, device="cpu")
    clip = dict(cpc_weight=0.0, recon_weight=0.0, club_weight=0.0)
    ev = CrossModalEvaluation(EmotionParadigm(n_windows=5, step=2), [ds], random_state=0)
    return ev.process(
        {"M2S": M2SClassifier(**settings), "clip": M2SClassifier(**settings, **clip),
         "supervised": M2SClassifier(**settings, early_stopping=True, n_iter_no_change=5)},
        pretrain={"supervised": False},
    )


def test_m2s_end_to_end(m2s_results):
    r = m2s_results
    assert list(r.columns) == list(COLUMNS)
    counts = r.groupby("method", sort=False).size()
    assert counts.to_dict() == {"M2S": 8, "clip": 8, "supervised": 4}
    assert (r["n_train"] == 9 * 4).all() and (r["n_test"] == 6 * 4).all()
    assert r[r["method"] != "supervised"]["pretrain_time"].gt(0).all()
    assert r["time"].gt(0).all()
    assert set(r["protocol"]) == {"within"} and set(r["split"]) == {0}
    assert (r.loc[r["method"] != "supervised", "selection"] == NO_SELECTION).all()
    assert (r.loc[r["method"] == "supervised", "selection"] == VALIDATION_SELECTION).all()
    # behaviour on an easy configuration: the classifier fine-tuned on one modality works
    # through the other modality's encoder (chance 1/3; 24 test samples per subject)
    m2s = r[r["method"] == "M2S"].set_index(["subject", "task"])["balanced_accuracy"]
    cross = m2s[m2s.index.get_level_values("task").isin(["eye->eeg", "eeg->eye"])]
    assert cross.mean() > 0.5
    assert m2s.xs("eye->eye", level="task").mean() > 0.5


def test_summarize_and_plot(m2s_results):
    summary = summarize(m2s_results)
    assert list(summary.columns) == ["balanced_accuracy_mean", "balanced_accuracy_std",
                                     "kappa_mean", "kappa_std", "n_subjects"]
    assert summary.index.names == ["dataset", "method", "task"]
    assert (summary["n_subjects"] == 2).all()
    row = m2s_results[(m2s_results["method"] == "M2S") & (m2s_results["task"] == "eye->eeg")]
    assert summary.loc[("SyntheticEmotion", "M2S", "eye->eeg"), "balanced_accuracy_mean"] == (
        pytest.approx(row["balanced_accuracy"].mean())
    )
    fig = plot_results(m2s_results, chance=1 / 3, title="test")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "eeg->eeg", "eye->eye", "eeg->eye", "eye->eeg"
    ]
    assert len(ax.patches) == 3 * 4  # methods x tasks (missing supervised bars are NaN)
    with pytest.raises(ValueError, match="empty"):
        summarize(pd.DataFrame(columns=list(COLUMNS)))


class EpochsSpy(ClassifierMixin, BaseEstimator):
    """Records the channel types and trials of the Epochs it receives."""

    calls = []

    def __init__(self, pretrained=None):
        self.pretrained = pretrained

    @staticmethod
    def _record(kind, epochs):
        EpochsSpy.calls.append(
            (kind, frozenset(epochs.get_channel_types()), set(epochs.metadata["run"]))
        )

    def pretrain(self, X, y=None):
        self._record("pretrain", X)
        self.pretrained = True
        return self

    def fit(self, X, y, groups=None):
        self._record("fit", X)
        self.classes_ = np.unique(y)
        self.modalities_ = ["eeg", "eye"] if self.pretrained else None
        return self

    def predict(self, X):
        self._record("predict", X)
        return np.full(len(X), self.classes_[0])


def test_epochs_input_split_by_modality_and_trial():
    ds = SyntheticEmotion(n_subjects=1, n_trials=6, trial_duration=6.0, level="raw",
                          modalities=("eeg", "eye"), sfreq=100.0)
    EpochsSpy.calls = []
    results = CrossModalEvaluation(
        EmotionParadigm(n_windows=2, step=2), [ds], protocol=TrialHoldoutSplit(3)
    ).process({"spy": EpochsSpy()})
    calls, EpochsSpy.calls = EpochsSpy.calls, []
    assert list(results["task"]) == ["eeg->eeg", "eye->eye", "eeg->eye", "eye->eeg"]
    eeg, eye = frozenset({"eeg"}), frozenset({"eyegaze", "pupil"})
    kinds = [(kind, types) for kind, types, _ in calls]
    assert kinds == [("pretrain", eeg | eye), ("fit", eeg), ("predict", eeg), ("predict", eye),
                     ("fit", eye), ("predict", eye), ("predict", eeg)]
    for kind, _, runs in calls:
        assert runs == ({"1", "2", "3"} if kind != "predict" else {"4", "5", "6"})


def test_parallel_subjects_match_serial(spy_calls):
    ds = TrialCodedDataset()
    kwargs = dict(paradigm=EmotionParadigm(), datasets=[ds], protocol=TrialHoldoutSplit(4))
    serial = CrossModalEvaluation(**kwargs).process({"M2S": Spy()})
    parallel = CrossModalEvaluation(**kwargs, n_jobs=2).process({"M2S": Spy()})
    cols = [c for c in COLUMNS if c not in ("time", "pretrain_time")]
    pd.testing.assert_frame_equal(serial[cols], parallel[cols])
