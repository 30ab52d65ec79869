"""EmotionWindowsParadigm: MOABB paradigm samples, units, annotations and misuse errors."""

import logging

import mne
import numpy as np
import pytest
from moabb.paradigms.base import BaseParadigm

from dataset_fixtures import write_seed_iv
from mne_m2s.datasets import SEEDIV, SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm, EmotionWindowsParadigm


@pytest.fixture(scope="module")
def synth():
    return SyntheticEmotion(n_subjects=2, n_sessions=1, n_trials=3, trial_duration=(4.0, 6.0))


def test_is_a_moabb_paradigm_exported_from_paradigms():
    p = EmotionWindowsParadigm()
    assert isinstance(p, BaseParadigm)
    assert p.scoring == "balanced_accuracy"
    assert "EmotionWindowsParadigm" in __import__("mne_m2s.paradigms").paradigms.__all__


def test_samples_strictly_inside_trials_and_same_as_emotion_paradigm(synth):
    p = EmotionWindowsParadigm(n_windows=2, step=1, window=1.0)
    X, y, meta = p.get_data(synth, subjects=[1], return_epochs=True)
    ref, y_ref, meta_ref = EmotionParadigm(n_windows=2, step=1, window=1.0).get_data(
        synth, subjects=[1]
    )
    np.testing.assert_array_equal(X.get_data(), ref.get_data())  # one windowing for both
    np.testing.assert_array_equal(y, y_ref)
    raws = synth.get_data([1])[1]["1"]
    for run, raw in raws.items():
        rows = meta[meta["run"] == run]
        n_win = int(raw.annotations.duration[0] // 1.0)  # whole 1-s windows of the trial
        assert len(rows) == n_win - 2 + 1  # consecutive windows, stride 1, no tail
        assert (rows["window_start"] + 2 <= n_win).all()  # strictly inside the trial
        label = next(d for d in raw.annotations.description if d in synth.event_id)
        assert (rows["label"] == label).all() and (y[rows.index] == label).all()
        first = X[rows.index[0]].get_data(picks="eeg")[0]
        np.testing.assert_array_equal(first, raw.get_data(picks="eeg", start=0, stop=400))
    assert meta["trial"].nunique() == len(raws)
    assert {"subject", "session", "run", "trial"} <= set(meta.columns)


def test_eye_annotations_kept_and_never_reject(synth):
    p = EmotionWindowsParadigm(n_windows=2, step=2)
    X, y, meta = p.get_data(synth, subjects=[1, 2], return_epochs=True)
    desc = set(X.annotations.description)
    assert {"fixation", "saccade", "BAD_blink"} <= desc  # not reset away
    assert len(X) == len(meta) == len(y)
    assert all(not log for log in X.drop_log)  # BAD_blink never dropped a sample
    X2, _, _ = p.get_data(synth, subjects=[1, 2], return_epochs=False)
    assert len(X2) == len(X)


def test_units_per_channel_type(synth):
    p = EmotionWindowsParadigm(n_windows=2, step=2)
    arr, _, _ = p.get_data(synth, subjects=[1])
    ep, _, _ = p.get_data(synth, subjects=[1], return_epochs=True)
    si = ep.get_data()
    types = ep.get_channel_types()
    for kind, factor in (("eeg", 1e6), ("ecg", 1e6), ("eyegaze", 1.0), ("pupil", 1.0),
                         ("gsr", 1.0), ("resp", 1.0), ("temperature", 1.0)):
        idx = [i for i, t in enumerate(types) if t == kind]
        np.testing.assert_allclose(arr[:, idx], si[:, idx] * factor, rtol=1e-12)
    # an EEG band-pass touches EEG only
    pf = EmotionWindowsParadigm(n_windows=2, step=2, eeg_filter=(4.0, 30.0))
    filt, _, _ = pf.get_data(synth, subjects=[1], return_epochs=True)
    eeg = [i for i, t in enumerate(types) if t == "eeg"]
    other = [i for i, t in enumerate(types) if t != "eeg"]
    np.testing.assert_array_equal(filt.get_data()[:, other], si[:, other])
    assert not np.allclose(filt.get_data()[:, eeg], si[:, eeg])


def test_modalities_select_channels(synth):
    X, _, _ = EmotionWindowsParadigm(n_windows=2, modalities="eeg").get_data(synth, [1])
    assert X.shape[1] == 62


def test_seed_iv_raw_fixture(tmp_path):
    write_seed_iv(tmp_path, subjects=(1,), levels=("raw",))
    ds = SEEDIV(tmp_path, level="raw")
    p = EmotionWindowsParadigm(n_windows=2, step=1, window=0.25)
    X, y, meta = p.get_data(ds, subjects=[1])
    assert X.shape[1:] == (62, 100)
    assert set(meta["session"]) == {"1", "2", "3"} and set(y) <= set(ds.event_id)


def test_bad_input_errors(synth, tmp_path, caplog):
    feats = SyntheticEmotion(n_subjects=1, n_trials=3, trial_duration=5.0, level="features")
    with pytest.raises(ValueError, match=r"level='raw'"):
        EmotionWindowsParadigm().get_data(feats, [1])
    seed_iv = SEEDIV(tmp_path, level="features")
    with pytest.raises(ValueError, match="SEEDIV\\(level='raw'"):
        EmotionWindowsParadigm().is_valid(seed_iv)
    with pytest.raises(ValueError, match="Did you mean 'eye'"):
        EmotionWindowsParadigm(modalities=("eeg", "eyes")).get_data(synth, [1])
    with pytest.raises(ValueError, match="Did you mean 'fear'|not events of"):
        EmotionWindowsParadigm(events=["feer"]).get_data(synth, [1])
    # a trial shorter than one sample: the error names the trial and the fix
    with pytest.raises(ValueError, match=r"shorter than one sample.*short_trials='drop'"):
        EmotionWindowsParadigm(n_windows=5, window=1.0).get_data(synth, [1])
    caplog.set_level(logging.WARNING, logger="mne_m2s")
    p = EmotionWindowsParadigm(n_windows=5, window=1.0, short_trials="drop")
    X, y, meta = p.get_data(synth, [1])
    assert len(X) == len(y) == len(meta)
    with pytest.raises(ValueError, match="whole number of samples"):
        EmotionWindowsParadigm(n_windows=1, window=0.0123).get_data(synth, [1])
    with pytest.raises(ValueError, match="process_pipelines"):
        EmotionWindowsParadigm().get_data(synth, [1], process_pipelines=[object()])
    with pytest.raises(ValueError, match="only return_epochs or return_raws"):
        EmotionWindowsParadigm().get_data(synth, [1], return_epochs=True, return_raws=True)


def test_return_raws_one_per_trial(synth):
    X, y, meta = EmotionWindowsParadigm().get_data(synth, [1], return_raws=True)
    assert all(isinstance(r, mne.io.BaseRaw) for r in X) and len(X) == len(y) == 3
    assert list(meta["run"]) == ["1", "2", "3"]


def test_compatible_datasets_are_those_found_locally(tmp_path, monkeypatch):
    for code in ("SEED", "SEED_IV", "SEED_V", "DEAP", "DREAMER"):
        monkeypatch.setenv(f"MNE_DATASETS_{code}_PATH", str(tmp_path / "absent" / code))
    assert EmotionWindowsParadigm().datasets == []
    write_seed_iv(tmp_path / "SEED_IV", subjects=(1,), levels=("raw",))
    monkeypatch.setenv("MNE_DATASETS_SEED_IV_PATH", str(tmp_path / "SEED_IV"))
    (found,) = EmotionWindowsParadigm().datasets
    assert isinstance(found, SEEDIV) and found.level == "raw"


def test_seed_iv_eye_feature_channels_neither_scaled_nor_filtered(tmp_path):
    written = write_seed_iv(tmp_path, subjects=(1,), levels=("raw",), raw_eye=True)
    ds = SEEDIV(tmp_path, level="raw", eye="features")
    p = EmotionWindowsParadigm(n_windows=4, step=4, window=1.0, eeg_filter=(1.0, 40.0),
                               modalities=["eeg", "eye"])
    X, y, meta = p.get_data(ds, subjects=[1])
    assert X.shape[1] == 62 + 31
    for i in range(len(meta)):
        row = meta.iloc[i]
        k, start = int(row["run"]), int(row["window_start"])
        stored = written[1, int(row["session"])]["eye"][k - 1]
        if np.isfinite(stored).all():  # (trial 2's NaN is interpolated by the dataset)
            np.testing.assert_array_equal(
                X[i, 62:], np.repeat(stored[:, start // 4 : start // 4 + 1], 800, axis=1)
            )
    assert np.abs(X[:, :62]).max() > 10  # EEG in microvolts (MOABB's arrays)
    X_eye, _, _ = EmotionWindowsParadigm(n_windows=4, step=4, modalities="eye").get_data(
        ds, subjects=[1], return_epochs=True
    )
    assert set(X_eye.get_channel_types()) == {"misc"} and len(X_eye.ch_names) == 31
