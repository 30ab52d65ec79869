"""Tests of the protocols: cross-session, loso, reference (and their errors)."""

import numpy as np
import pandas as pd
import pytest
from test_evaluation import Spy, TrialCodedDataset

from mne_m2s import M2SClassifier
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.evaluation import CrossModalEvaluation, TrialHoldoutSplit
from mne_m2s.evaluation.cross_modal import NO_SELECTION
from mne_m2s.evaluation.reference import REFERENCE_GRID, REFERENCE_SELECTION
from mne_m2s.paradigms import EmotionParadigm


@pytest.fixture
def spy_calls():
    Spy.calls = []
    yield Spy.calls
    Spy.calls = []


def _subjects(codes):
    return {c // 10000 for c in set().union(*codes.values())}


def _sessions(codes):
    return {(c // 10000, (c // 100) % 100) for c in set().union(*codes.values())}


def test_loso_never_shows_the_held_out_subject(spy_calls):
    ds = TrialCodedDataset(n_subjects=3, n_sessions=2)
    results = CrossModalEvaluation(EmotionParadigm(), [ds], protocol="loso").process(
        {"M2S": Spy(), "supervised": Spy()}, pretrain={"supervised": False}
    )
    assert sorted(results["subject"].unique()) == [1, 2, 3]
    assert set(results["session"]) == {"all"} and set(results["protocol"]) == {"loso"}
    # calls come per unit in order: held-out subject 1, 2, 3 (M2S then supervised)
    held_out = iter([1] * 7 + [1] * 4 + [2] * 7 + [2] * 4 + [3] * 7 + [3] * 4)
    for kind, codes, extra, _ in spy_calls:
        s = next(held_out)
        if kind in ("pretrain", "fit"):
            assert _subjects(codes) == {1, 2, 3} - {s}  # every other subject, never s
            assert len(_sessions(codes)) == 4  # all their sessions
            if kind == "fit":
                assert all(g.split("/")[0] != str(s) for g in extra)  # groups: trials of others
        else:
            assert _subjects(codes) == {s}  # tested on the held-out subject only
    n = N = 6 * 3 * 2  # samples per subject: 6 trials x 3 samples x 2 sessions
    assert (results["n_test"] == N).all() and (results["n_train"] == 2 * n).all()


def test_cross_session(spy_calls):
    ds = TrialCodedDataset(n_subjects=1, n_sessions=3)
    results = CrossModalEvaluation(EmotionParadigm(), [ds], protocol="cross-session",
                                   tasks=["eye->eeg"]).process({"M2S": Spy()})
    assert list(results["session"]) == ["1", "2", "3"]
    fits = [c for c in spy_calls if c[0] == "fit"]
    preds = [c for c in spy_calls if c[0] == "predict"]
    for test_session, fit, pred in zip((1, 2, 3), fits, preds, strict=True):
        assert {s for _, s in _sessions(fit[1])} == {1, 2, 3} - {test_session}
        assert {s for _, s in _sessions(pred[1])} == {test_session}
    assert (results["n_test"] == 18).all() and (results["n_train"] == 36).all()


def test_protocol_errors(spy_calls):
    one_subject = TrialCodedDataset(n_subjects=1, n_sessions=2)
    with pytest.raises(ValueError, match="'loso'.*1 subject.*at least 2 subjects"):
        CrossModalEvaluation(EmotionParadigm(), [one_subject], protocol="loso").process(
            {"s": Spy()})
    one_session = TrialCodedDataset(n_subjects=2, n_sessions=1)
    with pytest.raises(ValueError, match="'cross-session'.*1 session.*protocol='within'"):
        CrossModalEvaluation(EmotionParadigm(), [one_session], protocol="cross-session").process(
            {"s": Spy()})
    with pytest.raises(ValueError, match="M2SClassifier methods.*Spy"):
        CrossModalEvaluation(EmotionParadigm(), [one_session], protocol="reference").process(
            {"s": Spy()})
    with pytest.raises(ValueError, match="either as protocol= or as cv="):
        CrossModalEvaluation(EmotionParadigm(), [one_session], protocol=TrialHoldoutSplit(3),
                             cv=TrialHoldoutSplit(3)).process({"s": Spy()})
    assert spy_calls == []


@pytest.fixture(scope="module")
def tiny_m2s():
    return dict(embedding_dim=8, n_layers=1, n_heads=1, head_dim=4, ffn_dim=16, proj_dim=8,
                pretrain_max_epochs=3, pretrain_batch_size=64, pretrain_lr=3e-3, max_epochs=4,
                batch_size=32, lr=3e-3, device="cpu")


def test_reference_rows_say_they_select_on_test(tiny_m2s):
    assert REFERENCE_GRID == {"lr": (1e-3, 1e-4, 1e-5), "weight_decay": (1e-6, 1e-4, 1e-2)}
    ds = SyntheticEmotion(n_subjects=1, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, difficulty="easy", random_state=0)
    grid = {"lr": (3e-3, 1e-4), "weight_decay": (1e-4,)}
    kwargs = dict(paradigm=EmotionParadigm(n_windows=5, step=3), datasets=[ds], random_state=0)
    pipes = {"M2S": M2SClassifier(**tiny_m2s), "supervised": M2SClassifier(**tiny_m2s)}
    ref = CrossModalEvaluation(**kwargs, protocol="reference", reference_grid=grid).process(
        pipes, pretrain={"supervised": False})
    within = CrossModalEvaluation(**kwargs).process(pipes, pretrain={"supervised": False})
    assert (ref["selection"] == REFERENCE_SELECTION).all()
    assert "TEST DATA" in REFERENCE_SELECTION and (ref["protocol"] == "reference").all()
    assert (within["selection"] == NO_SELECTION).all()
    pattern = r"lr=(0\.003|0\.0001), weight_decay=0\.0001, epoch=[1-4]$"
    assert ref["selected"].str.match(pattern).all()
    assert list(ref["task"]) == list(within["task"])
    # the best test accuracy over epochs and grid points can only beat the last epoch of the
    # grid point the honest protocol trains (lr 3e-3): selection on test is optimistic
    assert (ref["accuracy"].to_numpy() >= within["accuracy"].to_numpy() - 1e-12).all()


def test_reference_report_warns(tmp_path, tiny_m2s):
    from mne_m2s.evaluation.experiments import run_evaluation

    ds = SyntheticEmotion(n_subjects=2, level="features", modalities=("eeg", "eye"),
                          trial_duration=12.0, difficulty="easy", random_state=0)
    result = run_evaluation(ds, ["M2S", "supervised"], settings=tiny_m2s, protocol="reference",
                            paradigm=EmotionParadigm(n_windows=5, step=3), out=tmp_path,
                            reference_grid={"lr": (3e-3,), "weight_decay": (1e-4,)})
    report = (tmp_path / "report.md").read_text()
    assert "SELECTED ON TEST DATA" in report
    assert report.count("selected on TEST data (reference protocol)") >= 3  # every table
    csv = pd.read_csv(tmp_path / "results.csv")
    assert (csv["selection"] == REFERENCE_SELECTION).all()
    assert np.isfinite(result.statistics["mean_difference"]).all()
