"""Tests of PeripheralFeatures on synthetic ECG, respiration, GSR, temperature, EMG."""

import mne
import numpy as np
import pytest

from mne_m2s.features import PeripheralFeatures

SFREQ = 256.0


def _ecg(beat_times, n_times, rng, noise=2e-5):
    """Synthetic ECG (V): narrow R waves plus a broad T wave per beat, plus noise."""
    t = np.arange(n_times) / SFREQ
    ecg = np.zeros(n_times)
    for b in beat_times:
        ecg += 1e-3 * np.exp(-0.5 * ((t - b) / 0.012) ** 2)
        ecg += 0.25e-3 * np.exp(-0.5 * ((t - b - 0.25) / 0.04) ** 2)
        ecg -= 0.1e-3 * np.exp(-0.5 * ((t - b + 0.15) / 0.03) ** 2)
    return ecg + noise * rng.standard_normal(n_times)


def _epochs(signals, types, names=None, duration=20.0):
    names = names or [f"{t.upper()}{i}" for i, t in enumerate(types)]
    info = mne.create_info(names, SFREQ, types)
    raw = mne.io.RawArray(np.asarray(signals), info, verbose=False)
    return mne.make_fixed_length_epochs(raw, duration=duration, preload=True, verbose=False)


@pytest.mark.parametrize("bpm", [48.0, 75.0, 130.0])
def test_heart_rate_from_synthetic_ecg(bpm):
    rng = np.random.default_rng(0)
    n = int(60 * SFREQ)
    beats = np.arange(0.4, 60.0, 60.0 / bpm)
    epochs = _epochs([_ecg(beats, n, rng)], ["ecg"], ["ECG"])
    est = PeripheralFeatures(window=2.0)
    out = est.fit_transform(epochs)
    assert out.shape == (3, 10, 3)
    assert list(est.get_feature_names_out()) == ["ECG_hr", "ECG_sdnn", "ECG_rmssd"]
    np.testing.assert_allclose(out[..., 0], bpm, atol=2.0)  # within 2 bpm, every window
    # a regular rhythm has (almost) no variability: only the 4-ms sampling jitter
    assert out[..., 1].max() < 5.0 and out[..., 2].max() < 8.0


def test_hrv_of_alternating_rhythm():
    """RR alternating 0.8 / 0.9 s: RMSSD = 100 ms, SDNN ~ 50 ms, HR ~ 70.6 bpm."""
    rng = np.random.default_rng(1)
    rr = np.tile([0.8, 0.9], 40)
    beats = 0.5 + np.concatenate([[0.0], np.cumsum(rr)])
    beats = beats[beats < 60.0]
    epochs = _epochs([_ecg(beats, int(60 * SFREQ), rng, noise=1e-5)], ["ecg"], ["ECG"],
                     duration=30.0)
    out = PeripheralFeatures(window=5.0, hrv_span=10.0).fit_transform(epochs)
    inner = out[:, 1:-1]  # windows whose span holds whole intervals on both sides
    np.testing.assert_allclose(inner[..., 0], 60 / 0.85, atol=2.0)
    np.testing.assert_allclose(inner[..., 2], 100.0, atol=6.0)
    np.testing.assert_allclose(inner[..., 1], 50.0, atol=6.0)


def test_respiration_temperature_emg_gsr():
    rng = np.random.default_rng(2)
    n = int(60 * SFREQ)
    t = np.arange(n) / SFREQ
    resp = 1e-3 * np.sin(2 * np.pi * 0.25 * t) + 1e-5 * rng.standard_normal(n)  # 15 /min
    temp = 33.0 + 0.01 * t
    emg = 3e-5 * rng.standard_normal(n)
    gsr = np.full(n, 5e-6)
    for onset in (5.0, 24.0, 44.0):  # SCRs of 0.2 microsiemens peaking ~2 s after onset
        s = np.clip(t - onset, 0, None)
        gsr += 0.2e-6 * (s / 2.0) * np.exp(1 - s / 2.0)
    epochs = _epochs([resp, temp, emg, gsr], ["resp", "temperature", "emg", "gsr"],
                     ["RESP", "TEMP", "EMG", "GSR"])
    est = PeripheralFeatures(window=4.0)
    out = est.fit_transform(epochs)
    names = list(est.get_feature_names_out())
    assert names == ["RESP_rate", "RESP_depth", "TEMP_level", "TEMP_slope", "EMG_power",
                     "EMG_de", "GSR_tonic", "GSR_scr_count", "GSR_scr_amplitude"]
    assert est.feature_units_[names.index("RESP_rate")] == "breaths/min"
    f = {n: out[..., i] for i, n in enumerate(names)}
    np.testing.assert_allclose(f["RESP_rate"], 15.0, atol=1.0)
    np.testing.assert_allclose(f["RESP_depth"][:, 1:-1], 2e-3, rtol=0.1)  # peak to peak
    win_start = np.arange(3)[:, None] * 20.0 + np.arange(5)[None, :] * 4.0
    np.testing.assert_allclose(f["TEMP_level"], 33.0 + 0.01 * (win_start + 2.0 - 0.5 / SFREQ))
    np.testing.assert_allclose(f["TEMP_slope"], 0.01)
    emg_win = epochs.get_data(picks="EMG")[:, 0, :].reshape(3, 5, -1)
    np.testing.assert_allclose(f["EMG_power"], emg_win.var(axis=-1))
    np.testing.assert_allclose(f["EMG_power"], 9e-10, rtol=0.2)
    np.testing.assert_allclose(f["EMG_de"], 0.5 * np.log(2 * np.pi * np.e * f["EMG_power"]))
    # one SCR per epoch, in the window holding its peak (onset + 2 s)
    counts = f["GSR_scr_count"]
    np.testing.assert_array_equal(counts.sum(axis=1), [1, 1, 1])
    for e, onset in enumerate((5.0, 24.0, 44.0)):
        w = int((onset + 2.0 - 20.0 * e) // 4.0)
        assert counts[e, w] == 1
        np.testing.assert_allclose(f["GSR_scr_amplitude"][e, w], 0.2e-6, rtol=0.1)
    assert np.all(f["GSR_scr_amplitude"][counts == 0] == 0)
    np.testing.assert_allclose(f["GSR_tonic"], 5.1e-6, atol=0.15e-6)


def test_no_beats_gives_zero_not_nan():
    epochs = _epochs([np.zeros(int(20 * SFREQ)), 1e-5 * np.ones(int(20 * SFREQ))],
                     ["ecg", "bio"], ["ECG", "PPG"])
    out = PeripheralFeatures().fit_transform(epochs)
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[..., :3], 0.0)


def test_errors():
    rng = np.random.default_rng(3)
    n = int(20 * SFREQ)
    epochs = _epochs([_ecg(np.arange(0.5, 20, 0.8), n, rng)], ["ecg"], ["ECG"])
    with pytest.raises(TypeError, match="mne.BaseEpochs"):
        PeripheralFeatures().fit(epochs.get_data())
    with pytest.raises(ValueError, match=r"no channels.*'ecg'.*eeg \(1\)"):
        PeripheralFeatures().fit(_epochs([np.zeros(n)], ["eeg"]))
    with pytest.raises(ValueError, match="handles the channel types.*'eeg'"):
        both = _epochs([np.zeros(n), np.zeros(n)], ["ecg", "eeg"], ["ECG", "EEG"])
        PeripheralFeatures(picks=["ECG", "EEG"]).fit(both)
    with pytest.raises(ValueError, match="ecg_band.*Nyquist frequency 128.0"):
        PeripheralFeatures(ecg_band=(5.0, 200.0)).fit(epochs)
    with pytest.raises(ValueError, match="heart_rate_range.*low < high"):
        PeripheralFeatures(heart_rate_range=(200.0, 30.0)).fit(epochs)
    with pytest.raises(ValueError, match=r"shorter than one window \(window=30.0 s"):
        PeripheralFeatures(window=30.0).fit(epochs)
    data = epochs.get_data()
    data[0, 0, 100] = np.nan
    with pytest.raises(ValueError, match="NaN.*ECG"):
        PeripheralFeatures().fit_transform(mne.EpochsArray(data, epochs.info, verbose=False))
