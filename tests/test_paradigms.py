"""Tests of EmotionParadigm (mne_m2s.paradigms)."""

import logging

import mne
import numpy as np
import pytest

from mne_m2s.datasets import BaseEmotionDataset, FeatureRun, SyntheticEmotion
from mne_m2s.paradigms import EmotionParadigm
from mne_m2s.utils import logger

RAW_KW = dict(n_subjects=2, n_trials=4, trial_duration=(5.0, 9.0), random_state=3)
FEAT_KW = dict(n_subjects=2, n_trials=6, trial_duration=(6.0, 12.0), level="features")


@pytest.fixture(scope="module")
def raw_ds():
    return SyntheticEmotion(**RAW_KW)


@pytest.fixture(scope="module")
def raw_runs(raw_ds):
    return raw_ds.get_data()


@pytest.fixture(scope="module")
def raw_samples(raw_ds):
    return EmotionParadigm(n_windows=3, step=2).get_data(raw_ds)


@pytest.fixture(scope="module")
def feat_ds():
    return SyntheticEmotion(**FEAT_KW)


class _ToyDataset(BaseEmotionDataset):
    """A one-subject dataset built from ready-made runs."""

    def __init__(self, runs, event_id=None):
        super().__init__(
            code="Toy",
            subject_list=[1],
            sessions_per_subject=1,
            event_id=event_id or {"low": 0, "high": 1},
            modalities={"eeg": 100.0},
            level="raw",
            levels=("raw",),
            doi="",
            licence_url="",
            folder_name="toy",
        )
        self._runs = runs

    def _check_layout(self):
        """No files."""

    def _subject_files(self, subject):
        return []  # held in memory: no source files

    def _get_single_subject_data(self, subject):
        return {"1": dict(self._runs)}


def _toy_raw(n_times=1000, sfreq=100.0, names=("C3", "C4"), label="low", onset=0.0,
             duration=None, seed=0, ch_type="eeg"):  # fmt: skip
    info = mne.create_info(list(names), sfreq, ch_type)
    data = np.random.default_rng(seed).standard_normal((len(names), n_times)) * 1e-6
    raw = mne.io.RawArray(data, info, verbose=False)
    if label is not None:
        dur = n_times / sfreq - onset if duration is None else duration
        raw.set_annotations(mne.Annotations([onset], [dur], [label]))
    return raw


# ----------------------------------------------------------------------------- raw datasets
def test_raw_samples_are_copies_of_one_trial(raw_samples, raw_runs):
    epochs, y, meta = raw_samples
    assert isinstance(epochs, mne.BaseEpochs)
    data = epochs.get_data()
    assert data.shape[1:] == (69, 600)  # every modality, 3 windows of 1 s at 200 Hz
    assert epochs.ch_names == raw_runs[1]["1"]["1"].ch_names
    for i, row in enumerate(meta.itertuples()):
        raw = raw_runs[row.subject][row.session][row.run]
        start = row.window_start * 200
        assert start + 600 <= raw.n_times  # never past the end of the trial
        np.testing.assert_array_equal(data[i], raw.get_data()[:, start : start + 600])
        assert y[i] == row.label == raw.annotations.description[0]
        assert row.tmin == pytest.approx(row.window_start * 1.0)


def test_raw_meta_columns_and_time_order(raw_samples, raw_runs):
    epochs, y, meta = raw_samples
    assert list(meta.columns[:6]) == ["subject", "session", "run", "label", "window_start", "tmin"]
    assert {"valence", "arousal"} <= set(meta.columns)  # trial description fields
    assert meta["subject"].dtype.kind == "i"
    assert all(isinstance(v, str) for v in meta["session"]) and all(
        isinstance(v, str) for v in meta["run"]
    )
    assert len(meta) == len(y) == len(epochs)
    for (subject, session, run), grp in meta.groupby(["subject", "session", "run"], sort=False):
        np.testing.assert_array_equal(grp["window_start"], 2 * np.arange(len(grp)))
        assert np.all(np.diff(grp["tmin"]) > 0)
        assert grp["label"].nunique() == 1
        raw = raw_runs[subject][session][run]
        extras = raw.annotations.extras[0]
        assert grp["valence"].iloc[0] == pytest.approx(extras["valence"])
    # runs appear in protocol order
    order = list(dict.fromkeys(zip(meta["subject"], meta["run"], strict=True)))
    assert order == [(s, str(r)) for s in (1, 2) for r in range(1, 5)]
    assert epochs.metadata is not None
    np.testing.assert_array_equal(epochs.metadata["window_start"], meta["window_start"])


def test_raw_events_and_event_id(raw_samples):
    epochs, y, _ = raw_samples
    assert epochs.event_id == {"negative": 1, "neutral": 2, "positive": 3}
    inverse = {code: name for name, code in epochs.event_id.items()}
    np.testing.assert_array_equal([inverse[c] for c in epochs.events[:, 2]], y)
    assert np.all(np.diff(epochs.events[:, 0]) > 0)


@pytest.mark.parametrize("n_windows, step", [(1, 1), (3, 1), (3, 2), (4, 3), (5, 5)])
def test_samples_per_trial(raw_ds, raw_runs, n_windows, step):
    X, y, meta = EmotionParadigm(n_windows=n_windows, step=step).get_data(
        raw_ds, return_epochs=False
    )
    assert isinstance(X, np.ndarray) and X.shape == (len(meta), 69, n_windows * 200)
    counts = meta.groupby(["subject", "run"]).size()
    for s, runs in raw_runs.items():
        for run, raw in runs["1"].items():
            n_win = raw.n_times // 200
            expected = max((n_win - n_windows) // step + 1, 0)
            assert counts.get((s, run), 0) == expected


def test_raw_window_length(raw_ds):
    X, _, meta = EmotionParadigm(n_windows=4, step=1, window=0.5).get_data(raw_ds, subjects=[1])
    assert X.get_data().shape[-1] == 400
    run = meta[meta["run"] == "1"]
    np.testing.assert_allclose(run["tmin"], 0.5 * run["window_start"])
    with pytest.raises(ValueError, match="whole number of samples"):
        EmotionParadigm(window=0.0123).get_data(raw_ds, subjects=[1])


def test_epochs_annotations_match_the_raw(raw_samples, raw_runs):
    epochs, _, meta = raw_samples
    assert epochs.annotations is not None
    per_epoch = epochs.get_annotations_per_epoch()
    for i in (0, len(meta) // 2, len(meta) - 1):
        row = meta.iloc[i]
        raw = raw_runs[row["subject"]][row["session"]][row["run"]]
        t0, t1 = row["tmin"], row["tmin"] + 3.0
        a = raw.annotations
        fix = a.description == "fixation"
        inside = fix & (a.onset >= t0) & (a.onset < t1 - 1 / 200)
        got = sorted(on for on, _, desc in per_epoch[i] if desc == "fixation" and on >= 0)
        assert len(got) >= 3  # a few fixations per second
        np.testing.assert_allclose(got, np.sort(a.onset[inside]) - t0, atol=1e-5)
        assert row["label"] in {desc for _, _, desc in per_epoch[i]}
    # the eye events of one trial never leak into the epochs of another
    for i in range(len(meta)):
        labels = {d for _, _, d in per_epoch[i] if d in epochs.event_id}
        assert labels == {meta["label"].iloc[i]}


@pytest.mark.parametrize(
    "modalities, types",
    [
        (("eeg",), {"eeg"}),
        ("eye", {"eyegaze", "pupil"}),
        (("eye", "pps"), {"eyegaze", "pupil", "ecg", "gsr", "resp", "temperature"}),
    ],
)
def test_raw_modalities(raw_ds, modalities, types):
    X, _, _ = EmotionParadigm(n_windows=2, step=3, modalities=modalities).get_data(
        raw_ds, subjects=[2]
    )
    assert set(X.get_channel_types()) == types
    if "eye" not in modalities:  # eye annotations dropped with the eye channels
        assert "fixation" not in set(X.annotations.description)


def test_unknown_modality(raw_ds, feat_ds):
    with pytest.raises(ValueError, match=r"Unknown modality 'eyes'.*'eeg', 'eye', 'pps'.*'eye'"):
        EmotionParadigm(modalities=("eyes",)).get_data(raw_ds, subjects=[1])
    with pytest.raises(ValueError, match="Available modalities: 'eeg', 'eye', 'pps'"):
        EmotionParadigm(modalities="fnirs").get_data(feat_ds, subjects=[1])
    eeg_only = SyntheticEmotion(**{**FEAT_KW, "modalities": ("eeg",)})
    with pytest.raises(ValueError, match="Available modalities: 'eeg'"):
        EmotionParadigm(modalities=("eye",)).get_data(eeg_only, subjects=[1])


def test_custom_modality_map(raw_ds):
    paradigm = EmotionParadigm(
        n_windows=2, modalities=("heart",), modality_map={"heart": ("ecg",)}
    )
    X, _, _ = paradigm.get_data(raw_ds, subjects=[1], return_epochs=False)
    assert X.shape[1] == 1


# ----------------------------------------------------------------------------- feature datasets
def test_feature_dict(feat_ds):
    paradigm = EmotionParadigm(n_windows=4, step=2)
    X, y, meta = paradigm.get_data(feat_ds)
    data = feat_ds.get_data()
    assert set(X) == {"eeg", "eye", "pps"}
    n = len(meta)
    assert X["eeg"].shape == (n, 4, 62, 5)
    assert X["eye"].shape == (n, 4, 33)
    assert X["pps"].shape == (n, 4, 10)
    for arr in X.values():
        assert arr.dtype == np.float32 and arr.flags.c_contiguous
    for i, row in enumerate(meta.itertuples()):
        fr = data[row.subject][row.session][row.run]
        w = row.window_start
        assert w + 4 <= fr.n_windows
        for m in ("eeg", "eye"):
            np.testing.assert_array_equal(X[m][i], fr.features[m][w : w + 4].astype(np.float32))
        assert y[i] == fr.label
    for (s, run), grp in meta.groupby(["subject", "run"]):
        n_win = data[s]["1"][run].n_windows
        assert len(grp) == max((n_win - 4) // 2 + 1, 0)
    assert {"valence", "arousal"} <= set(meta.columns)


def test_feature_window_is_the_datasets(feat_ds):
    X, _, meta = EmotionParadigm(n_windows=2, window=1.0, modalities=["eye"]).get_data(
        feat_ds, subjects=1
    )
    assert set(X) == {"eye"}
    np.testing.assert_allclose(meta["tmin"], meta["window_start"] * 1.0)
    with pytest.raises(ValueError, match="1-s windows"):
        EmotionParadigm(window=4.0).get_data(feat_ds, subjects=[1])


def test_test_trials_never_in_training_samples(feat_ds):
    X, y, meta = EmotionParadigm(n_windows=5, step=1).get_data(feat_ds)
    groups = meta["subject"].astype(str) + "/" + meta["session"] + "/" + meta["run"]
    test = groups.isin({"1/1/5", "1/1/6", "2/1/2"}).to_numpy()
    assert test.any() and (~test).any()
    train_windows = {w.tobytes() for w in X["eeg"][~test].reshape(-1, 310)}
    test_windows = {w.tobytes() for w in X["eeg"][test].reshape(-1, 310)}
    assert not train_windows & test_windows
    # the same split on the meta never shares a trial either
    assert not set(groups[test]) & set(groups[~test])


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(n_windows=0), ValueError, "n_windows"),
        (dict(step=0), ValueError, "step"),
        (dict(n_windows=2.5), TypeError, "n_windows"),
        (dict(step="1"), TypeError, "step"),
        (dict(window=-1.0), ValueError, "window"),
        (dict(modalities=()), ValueError, "modalities is empty"),
    ],
)
def test_invalid_parameters(feat_ds, kwargs, err, match):
    with pytest.raises(err, match=match):
        EmotionParadigm(**kwargs).get_data(feat_ds, subjects=[1])


def test_invalid_subjects_and_flags(feat_ds):
    match = r"no subject\(s\) \[7\].*available subjects are \[1, 2\]"
    with pytest.raises(ValueError, match=match):
        EmotionParadigm().get_data(feat_ds, subjects=[1, 7])
    with pytest.raises(TypeError, match="return_epochs"):
        EmotionParadigm().get_data(feat_ds, return_epochs="yes")


def test_no_trial_long_enough(feat_ds):
    with pytest.raises(ValueError, match="no trial is long enough"):
        EmotionParadigm(n_windows=50).get_data(feat_ds, subjects=[1])


def test_short_trials_are_logged(caplog):
    ds = SyntheticEmotion(n_subjects=1, n_trials=3, trial_duration=(2.0, 8.0), level="features")
    lengths = [fr.n_windows for fr in ds.get_data()[1]["1"].values()]
    assert max(lengths) > min(lengths)  # clip durations drawn from (2, 8) s differ
    n_windows = min(lengths) + 1  # the shortest trial gives no sample
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="mne_m2s"):
            _, _, meta = EmotionParadigm(n_windows=n_windows).get_data(ds)
    finally:
        logger.removeHandler(caplog.handler)
    assert "shorter than one sample" in caplog.text
    short_run = str(int(np.argmin(lengths)) + 1)
    assert f"run {short_run}" in caplog.text
    assert short_run not in set(meta["run"])


def test_runs_with_different_channels_or_rates():
    ds = _ToyDataset({"1": _toy_raw(), "2": _toy_raw(names=("C3", "Cz"))})
    with pytest.raises(ValueError, match=r"run 2: channels differ.*extra \['Cz'\]"):
        EmotionParadigm().get_data(ds)
    ds = _ToyDataset({"1": _toy_raw(), "2": _toy_raw(sfreq=200.0, n_times=2000)})
    with pytest.raises(ValueError, match="sampling rate 200 Hz differs"):
        EmotionParadigm().get_data(ds)


def test_raw_without_any_modality_channel():
    raw = _toy_raw(ch_type="misc")
    with pytest.raises(ValueError, match="no channel belongs to a modality"):
        EmotionParadigm().get_data(_ToyDataset({"1": raw}))
    X, _, _ = EmotionParadigm(modality_map={"other": ("misc",)}).get_data(
        _ToyDataset({"1": raw}), return_epochs=False
    )
    assert X.shape == (6, 2, 500)  # 10 windows, 5 per sample, stride 1


def test_run_without_label_annotation():
    ds = _ToyDataset({"1": _toy_raw(), "2": _toy_raw(label="rest")})
    with pytest.raises(ValueError, match=r"run 2: no annotation names the trial's event"):
        EmotionParadigm().get_data(ds)


def test_mixed_run_kinds():
    fr = FeatureRun(features={"eeg": np.zeros((10, 2, 5))}, window=1.0, label="low")
    ds = _ToyDataset({"1": _toy_raw(), "2": fr})
    with pytest.raises(TypeError, match="every run must be"):
        EmotionParadigm().get_data(ds)


def test_trial_span_and_first_samp():
    """The trial annotation bounds the samples, also for a cropped Raw with a date."""
    raw = _toy_raw(n_times=1500, onset=3.0, duration=8.0, label="high")
    raw.set_meas_date(1_000_000_000.0)
    raw.crop(tmin=1.0)  # first_samp = 100, the annotation now starts 2 s into the data
    assert raw.first_samp == 100
    ds = _ToyDataset({"1": raw})
    X, y, meta = EmotionParadigm(n_windows=2, step=1).get_data(ds)
    assert len(meta) == 7  # 8 one-second windows in the trial
    np.testing.assert_array_equal(meta["window_start"], np.arange(7))
    data = raw.get_data()
    np.testing.assert_array_equal(X.get_data()[0], data[:, 200:400])
    np.testing.assert_array_equal(X.get_data()[-1], data[:, 800:1000])
    assert set(y) == {"high"}
    assert X.event_id == {"low": 1, "high": 2}
    assert set(X.events[:, 2]) == {2}


def test_zero_duration_trial_annotation_lasts_to_the_end():
    raw = _toy_raw(n_times=600, onset=1.0, duration=0.0)
    X, _, meta = EmotionParadigm(n_windows=1).get_data(_ToyDataset({"1": raw}))
    assert len(meta) == 5
    np.testing.assert_array_equal(X.get_data()[0], raw.get_data()[:, 100:200])
