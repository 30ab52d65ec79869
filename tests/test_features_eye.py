"""Tests of EyeMovementFeatures on synthetic gaze / pupil traces with known events."""

import mne
import numpy as np
import pytest
from mne.preprocessing.eyetracking import set_channel_types_eyetrack

from mne_m2s.features import EyeMovementFeatures
from mne_m2s.features.eye import _merge_overlaps

SFREQ = 60.0
WIN = 240  # samples in a 4-s window
N_WIN = 5  # windows per epoch
PPD = 40.0  # pixels per degree used to write the traces
ONE_SAMPLE_MS = 1e3 / SFREQ

# One window of the synthetic trace: waypoints (sample, dx, dy) relative to the window's
# start position, linearly interpolated; samples 120..131 are a blink (NaN).
# fixation 1: samples 0..60, slow drift of 0.3 deg (dispersion x 0.3)
# saccade 1: 60..66 (6 intervals, 100 ms), 5 deg in x
# fixation 2: 66..120 (54 samples, 900 ms; its last interval runs into the blink)
# blink: 120..131 (12 samples, 200 ms)
# fixation 3: 132..199 (67 intervals)
# saccade 2: 199..202 (3 intervals, 50 ms), 3 deg in y
# fixation 4: 202..234 (32 intervals)
# saccade 3: 234..240 (6 intervals, 100 ms), 4 deg in x, ends where the next window starts
WAYPOINTS = [(0, 0, 0), (60, 0.3, 0), (66, 5.3, 0), (199, 5.3, 0), (202, 5.3, 3),
             (234, 5.3, 3), (240, 9.3, 3)]
BLINK = (120, 132)
FIX_MS = np.array([60, 54, 67, 32]) * ONE_SAMPLE_MS
SAC_MS = np.array([6, 3, 6]) * ONE_SAMPLE_MS
SAC_AMP = np.array([5.0, 3.0, 4.0])
# latency of each saccade: from the previous saccade's end (or the window start)
LATENCY_MS = np.array([60, 199 - 66, 234 - 202]) * ONE_SAMPLE_MS


def _trace(n_epochs, pupil_fn=None):
    """Continuous gaze (deg) and pupil traces covering n_epochs * N_WIN windows + 1 sample."""
    n_windows = n_epochs * N_WIN
    samples, dx, dy = (np.array(v, dtype=float) for v in zip(*WAYPOINTS, strict=True))
    t = np.arange(WIN)
    x1, y1 = np.interp(t, samples, dx), np.interp(t, samples, dy)
    x = np.concatenate([x1 + 9.3 * w for w in range(n_windows)] + [[9.3 * n_windows]])
    y = np.concatenate([y1 + 3.0 * w for w in range(n_windows)] + [[3.0 * n_windows]])
    times = np.arange(len(x)) / SFREQ
    pupil = np.full(len(x), 4.0) if pupil_fn is None else pupil_fn(times)
    for w in range(n_windows):
        sl = slice(w * WIN + BLINK[0], w * WIN + BLINK[1])
        x[sl] = y[sl] = pupil[sl] = np.nan
    return x, y, pupil


def _epochs_from_trace(x, y, pupil, n_epochs, names=("xpos_left", "ypos_left", "pupil_left")):
    n_times = N_WIN * WIN + 1
    chans = np.stack([x * PPD, y * PPD, pupil])
    data = np.stack([chans[:, e * N_WIN * WIN:e * N_WIN * WIN + n_times]
                     for e in range(n_epochs)])
    info = mne.create_info(list(names), SFREQ, ["eyegaze", "eyegaze", "pupil"])
    return mne.EpochsArray(data, info, verbose=False)


@pytest.fixture(scope="module")
def detected():
    x, y, p = _trace(2)
    epochs = _epochs_from_trace(x, y, p, 2)
    est = EyeMovementFeatures(pixels_per_degree=PPD)
    return est, est.fit_transform(epochs)


def _col(est, name):
    return list(est.get_feature_names_out()).index(name)


def test_shape_names_units(detected):
    est, out = detected
    assert out.shape == (2, N_WIN, 33)
    names = list(est.get_feature_names_out())
    assert len(set(names)) == 33 and len(est.feature_units_) == 33
    assert names[:2] == ["pupil_x_mean", "pupil_x_std"] and names[-1] == "saccade_latency_mean"
    assert est.n_windows_ == N_WIN and est.ch_names_ == ["xpos_left", "ypos_left", "pupil_left"]
    assert np.all(np.isfinite(out))


def test_detected_counts_and_durations(detected):
    """I-VT + pupil-loss detection recovers the known events within one sample."""
    est, out = detected
    win_s = WIN / SFREQ
    f = {n: out[..., _col(est, n)] for n in est.get_feature_names_out()}
    tol = ONE_SAMPLE_MS + 1e-6
    np.testing.assert_allclose(f["blink_frequency"], 1 / win_s)
    np.testing.assert_allclose(f["fixation_frequency"], 4 / win_s)
    np.testing.assert_allclose(f["saccade_frequency"], 3 / win_s)
    np.testing.assert_allclose(f["blink_duration_mean"], 200.0, atol=tol)
    np.testing.assert_allclose(f["blink_duration_std"], 0.0, atol=1e-9)
    np.testing.assert_allclose(f["fixation_duration_mean"], FIX_MS.mean(), atol=tol)
    np.testing.assert_allclose(f["fixation_duration_std"], FIX_MS.std(), atol=tol)
    np.testing.assert_allclose(f["fixation_duration_max"], FIX_MS.max(), atol=tol)
    np.testing.assert_allclose(f["saccade_duration_mean"], SAC_MS.mean(), atol=tol)
    np.testing.assert_allclose(f["saccade_duration_std"], SAC_MS.std(), atol=tol)
    np.testing.assert_allclose(f["event_saccade_duration_mean"], f["saccade_duration_mean"])
    np.testing.assert_allclose(f["saccade_amplitude_mean"], SAC_AMP.mean(), atol=1e-9)
    np.testing.assert_allclose(f["saccade_amplitude_std"], SAC_AMP.std(), atol=1e-9)
    np.testing.assert_allclose(f["saccade_latency_mean"], LATENCY_MS.mean(), atol=tol)
    disp = np.array([0.3, 0, 0, 0])  # only fixation 1 drifts
    np.testing.assert_allclose(f["dispersion_x_mean"], disp.mean(), atol=1e-9)
    np.testing.assert_allclose(f["dispersion_x_std"], disp.std(), atol=1e-9)
    np.testing.assert_allclose(f["dispersion_y_mean"], 0.0, atol=1e-9)
    np.testing.assert_allclose(f["fixation_dispersion_total"], 0.3, atol=1e-9)
    np.testing.assert_allclose(f["fixation_dispersion_max"], 0.3, atol=1e-9)
    np.testing.assert_allclose(f["pupil_x_mean"], 4.0)


def _raw_with_annotations(n_epochs, binocular):
    x, y, p = _trace(n_epochs)
    n = n_epochs * N_WIN * WIN
    info = mne.create_info(["xpos_left", "ypos_left", "pupil_left"], SFREQ,
                           ["eyegaze", "eyegaze", "pupil"])
    raw = mne.io.RawArray(np.stack([x[:n] * PPD, y[:n] * PPD, p[:n]]), info, verbose=False)
    onsets, durations, desc = [], [], []
    for w in range(n_epochs * N_WIN):
        o = w * WIN / SFREQ
        # annotated events differ from the detected ones so the source is visible
        for kind, start, dur in [("fixation", 0.1, 0.5), ("fixation", 2.0, 1.0),
                                 ("saccade", 1.0, 0.05), ("BAD_blink", 3.0, 0.25)]:
            onsets.append(o + start)
            durations.append(dur)
            desc.append(kind)
            if binocular:  # the other eye's copy, overlapping by all but 2 samples
                onsets.append(o + start + 2 / SFREQ)
                durations.append(dur)
                desc.append(kind)
    raw.set_annotations(mne.Annotations(onsets, durations, desc))
    events = np.arange(n_epochs)[:, None] * np.array([[N_WIN * WIN, 0, 0]]) + [[0, 0, 1]]
    return mne.Epochs(raw, events, tmin=0.0, tmax=(N_WIN * WIN - 1) / SFREQ, baseline=None,
                      reject_by_annotation=False, preload=True, verbose=False)


@pytest.mark.parametrize("binocular", [False, True])
def test_events_from_annotations(binocular):
    epochs = _raw_with_annotations(2, binocular)
    est = EyeMovementFeatures(pixels_per_degree=PPD)
    out = est.fit_transform(epochs)
    f = {n: out[..., _col(est, n)] for n in est.get_feature_names_out()}
    extra = 2 * ONE_SAMPLE_MS if binocular else 0.0  # merged copies span 2 more samples
    np.testing.assert_allclose(f["fixation_frequency"], 2 / 4.0)
    np.testing.assert_allclose(f["saccade_frequency"], 1 / 4.0)
    np.testing.assert_allclose(f["blink_frequency"], 1 / 4.0)
    np.testing.assert_allclose(f["fixation_duration_mean"], 750.0 + extra, atol=1e-6)
    np.testing.assert_allclose(f["fixation_duration_max"], 1000.0 + extra, atol=1e-6)
    np.testing.assert_allclose(f["saccade_duration_mean"], 50.0 + extra, atol=1e-6)
    np.testing.assert_allclose(f["blink_duration_mean"], 250.0 + extra, atol=1e-6)
    np.testing.assert_allclose(f["saccade_latency_mean"], 1000.0, atol=1e-6)
    # the saccade annotation covers samples 60..62 of the 5-deg ramp over 60..66 (2 of its
    # 6 intervals; 4 when the two eyes' copies are merged)
    np.testing.assert_allclose(f["saccade_amplitude_mean"],
                               5.0 * (2 + 2 * binocular) / 6, atol=1e-6)
    # the first fixation covers samples 6..35 (6..37 merged) of the 0.3-deg drift over 0..60;
    # the second covers the blink (NaN, ignored) and a still stretch: dispersion 0
    drift = (29 + 2 * binocular) * 0.3 / 60
    np.testing.assert_allclose(f["dispersion_x_mean"], drift / 2, atol=1e-9)
    np.testing.assert_allclose(f["fixation_dispersion_max"], drift, atol=1e-9)
    # events="detect" ignores the annotations and finds the trace's own events
    det = EyeMovementFeatures(pixels_per_degree=PPD, events="detect").fit_transform(epochs)
    np.testing.assert_allclose(det[..., _col(est, "fixation_frequency")], 1.0)


def test_auto_mixes_annotated_blinks_with_detection():
    epochs = _raw_with_annotations(1, False)
    keep = epochs.annotations.description == "BAD_blink"
    ann = epochs.annotations[keep]
    epochs.set_annotations(ann)
    est = EyeMovementFeatures(pixels_per_degree=PPD)
    out = est.fit_transform(epochs)
    np.testing.assert_allclose(out[..., _col(est, "blink_duration_mean")], 250.0, atol=1e-6)
    np.testing.assert_allclose(out[..., _col(est, "fixation_frequency")], 1.0)  # detected


def test_windows_without_events_get_documented_values():
    n_times = N_WIN * WIN
    data = np.zeros((1, 3, n_times))
    data[:, 2] = 3.0  # steady pupil, steady gaze: one fixation spanning the epoch
    info = mne.create_info(["gx", "gy", "pupil"], SFREQ, ["eyegaze", "eyegaze", "pupil"])
    est = EyeMovementFeatures()
    out = est.fit_transform(mne.EpochsArray(data, info, verbose=False))
    assert np.all(np.isfinite(out))
    f = {n: out[0, :, _col(est, n)] for n in est.get_feature_names_out()}
    np.testing.assert_allclose(f["fixation_frequency"], [0.25, 0, 0, 0, 0])
    np.testing.assert_allclose(f["fixation_duration_mean"][1:], 0.0)
    np.testing.assert_allclose(f["saccade_latency_mean"], 4000.0)
    np.testing.assert_allclose(f["blink_duration_mean"], 0.0)
    np.testing.assert_allclose(f["saccade_amplitude_std"], 0.0)


def test_pupil_features():
    def pupil_fn(t):
        return 4.0 + 0.5 * np.sin(2 * np.pi * 0.3 * t)

    x, y, p = _trace(2, pupil_fn)
    epochs = _epochs_from_trace(x, y, p, 2)
    est = EyeMovementFeatures(pixels_per_degree=PPD)
    out = est.fit_transform(epochs)
    names = list(est.get_feature_names_out())
    de = out[..., [names.index(f"pupil_x_de_{b}") for b in est.pupil_bands_]]
    # the 0.3-Hz oscillation puts most power in the 0.2-0.4 Hz band
    assert np.all(np.argmax(de, axis=-1) == 1)
    np.testing.assert_allclose(out[..., names.index("pupil_x_mean")], 4.0, atol=0.1)
    np.testing.assert_allclose(out[..., names.index("pupil_x_std")], 0.5 / np.sqrt(2), atol=0.1)
    # a single pupil channel serves as X and Y
    np.testing.assert_array_equal(out[..., :6], out[..., 6:12])
    assert est.pupil_x_ == est.pupil_y_ == "pupil_left"
    # zeros as dropout values are blinks, like NaN
    p0 = np.where(np.isnan(p), 0.0, p)
    out0 = est.transform(_epochs_from_trace(x, y, p0, 2))
    np.testing.assert_allclose(out0, out)


def test_two_pupils_and_radian_gaze():
    x, y, p = _trace(1)
    n_times = N_WIN * WIN + 1
    data = np.stack([np.deg2rad(x), np.deg2rad(y), p, 2 * p])[None, :, :n_times]
    info = mne.create_info(["lx", "ly", "lp", "rp"], SFREQ,
                           ["eyegaze", "eyegaze", "pupil", "pupil"])
    epochs = mne.EpochsArray(data, info, verbose=False)
    set_channel_types_eyetrack(epochs, {"lx": ("eyegaze", "rad", "left", "x"),
                                        "ly": ("eyegaze", "rad", "left", "y")})
    est = EyeMovementFeatures()
    out = est.fit_transform(epochs)
    names = list(est.get_feature_names_out())
    # radians are converted exactly: amplitudes in degrees
    np.testing.assert_allclose(out[..., names.index("saccade_amplitude_mean")], SAC_AMP.mean())
    assert est.pupil_x_ == "lp" and est.pupil_y_ == "rp"
    np.testing.assert_allclose(out[..., names.index("pupil_y_mean")],
                               2 * out[..., names.index("pupil_x_mean")])
    # default pixels per degree: 0.6 m * tan(1 deg) / 0.277 mm
    assert EyeMovementFeatures().fit(_epochs_from_trace(x, y, p, 1)).pixels_per_degree_ == (
        pytest.approx(37.81, abs=0.01))


def test_errors():
    x, y, p = _trace(1)
    epochs = _epochs_from_trace(x, y, p, 1)
    with pytest.raises(TypeError, match="mne.BaseEpochs"):
        EyeMovementFeatures().fit({"eye": epochs.get_data()})
    eeg = mne.EpochsArray(np.zeros((1, 2, 600)), mne.create_info(2, SFREQ, "eeg"),
                          verbose=False)
    with pytest.raises(ValueError, match=r"no channels.*'eyegaze', 'pupil'.*eeg \(2\)"):
        EyeMovementFeatures().fit(eeg)
    with pytest.raises(ValueError, match="both horizontal"):
        EyeMovementFeatures(picks=["xpos_left", "pupil_left"]).fit(epochs)
    with pytest.raises(ValueError, match=r"shorter than one window \(window=30.0 s"):
        EyeMovementFeatures(window=30.0).fit(epochs)
    with pytest.raises(ValueError, match="'events'"):
        EyeMovementFeatures(events="blinks").fit(epochs)
    with pytest.raises(ValueError, match="velocity_threshold must be > 0"):
        EyeMovementFeatures(velocity_threshold=0).fit(epochs)
    with pytest.raises(ValueError, match="pupil_bands.*Nyquist"):
        EyeMovementFeatures(pupil_bands={"fast": (10.0, 40.0)}).fit(epochs)
    with pytest.raises(ValueError, match="events='annotations'.*no annotation"):
        EyeMovementFeatures(events="annotations").fit_transform(epochs)
    with pytest.raises(ValueError, match="unknown key"):
        EyeMovementFeatures(annotation_names={"blinks": "BAD_blink"}).fit(epochs)
    data = epochs.get_data()
    data[0, 2, 5] = np.inf
    with pytest.raises(ValueError, match="infinite values.*pupil_left"):
        EyeMovementFeatures().fit_transform(mne.EpochsArray(data, epochs.info, verbose=False))
    info = mne.create_info(["g1", "g2", "p"], SFREQ, ["eyegaze", "eyegaze", "pupil"])
    with pytest.raises(ValueError, match="horizontal \\(x\\) or vertical.*'g1'"):
        EyeMovementFeatures().fit(mne.EpochsArray(epochs.get_data(), info, verbose=False))
    three = mne.create_info(["x", "y", "p1", "p2", "p3"], SFREQ,
                            ["eyegaze", "eyegaze", "pupil", "pupil", "pupil"])
    with pytest.raises(ValueError, match="at most 2 pupil channels"):
        EyeMovementFeatures().fit(mne.EpochsArray(np.ones((1, 5, 600)), three, verbose=False))
    with pytest.raises(ValueError, match="handles eyegaze and pupil.*EEG"):
        mixed = epochs.copy().add_channels([mne.EpochsArray(
            np.zeros((1, 1, epochs.get_data().shape[-1])),
            mne.create_info(["EEG"], SFREQ, "eeg"), verbose=False)], force_update_info=True)
        EyeMovementFeatures(picks=["xpos_left", "ypos_left", "EEG"]).fit(mixed)


def test_annotation_mapping_matches_mne_per_epoch():
    """Vectorised annotation -> epoch mapping agrees with get_annotations_per_epoch.

    Raw with first_samp != 0 and a measurement date, overlapping epochs with tmin < 0,
    annotations straddling epoch edges.
    """
    rng = np.random.default_rng(4)
    n = 6000
    info = mne.create_info(["xpos", "ypos", "pupil"], SFREQ, ["eyegaze", "eyegaze", "pupil"])
    raw = mne.io.RawArray(rng.standard_normal((3, n)) + 5, info, first_samp=123, verbose=False)
    raw.set_meas_date(1e9)
    onsets = np.sort(rng.uniform(0, (n - 60) / SFREQ, 80))
    descs = rng.choice(["fixation", "saccade", "BAD_blink", "other"], 80)
    raw.set_annotations(mne.Annotations(onsets + raw.first_time, rng.uniform(0, 0.8, 80),
                                        descs, orig_time=raw.info["meas_date"]))
    events = mne.make_fixed_length_events(raw, duration=2.0, overlap=1.0)[1:]
    epochs = mne.Epochs(raw, events, tmin=-1.0, tmax=3.0, baseline=None,
                        reject_by_annotation=False, preload=True, verbose=False)
    est = EyeMovementFeatures(window=1.0).fit(epochs)
    n_times = len(epochs.times)
    ours = est._annotation_events(epochs, n_times)
    for kind, name in est.annotation_names_.items():
        rows, starts, stops = [], [], []
        for row, annots in enumerate(epochs.get_annotations_per_epoch()):
            for onset, duration, desc in annots:
                if desc != name:
                    continue
                start = max(int(round((onset - epochs.tmin) * SFREQ)), 0)
                stop = min(int(round((onset + duration - epochs.tmin) * SFREQ)), n_times)
                rows.append(row)
                starts.append(start)
                stops.append(stop)
        expected = _merge_overlaps(np.array(rows, dtype=np.int64),
                                   np.array(starts, dtype=np.int64),
                                   np.array(stops, dtype=np.int64))
        assert len(expected[0]) > 10
        for got, exp in zip(ours[kind][:3], expected, strict=True):
            np.testing.assert_array_equal(got, exp)
