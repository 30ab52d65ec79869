"""Tests of the SyntheticEmotion dataset (mne_m2s.datasets.synthetic)."""

from collections import Counter

import mne
import numpy as np
import pytest
from mne.io.constants import FIFF

from mne_m2s.datasets import FeatureRun, SyntheticEmotion, get_dataset
from mne_m2s.datasets.synthetic import (
    BANDS,
    EYE_CH_NAMES,
    EYE_FEATURE_NAMES,
    PPS_CH_NAMES,
    PPS_FEATURE_NAMES,
    SEED_CH_NAMES,
    make_seed_montage,
)

SMALL = dict(n_subjects=2, n_trials=3, trial_duration=6.0)


@pytest.fixture(scope="module")
def raw_data():
    return SyntheticEmotion(**SMALL).get_data()


@pytest.fixture(scope="module")
def feature_data():
    ds = SyntheticEmotion(n_subjects=3, n_trials=15, trial_duration=30.0, level="features")
    return ds, ds.get_data()


def _runs(data):
    return [
        (s, sess, run, obj)
        for s, sessions in data.items()
        for sess, runs in sessions.items()
        for run, obj in runs.items()
    ]


def test_interface():
    ds = SyntheticEmotion(n_subjects=4, n_sessions=2)
    assert ds.code == "SyntheticEmotion"
    assert ds.subject_list == [1, 2, 3, 4]
    assert ds.n_sessions == 2
    assert ds.event_id == {"negative": -1, "neutral": 0, "positive": 1}
    assert ds.modalities == {"eeg": 200.0, "eye": 200.0, "pps": 200.0}
    assert ds.level == "raw" and ds.window is None
    assert ds.check_files()[0] is True
    ds._check_layout()  # no files: a no-op
    assert "SyntheticEmotion" in repr(ds)
    feat = SyntheticEmotion(level="features", window=4.0, modalities=("eye", "eeg"))
    assert feat.window == 4.0
    assert feat.modalities == {"eeg": 0.25, "eye": 0.25}
    assert isinstance(get_dataset("synthetic-emotion", n_subjects=1), SyntheticEmotion)


def test_same_seed_same_data_other_seed_other_data(raw_data):
    again = SyntheticEmotion(**SMALL).get_data()
    for (_, _, _, raw), (_, _, _, raw2) in zip(_runs(raw_data), _runs(again), strict=True):
        np.testing.assert_array_equal(raw.get_data(), raw2.get_data())
        np.testing.assert_array_equal(raw.annotations.onset, raw2.annotations.onset)
        assert list(raw.annotations.description) == list(raw2.annotations.description)
    other = SyntheticEmotion(**SMALL, random_state=1).get_data([1])
    a = raw_data[1]["1"]["1"].get_data()
    b = other[1]["1"]["1"].get_data()
    assert a.shape == b.shape
    assert not np.allclose(a, b)


def test_subject_alone_equals_subject_among_others(raw_data):
    alone = SyntheticEmotion(**SMALL).get_data([2])
    assert list(alone) == [2]
    for run, raw in alone[2]["1"].items():
        np.testing.assert_array_equal(raw.get_data(), raw_data[2]["1"][run].get_data())


def test_modality_subset_keeps_the_same_signals(raw_data):
    eeg_only = SyntheticEmotion(**SMALL, modalities=("eeg",)).get_data([1])
    raw_eeg = eeg_only[1]["1"]["2"]
    assert set(raw_eeg.get_channel_types()) == {"eeg"}
    full = raw_data[1]["1"]["2"]
    np.testing.assert_array_equal(raw_eeg.get_data(), full.get_data(picks="eeg"))
    # without eye channels only the trial annotation is left
    label = [d for d in full.annotations.description if d in SyntheticEmotion().event_id]
    assert list(raw_eeg.annotations.description) == label
    pps_only = SyntheticEmotion(**SMALL, modalities="pps").get_data([1])[1]["1"]["2"]
    np.testing.assert_array_equal(pps_only.get_data(), full.get_data(picks=list(PPS_CH_NAMES)))


def test_channels_units_and_positions(raw_data):
    raw = raw_data[1]["1"]["1"]
    assert raw.info["sfreq"] == 200.0
    assert raw.ch_names == SEED_CH_NAMES + list(EYE_CH_NAMES) + list(PPS_CH_NAMES)
    types = raw.get_channel_types()
    assert types == ["eeg"] * 62 + ["eyegaze", "eyegaze", "pupil"] + [
        "ecg",
        "gsr",
        "resp",
        "temperature",
    ]
    units = {ch["ch_name"]: ch["unit"] for ch in raw.info["chs"]}
    assert all(units[c] == FIFF.FIFF_UNIT_V for c in SEED_CH_NAMES)
    assert units["xpos_left"] == units["ypos_left"] == FIFF.FIFF_UNIT_PX
    assert units["pupil_left"] == FIFF.FIFF_UNIT_M
    assert units["ECG"] == FIFF.FIFF_UNIT_V
    assert units["GSR"] == FIFF.FIFF_UNIT_S
    assert units["TEMP"] == FIFF.FIFF_UNIT_CEL
    locs = {ch["ch_name"]: ch["loc"] for ch in raw.info["chs"]}
    # eye and x/y conventions of mne.io.read_raw_eyelink
    assert locs["xpos_left"][3] == -1 and locs["xpos_left"][4] == -1
    assert locs["ypos_left"][3] == -1 and locs["ypos_left"][4] == 1
    assert locs["pupil_left"][3] == -1
    pos = np.array([locs[c][:3] for c in SEED_CH_NAMES])
    assert np.isfinite(pos).all()
    assert len(np.unique(pos.round(6), axis=0)) == 62  # CB1/CB2 placed, no duplicates
    montage_pos = make_seed_montage().get_positions()["ch_pos"]
    assert set(montage_pos) == set(SEED_CH_NAMES)


def test_signal_ranges(raw_data):
    raw = raw_data[1]["1"]["1"]
    eeg = raw.get_data(picks="eeg")
    assert 2e-6 < np.median(eeg.std(axis=1)) < 1e-4  # tens of microvolts
    gaze = raw.get_data(picks=["xpos_left", "ypos_left"])
    assert (gaze[0] > -200).all() and (gaze[0] < 2120).all()
    assert (gaze[1] > -200).all() and (gaze[1] < 1280).all()
    pupil = raw.get_data(picks="pupil_left")
    assert 1e-3 < pupil.min() and pupil.max() < 9e-3  # metres
    gsr = raw.get_data(picks="GSR")
    assert 1e-7 < np.median(gsr) < 5e-5  # siemens
    temp = raw.get_data(picks="TEMP")
    assert 28 < temp.mean() < 38
    assert np.isfinite(raw.get_data()).all()


def test_annotations(raw_data):
    for _, _, _, raw in _runs(raw_data):
        annot = raw.annotations
        names = {"negative", "neutral", "positive"}
        trial = [i for i, d in enumerate(annot.description) if d in names]
        assert len(trial) == 1
        i = trial[0]
        assert i == 0  # the trial annotation comes first (read by trial_description)
        assert annot.onset[i] == 0.0
        assert annot.duration[i] == pytest.approx(raw.times[-1] + 1 / raw.info["sfreq"])
        assert annot.ch_names[i] == ()
        assert set(annot.extras[i]) == {"valence", "arousal"}
        counts = Counter(annot.description)
        assert counts["fixation"] > 5 and counts["saccade"] > 5
        eye = [j for j, d in enumerate(annot.description) if d != annot.description[i]]
        assert all(annot.ch_names[j] == EYE_CH_NAMES for j in eye)
        assert (annot.onset + annot.duration <= raw.times[-1] + 1e-2).all()
        assert set(counts) <= {annot.description[i], "fixation", "saccade", "BAD_blink"}
    assert sum(Counter(r.annotations.description)["BAD_blink"] for *_, r in _runs(raw_data)) > 0


def test_blink_artefacts_in_frontal_eeg():
    ds = SyntheticEmotion(n_subjects=1, n_trials=3, trial_duration=60.0, modalities=("eeg", "eye"))
    jumps, controls = [], []
    rng = np.random.default_rng(0)
    for raw in ds.get_data()[1]["1"].values():
        fp = raw.get_data(picks=["Fp1", "Fp2"]).mean(axis=0) * 1e6
        oz = raw.get_data(picks=["Oz"])[0] * 1e6
        onsets = raw.annotations.onset[raw.annotations.description == "BAD_blink"]
        idx = (onsets * 200).astype(int)
        idx = idx[(idx > 40) & (idx < len(fp) - 40)]
        jumps.append(np.c_[fp[idx + 35] - fp[idx - 20], oz[idx + 35] - oz[idx - 20]])
        ctrl = rng.integers(40, len(fp) - 40, 200)
        controls.append(fp[ctrl + 35] - fp[ctrl - 20])
    jumps = np.concatenate(jumps)
    assert len(jumps) > 10
    assert jumps[:, 0].mean() > 50  # ~100-200 uV blink peaks at FP1/FP2
    assert abs(jumps[:, 1].mean()) < 0.2 * jumps[:, 0].mean()  # not at the back
    assert abs(np.concatenate(controls).mean()) < 20


def test_class_balance_and_shared_order():
    ds = SyntheticEmotion(n_subjects=2, n_sessions=2, trial_duration=2.0, level="features")
    data = ds.get_data()
    for s in (1, 2):
        for sess in ("1", "2"):
            labels = [fr.label for fr in data[s][sess].values()]
            assert list(data[s][sess]) == [str(k) for k in range(1, 16)]
            assert Counter(labels) == {"negative": 5, "neutral": 5, "positive": 5}
            assert Counter(labels[:9]) == {"negative": 3, "neutral": 3, "positive": 3}
            assert Counter(labels[9:]) == {"negative": 2, "neutral": 2, "positive": 2}
    order = [[fr.label for fr in data[s]["1"].values()] for s in (1, 2)]
    assert order[0] == order[1]  # the same clips for every subject, as in SEED
    assert order[0] != [fr.label for fr in data[1]["2"].values()]


@pytest.mark.parametrize(
    "n_classes, names, codes",
    [
        (2, ["negative", "positive"], [-1, 1]),
        (4, ["neutral", "sad", "fear", "happy"], [0, 1, 2, 3]),
        (5, ["disgust", "fear", "sad", "neutral", "happy"], [0, 1, 2, 3, 4]),
    ],
)
def test_other_class_sets(n_classes, names, codes):
    ds = SyntheticEmotion(
        n_subjects=1, n_classes=n_classes, n_trials=2 * n_classes, trial_duration=2.0,
        level="features",
    )  # fmt: skip
    assert ds.event_id == dict(zip(names, codes, strict=True))
    labels = [fr.label for fr in ds.get_data()[1]["1"].values()]
    assert Counter(labels) == {name: 2 for name in names}


def test_feature_level(feature_data):
    ds, data = feature_data
    fr = data[1]["1"]["1"]
    assert isinstance(fr, FeatureRun)
    assert fr.window == 1.0
    assert fr.n_windows == 30
    assert fr.features["eeg"].shape == (30, 62, 5)
    assert fr.features["eye"].shape == (30, 33)
    assert fr.features["pps"].shape == (30, 10)
    assert len(fr.feature_names["eeg"]) == 310 and fr.feature_names["eeg"][:2] == [
        "Fp1_delta",
        "Fp1_theta",
    ]
    assert fr.feature_names["eye"] == list(EYE_FEATURE_NAMES) and len(EYE_FEATURE_NAMES) == 33
    assert fr.feature_names["pps"] == list(PPS_FEATURE_NAMES)
    assert all(np.isfinite(a).all() for a in fr.features.values())
    assert set(fr.description) == {"valence", "arousal"}
    assert fr.label in ds.event_id
    four = SyntheticEmotion(
        n_subjects=1, n_trials=3, trial_duration=10.0, level="features", window=4.0,
        modalities=("eeg", "eye"),
    ).get_data()[1]["1"]["1"]  # fmt: skip
    assert set(four.features) == {"eeg", "eye"}
    assert four.n_windows == 2 and four.window == 4.0


def test_feature_level_is_deterministic(feature_data):
    ds, data = feature_data
    again = SyntheticEmotion(n_subjects=3, n_trials=15, trial_duration=30.0, level="features")
    fr2 = again.get_data([3])[3]["1"]["7"]
    for key, arr in data[3]["1"]["7"].features.items():
        np.testing.assert_array_equal(arr, fr2.features[key])


def test_ground_truth_effects(feature_data):
    """The documented effects are there: temporal gamma ~ valence, pupil ~ arousal."""
    ds, data = feature_data
    gamma_idx = [SEED_CH_NAMES.index(c) for c in ("T7", "T8", "TP7", "TP8")]
    by_label = {name: {"gamma": [], "pupil": []} for name in ds.event_id}
    for s, sess, _, fr in _runs(data):
        runs = list(data[s][sess].values())
        # subject-session baseline removed, as a per-session scaler would
        gamma_base = np.mean([r.features["eeg"][:, gamma_idx, 4].mean() for r in runs])
        pupil_base = np.mean([r.features["eye"][:, 0].mean() for r in runs])
        by_label[fr.label]["gamma"].append(fr.features["eeg"][:, gamma_idx, 4].mean() - gamma_base)
        by_label[fr.label]["pupil"].append(fr.features["eye"][:, 0].mean() - pupil_base)
    mean = {k: {f: np.mean(v) for f, v in d.items()} for k, d in by_label.items()}
    assert mean["positive"]["gamma"] > mean["neutral"]["gamma"] > mean["negative"]["gamma"]
    assert mean["neutral"]["pupil"] < min(mean["negative"]["pupil"], mean["positive"]["pupil"])


def test_difficulty_scales_the_effects():
    def contrast(difficulty):
        ds = SyntheticEmotion(
            n_subjects=2, trial_duration=10.0, level="features", modalities=("eeg",),
            difficulty=difficulty,
        )  # fmt: skip
        t7 = SEED_CH_NAMES.index("T7")
        vals = {"negative": [], "positive": []}
        for *_, fr in _runs(ds.get_data()):
            if fr.label in vals:
                vals[fr.label].append(fr.features["eeg"][:, t7, 4].mean())
        return np.mean(vals["positive"]) - np.mean(vals["negative"])

    easy, hard = contrast("easy"), contrast(4.0)
    assert easy > 0.3
    assert abs(hard) < 0.5 * easy


def test_raw_and_feature_levels_share_the_latent_state():
    kw = dict(n_subjects=1, n_trials=1, trial_duration=40.0, modalities=("eeg", "eye"))
    raw = SyntheticEmotion(**kw).get_data()[1]["1"]["1"]
    fr = SyntheticEmotion(level="features", **kw).get_data()[1]["1"]["1"]
    x = raw.get_data(picks="eeg") * 1e6
    spec = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(x.shape[-1], 1 / 200.0)
    de = np.empty_like(fr.features["eeg"])
    for b, (lo, hi) in enumerate(BANDS.values()):
        band = np.fft.irfft(spec * ((f >= lo) & (f < hi)), x.shape[-1], axis=-1)
        var = band.reshape(62, 40, 200).var(axis=-1)
        de[:, :, b] = (0.5 * np.log(2 * np.pi * np.e * var)).T
    assert np.corrcoef(de.ravel(), fr.features["eeg"].ravel())[0, 1] > 0.6
    assert abs(np.mean(de - fr.features["eeg"])) < 0.5
    # the same fixations at both levels
    fix = raw.annotations.description == "fixation"
    n_fix = np.bincount(raw.annotations.onset[fix].astype(int), minlength=40)[:40]
    fix_freq = fr.features["eye"][:, EYE_FEATURE_NAMES.index("fixation_frequency")]
    np.testing.assert_allclose(fix_freq, n_fix)


def test_no_global_random_state():
    np.random.seed(42)  # noqa: NPY002 - the legacy global state is what is checked
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    SyntheticEmotion(n_subjects=1, n_trials=2, trial_duration=3.0).get_data()
    SyntheticEmotion(n_subjects=1, n_trials=2, trial_duration=3.0, level="features").get_data()
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002


def test_random_state_none_is_fixed_per_instance():
    ds = SyntheticEmotion(n_subjects=1, n_trials=1, trial_duration=3.0, level="features",
                          random_state=None)  # fmt: skip
    a = ds.get_data()[1]["1"]["1"].features["eeg"]
    b = ds.get_data()[1]["1"]["1"].features["eeg"]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(n_classes=6), ValueError, "n_classes"),
        (dict(level="epochs"), ValueError, "level"),
        (dict(modalities=("eeg", "fnirs")), ValueError, "modalities"),
        (dict(modalities=()), ValueError, "at least one"),
        (dict(difficulty="extreme"), ValueError, "difficulty"),
        (dict(difficulty=0), ValueError, "difficulty"),
        (dict(trial_duration=(10.0, 5.0)), ValueError, "trial_duration"),
        (dict(trial_duration="long"), TypeError, "trial_duration"),
        (dict(trial_duration=0.5), ValueError, "trial_duration"),
        (dict(level="features", window=4.0, trial_duration=3.0), ValueError, "one window"),
        (dict(window=0.0), ValueError, "window"),
        (dict(n_subjects=0), ValueError, "n_subjects"),
        (dict(n_trials=2.5), TypeError, "n_trials"),
        (dict(sfreq=50.0), ValueError, "sfreq"),
    ],
)
def test_invalid_arguments(kwargs, err, match):
    with pytest.raises(err, match=match):
        SyntheticEmotion(**kwargs)


def test_unknown_subject():
    with pytest.raises(ValueError, match="valid subjects"):
        SyntheticEmotion(n_subjects=2).get_data([3])


def test_other_sampling_rate():
    raw = SyntheticEmotion(n_subjects=1, n_trials=1, trial_duration=4.0, sfreq=128.0).get_data()
    raw = raw[1]["1"]["1"]
    assert isinstance(raw, mne.io.BaseRaw)
    assert raw.info["sfreq"] == 128.0 and raw.n_times == 512
    assert np.isfinite(raw.get_data()).all()
