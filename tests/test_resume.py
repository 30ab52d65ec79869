"""Resumable experiments: atomic units, skip finished ones, keys with hashes, SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from test_evaluation import Spy, TrialCodedDataset

from mne_m2s.evaluation import CrossModalEvaluation, OutputFolderError, TrialHoldoutSplit
from mne_m2s.evaluation.cross_modal import TIME_COLUMNS
from mne_m2s.evaluation.units import ResultStore, hash_data
from mne_m2s.paradigms import EmotionParadigm


@pytest.fixture
def spy_calls():
    Spy.calls = []
    yield Spy.calls
    Spy.calls = []


def _evaluation(ds=None, **kwargs):
    ds = ds if ds is not None else TrialCodedDataset(n_subjects=2, n_sessions=1)
    return CrossModalEvaluation(EmotionParadigm(), [ds], cv=TrialHoldoutSplit(4), **kwargs)


def test_rerun_skips_finished_units(tmp_path, spy_calls):
    first = _evaluation().process({"M2S": Spy(), "b": Spy()}, pretrain={"b": False},
                                  out=tmp_path)
    units = sorted((tmp_path / "units").glob("*.json"))
    assert len(units) == 2 * 2  # subjects x methods
    assert json.loads((tmp_path / "experiment.json").read_text())["settings"]["protocol"] == (
        "within")
    n_calls = len(spy_calls)
    again = _evaluation().process({"M2S": Spy(), "b": Spy()}, pretrain={"b": False},
                                  out=tmp_path)
    assert len(spy_calls) == n_calls  # nothing fitted again
    pd.testing.assert_frame_equal(again, first)  # timings included: loaded from the units
    # a lost unit is recomputed, the others are reused
    units[0].unlink()
    third = _evaluation().process({"M2S": Spy(), "b": Spy()}, pretrain={"b": False},
                                  out=tmp_path)
    assert 0 < len(spy_calls) - n_calls < n_calls
    cols = [c for c in third.columns if c not in TIME_COLUMNS]
    pd.testing.assert_frame_equal(third[cols], first[cols])


def test_other_settings_are_refused_and_nothing_is_lost(tmp_path, spy_calls):
    _evaluation().process({"M2S": Spy()}, out=tmp_path)
    before = {p.name: p.read_bytes() for p in (tmp_path / "units").glob("*.json")}
    with pytest.raises(OutputFolderError, match="other settings.*random_state.*overwrite=True"):
        _evaluation(random_state=7).process({"M2S": Spy()}, out=tmp_path)
    with pytest.raises(OutputFolderError, match="methods"):
        _evaluation().process({"M2S": Spy(random_state=1)}, out=tmp_path)
    after = {p.name: p.read_bytes() for p in (tmp_path / "units").glob("*.json")}
    assert after == before
    # overwrite: accepted; the old units stay (their keys differ: not reused)
    n = len(spy_calls)
    _evaluation(random_state=7).process({"M2S": Spy()}, out=tmp_path, overwrite=True)
    assert len(spy_calls) > n
    assert len(list((tmp_path / "units").glob("*.json"))) == 2 * len(before)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputFolderError, match="is a file"):
        ResultStore(tmp_path / "file", {})


def _shifted(n_subjects, n_sessions):
    """The same dataset (same repr, same settings) whose EEG of subject 2 differs."""
    ds = TrialCodedDataset(n_subjects, n_sessions)
    original = ds._get_single_subject_data

    def load(subject):
        out = original(subject)
        if subject == 2:
            for runs in out.values():
                for run in runs.values():
                    run.features["eeg"][:, 1:, :] += 1.0
        return out

    ds._get_single_subject_data = load
    return ds


def test_units_of_other_data_are_not_reused(tmp_path, spy_calls):
    ds, shifted = TrialCodedDataset(n_subjects=2, n_sessions=1), _shifted(2, 1)
    assert repr(ds) == repr(shifted)
    X, y, meta = EmotionParadigm().get_data(ds)
    X2, _, _ = EmotionParadigm().get_data(shifted)
    assert hash_data(X, y, meta) != hash_data(X2, y, meta)
    _evaluation(ds).process({"M2S": Spy()}, out=tmp_path)
    spy_calls.clear()
    _evaluation(shifted).process({"M2S": Spy()}, out=tmp_path)
    refit = {c // 10000 for kind, codes, _, _ in spy_calls if kind == "pretrain"
             for c in set().union(*codes.values())}
    assert refit == {2}  # subject 1's unit is reused, subject 2's recomputed
    assert len(list((tmp_path / "units").glob("*.json"))) == 3


_SCRIPT = """
import os, sys, time
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from mne_m2s.datasets import SyntheticEmotion
from mne_m2s.evaluation import register_method
from mne_m2s.evaluation.experiments import run_evaluation
from mne_m2s.paradigms import EmotionParadigm


class SlowCentroid(ClassifierMixin, BaseEstimator):
    '''Nearest class mean of the mean window; sleeps so that a run can be killed mid-way.'''

    def _x(self, X):
        (a,) = X.values()
        return a.reshape(len(a), a.shape[1], -1).mean(axis=1)

    def fit(self, X, y):
        time.sleep(float(os.environ.get("M2S_TEST_DELAY", "0")))
        x = self._x(X)
        self.classes_ = np.unique(y)
        self.means_ = np.stack([x[y == c].mean(axis=0) for c in self.classes_])
        return self

    def predict(self, X):
        d = ((self._x(X)[:, None, :] - self.means_[None]) ** 2).sum(axis=2)
        return self.classes_[np.argmin(d, axis=1)]


register_method("slow", lambda settings: SlowCentroid(), description="slow centroid",
                kind="single-modal", levels=("features",))
ds = SyntheticEmotion(n_subjects=3, level="features", modalities=("eeg", "eye"),
                      trial_duration=12.0, random_state=0)
run_evaluation(ds, ["slow", "svm"], paradigm=EmotionParadigm(n_windows=5, step=3),
               out=sys.argv[1], figures=False)
"""


def _run(script, out, delay, **kwargs):
    # the same command; only the environment slows the first run down so it can be killed
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[1]), M2S_TEST_DELAY=str(delay))
    return subprocess.Popen([sys.executable, str(script), str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kwargs)


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(_SCRIPT)
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    proc = _run(script, killed, delay=1.5)
    units = killed / "units"
    deadline = time.monotonic() + 120
    while not (units.is_dir() and any(units.glob("*.json"))):
        if proc.poll() is not None:
            pytest.fail(proc.communicate()[1].decode()[-2000:])
        assert time.monotonic() < deadline, "no unit finished in 120 s"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    done = list(units.glob("*.json"))
    assert 1 <= len(done) < 3 * 2  # killed after its first finished unit, before the end
    assert not (killed / "results.csv").exists()
    for f in done:
        json.loads(f.read_text())  # whole files only (atomic writes)
    # the same command again completes; an uninterrupted run gives the same CSV
    for out in (killed, clean):
        p = _run(script, out, delay=0.0)
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()[-2000:]
    assert (killed / "results.csv").read_bytes() == (clean / "results.csv").read_bytes()
    assert len(list(units.glob("*.json"))) == 3 * 2
    results = pd.read_csv(clean / "results.csv")
    assert len(results) == 3 * 2 * 2 and not set(TIME_COLUMNS) & set(results.columns)
