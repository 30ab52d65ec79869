"""Tests of DifferentialEntropy and the trial-wise smoothers."""

import mne
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from mne_m2s.features import DEFAULT_BANDS, DifferentialEntropy, lds_smooth

SFREQ = 200.0
LOG_2PIE = np.log(2 * np.pi * np.e)


def _epochs(data, sfreq=SFREQ, ch_names=None, metadata=None, starts=None):
    """EpochsArray from (n_epochs, n_chans, n_times); events at ``starts`` (samples)."""
    n_epochs, n_chans, n_times = data.shape
    ch_names = ch_names or [f"EEG{i:02d}" for i in range(n_chans)]
    info = mne.create_info(ch_names, sfreq, "eeg")
    if starts is None:
        starts = np.arange(n_epochs) * n_times
    events = np.column_stack([starts, np.zeros(n_epochs, int), np.ones(n_epochs, int)])
    return mne.EpochsArray(data, info, events=events, metadata=metadata, verbose=False)


def _bandlimited_noise(rng, n_chans, n_times, lo, hi, sfreq=SFREQ):
    """Gaussian white noise band-passed to [lo, hi) by an ideal FFT filter."""
    x = rng.standard_normal((n_chans, n_times))
    spec = np.fft.rfft(x, axis=-1)
    freqs = np.fft.rfftfreq(n_times, 1 / sfreq)
    spec[:, (freqs < lo) | (freqs >= hi)] = 0
    return np.fft.irfft(spec, n=n_times, axis=-1)


@pytest.fixture(scope="module")
def alpha_noise():
    rng = np.random.default_rng(0)
    n_epochs, n_chans, n_times = 100, 3, 1000
    y = _bandlimited_noise(rng, n_chans, n_epochs * n_times, 8.0, 14.0)
    data = y.reshape(n_chans, n_epochs, n_times).transpose(1, 0, 2).copy()
    return _epochs(data), y.var(axis=1)


@pytest.mark.parametrize("window, tol, tol_power", [(4.0, 0.05, 0.04), (1.0, 0.15, 0.08)])
def test_de_of_bandpassed_gaussian_noise(alpha_noise, window, tol, tol_power):
    """DE matches 0.5 * log(2 pi e var) of band-passed Gaussian noise.

    Tolerance (nats) on the mean DE over windows: 0.05 with 4-s windows, 0.15 with
    1-s windows, whose 1-Hz resolution loses some power at the band's sharp edges
    (about 5 % of the power per edge bin); the DE of the mean band power over the
    windows, 0.04 and 0.08 nats.
    """
    epochs, var = alpha_noise
    de = DifferentialEntropy(window=window).fit_transform(epochs)
    de = de.reshape(de.shape[0], de.shape[1], 3, 5)
    alpha = de[..., list(DEFAULT_BANDS).index("alpha")]
    expected = 0.5 * np.log(2 * np.pi * np.e * var)
    np.testing.assert_allclose(alpha.mean(axis=(0, 1)), expected, atol=tol)
    mean_power = np.exp(2 * alpha - LOG_2PIE).mean(axis=(0, 1))
    np.testing.assert_allclose(0.5 * np.log(mean_power / var), 0.0, atol=tol_power)
    # per window, the estimate tracks the variance of that window's signal
    n_samp = int(window * SFREQ)
    x = epochs.get_data()[..., : de.shape[1] * n_samp].reshape(len(epochs), 3, -1, n_samp)
    realised = 0.5 * np.log(2 * np.pi * np.e * x.var(axis=-1)).transpose(0, 2, 1)
    assert np.corrcoef(realised.ravel(), alpha.ravel())[0, 1] > 0.6
    # the other bands hold far less power than alpha
    others = np.delete(de, list(DEFAULT_BANDS).index("alpha"), axis=-1)
    assert np.all(others.mean(axis=(0, 1)) < alpha.mean(axis=(0, 1))[:, None] - 0.5)


def test_band_powers_of_white_noise_are_unbiased():
    """For a flat spectrum the band power is sigma^2 * bandwidth / Nyquist.

    Within 5 %: removing each window's mean costs the lowest bins a little power
    (about 3 % of delta with 1-s windows); the other bands are within 3 %.
    """
    rng = np.random.default_rng(1)
    data = rng.standard_normal((200, 2, 1000))
    for output in ("de", "psd"):
        out = DifferentialEntropy(window=1.0, output=output).fit_transform(_epochs(data))
        out = out.reshape(200, 5, 2, 5)
        widths = np.array([hi - lo for lo, hi in DEFAULT_BANDS.values()])
        if output == "de":
            power = np.exp(2 * out - LOG_2PIE).mean(axis=(0, 1, 2))
            np.testing.assert_allclose(power, widths / (SFREQ / 2), rtol=0.05)
            np.testing.assert_allclose(power[1:], widths[1:] / (SFREQ / 2), rtol=0.03)
        else:  # mean PSD over the band: one-sided density of unit white noise, 2 / sfreq
            np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 2 / SFREQ, rtol=0.05)


@pytest.mark.parametrize("taper", ["hann", "boxcar"])
def test_sine_energy_in_alpha_only(taper):
    rng = np.random.default_rng(2)
    t = np.arange(1000) / SFREQ
    amp = 20e-6
    sine = amp * np.sin(2 * np.pi * 10.0 * t)
    data = np.tile(sine, (4, 2, 1)) + 1e-9 * rng.standard_normal((4, 2, 1000))
    est = DifferentialEntropy(window=1.0, taper=taper)
    de = est.fit_transform(_epochs(data)).reshape(4, 5, 2, 5)
    power = np.exp(2 * de - LOG_2PIE)
    alpha = list(DEFAULT_BANDS).index("alpha")
    np.testing.assert_allclose(power[..., alpha], amp**2 / 2, rtol=0.01)
    others = np.delete(power, alpha, axis=-1)
    assert others.max() < 1e-6 * power[..., alpha].min()


def test_layout_names_and_attributes():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((3, 4, 950)) * 1e-5
    est = DifferentialEntropy(window=2.0)
    out = est.fit_transform(_epochs(data, ch_names=["Fp1", "Fp2", "Cz", "Oz"]))
    assert out.shape == (3, 2, 20)  # floor(4.75 s / 2 s) = 2 windows
    assert est.n_windows_ == 2 and est.n_chans_ == 4 and est.n_bands_ == 5
    assert est.ch_names_ == ["Fp1", "Fp2", "Cz", "Oz"]
    names = est.get_feature_names_out()
    assert names[0] == "Fp1_delta" and names[1] == "Fp1_theta" and names[5] == "Fp2_delta"
    assert list(names) == list(est.feature_names_out_)
    # channel-major: reshaping gives (epochs, windows, channels, bands)
    single = DifferentialEntropy(window=2.0, picks=["Cz"]).fit_transform(
        _epochs(data, ch_names=["Fp1", "Fp2", "Cz", "Oz"]))
    np.testing.assert_allclose(out.reshape(3, 2, 4, 5)[:, :, 2], single)
    # transform equals fit_transform; a clone is unfitted with the same parameters
    np.testing.assert_allclose(est.transform(_epochs(data, ch_names=est.ch_names_)), out)
    cl = clone(est)
    assert cl.get_params() == est.get_params() and not hasattr(cl, "n_windows_")
    custom = DifferentialEntropy(bands={"low": (1, 10), "high": (10, 40)}).fit(
        _epochs(data, ch_names=["Fp1", "Fp2", "Cz", "Oz"]))
    assert custom.n_bands_ == 2 and custom.get_feature_names_out()[1] == "Fp1_high"


def test_flat_channel_is_floored_not_infinite():
    data = np.zeros((2, 1, 400))
    out = DifferentialEntropy().fit_transform(_epochs(data))
    assert np.all(np.isfinite(out))


# -- smoothing ------------------------------------------------------------------------
def _seed_lds_reference(x):
    """Direct transcription of the SEED reference LDS code; x (n_steps, n_features)."""
    m, n = x.T.shape
    obs = x.T
    v0, a, q, c, r = 0.01, 1.0, 0.0001, 1.0, 1.0
    u0 = obs.mean(axis=1)
    p = np.zeros((m, n))
    u = np.zeros((m, n))
    v = np.zeros((m, n))
    k = np.zeros((m, n))
    k[:, 0] = v0 * c / (c * v0 * c + r)
    u[:, 0] = u0 + k[:, 0] * (obs[:, 0] - c * u0)
    v[:, 0] = (1 - k[:, 0] * c) * v0
    for i in range(1, n):
        p[:, i - 1] = a * v[:, i - 1] * a + q
        k[:, i] = p[:, i - 1] * c / (c * p[:, i - 1] * c + r)
        u[:, i] = a * u[:, i - 1] + k[:, i] * (obs[:, i] - c * a * u[:, i - 1])
        v[:, i] = (1 - k[:, i] * c) * p[:, i - 1]
    uu = np.zeros((m, n))
    uu[:, -1] = u[:, -1]
    for i in range(n - 2, -1, -1):
        j = v[:, i] * a / p[:, i]
        uu[:, i] = u[:, i] + j * (uu[:, i + 1] - a * u[:, i])
    return uu.T


def test_lds_smooth_matches_seed_reference():
    rng = np.random.default_rng(4)
    x = np.cumsum(rng.standard_normal((60, 7)) * 0.1, axis=0) + rng.standard_normal((60, 7))
    np.testing.assert_allclose(lds_smooth(x), _seed_lds_reference(x), rtol=1e-10, atol=1e-12)
    # batched along another axis gives the same
    batch = np.stack([x, 2 * x])
    np.testing.assert_allclose(lds_smooth(batch, axis=1)[1], lds_smooth(2 * x), atol=1e-12)
    # causal output at t ignores the future
    y = x.copy()
    y[40:] += 5.0
    np.testing.assert_allclose(lds_smooth(y, causal=True)[:40], lds_smooth(x, causal=True)[:40])
    with pytest.raises(ValueError, match="process_var"):
        lds_smooth(x, process_var=0.0)


def _trial_epochs(rng, n_trials=2, epochs_per_trial=4, n_chans=2, offsets=None):
    """Consecutive 5-s epochs; trial (run) t has epochs_per_trial epochs."""
    n_times = 1000
    data = rng.standard_normal((n_trials * epochs_per_trial, n_chans, n_times)) * 1e-5
    if offsets is not None:
        for t, off in enumerate(offsets):
            data[t * epochs_per_trial:(t + 1) * epochs_per_trial] *= off
    runs = np.repeat(np.arange(n_trials), epochs_per_trial)
    metadata = pd.DataFrame({"subject": 1, "session": 1, "run": runs})
    return _epochs(data, metadata=metadata)


@pytest.mark.parametrize("smoothing", ["lds", "moving_average"])
@pytest.mark.parametrize("causal", [False, True])
def test_smoothing_reduces_variance_and_never_mixes_trials(smoothing, causal):
    rng = np.random.default_rng(5)
    epochs = _trial_epochs(rng)
    raw_de = DifferentialEntropy().fit_transform(epochs)
    est = DifferentialEntropy(smoothing=smoothing, causal=causal)
    smooth = est.fit_transform(epochs)
    assert smooth.shape == raw_de.shape
    trial_a = smooth[:4].reshape(20, -1)
    raw_a = raw_de[:4].reshape(20, -1)
    assert np.var(np.diff(trial_a, axis=0)) < 0.5 * np.var(np.diff(raw_a, axis=0))
    # changing trial B (scaling its signal by 100) leaves trial A exactly unchanged
    rng = np.random.default_rng(5)
    other = _trial_epochs(rng, offsets=[1.0, 100.0])
    smooth_other = est.transform(other)
    np.testing.assert_array_equal(smooth_other[:4], smooth[:4])
    assert not np.allclose(smooth_other[4:], smooth[4:])
    # the first window of trial B is not pulled toward trial A's values
    b_alone = est.transform(other[4:])
    np.testing.assert_allclose(smooth_other[4:], b_alone, rtol=1e-12)


def test_smoothing_without_metadata_is_per_epoch():
    rng = np.random.default_rng(6)
    epochs = _trial_epochs(rng)
    epochs.metadata = None
    est = DifferentialEntropy(smoothing="lds")
    out = est.fit_transform(epochs)
    for i in (0, 5):
        np.testing.assert_allclose(out[i:i + 1], est.transform(epochs[i]), rtol=1e-12)
    # trial_col=None has the same effect even with metadata
    epochs2 = _trial_epochs(np.random.default_rng(6))
    np.testing.assert_allclose(
        DifferentialEntropy(smoothing="lds", trial_col=None).fit_transform(epochs2), out)


def test_smoothing_of_overlapping_epochs_uses_each_window_once():
    """Windows of overlapping epochs that start at the same sample are one time point."""
    rng = np.random.default_rng(7)
    raw = mne.io.RawArray(rng.standard_normal((2, 20 * 200)) * 1e-5,
                          mne.create_info(2, SFREQ, "eeg"), verbose=False)
    flat = mne.make_fixed_length_epochs(raw, duration=5.0, preload=True, verbose=False)
    flat.metadata = pd.DataFrame({"run": np.zeros(len(flat), int)})
    over = mne.make_fixed_length_epochs(raw, duration=5.0, overlap=4.0, preload=True,
                                        verbose=False)
    over.metadata = pd.DataFrame({"run": np.zeros(len(over), int)})
    est = DifferentialEntropy(smoothing="lds", trial_col="run")
    a = est.fit_transform(flat).reshape(20, -1)  # the 20 one-second windows in time order
    b = est.transform(over)  # epoch i covers windows i .. i + 4
    for i in range(len(over)):
        np.testing.assert_allclose(b[i], a[i:i + 5], rtol=1e-10)


def test_lds_noise_fitted_in_fit_only():
    rng = np.random.default_rng(8)
    epochs = _trial_epochs(rng, n_trials=3, epochs_per_trial=6)
    est = DifferentialEntropy(smoothing="lds", smoothing_params={"fit_noise": True})
    out = est.fit_transform(epochs)
    params = {k: np.copy(v) for k, v in est.smoothing_params_.items()
              if k in ("process_var", "obs_var")}
    assert params["obs_var"].shape == (est.n_chans_ * est.n_bands_,)
    assert np.all(params["obs_var"] > 0) and np.all(params["process_var"] > 0)
    np.testing.assert_allclose(est.transform(epochs), out)
    test = _trial_epochs(np.random.default_rng(9), offsets=[3.0, 0.1])
    est.transform(test)
    for k, v in params.items():
        np.testing.assert_array_equal(est.smoothing_params_[k], v)


def test_lds_noise_estimate_recovers_local_level_model():
    from mne_m2s.features._smoothing import _estimate_lds_noise

    rng = np.random.default_rng(10)
    q, r = 0.04, 1.0
    segs = [np.cumsum(rng.normal(0, np.sqrt(q), (400, 3)), axis=0)
            + rng.normal(0, np.sqrt(r), (400, 3)) for _ in range(10)]
    est = _estimate_lds_noise(segs, 0.01)
    np.testing.assert_allclose(est["obs_var"], r, rtol=0.1)
    np.testing.assert_allclose(est["process_var"], q, rtol=0.3)


# -- errors -------------------------------------------------------------------------
def test_errors():
    rng = np.random.default_rng(11)
    epochs = _epochs(rng.standard_normal((2, 2, 400)) * 1e-5)
    with pytest.raises(TypeError, match="mne.BaseEpochs.*ndarray"):
        DifferentialEntropy().fit(epochs.get_data())
    with pytest.raises(ValueError, match=r"shorter than one window \(window=4.0 s"):
        DifferentialEntropy(window=4.0).fit(epochs)
    with pytest.raises(ValueError, match="Nyquist"):
        DifferentialEntropy(bands={"high": (40.0, 120.0)}).fit(epochs)
    with pytest.raises(ValueError, match="low < high"):
        DifferentialEntropy(bands={"bad": (10.0, 5.0)}).fit(epochs)
    with pytest.raises(TypeError, match="bands must be None or a dict"):
        DifferentialEntropy(bands=[(1, 4)]).fit(epochs)
    with pytest.raises(ValueError, match="'output'.*Did you mean 'psd'"):
        DifferentialEntropy(output="pds").fit(epochs)
    with pytest.raises(ValueError, match="'smoothing'"):
        DifferentialEntropy(smoothing="kalman").fit(epochs)
    with pytest.raises(ValueError, match="unknown key.*'size'"):
        DifferentialEntropy(smoothing="lds", smoothing_params={"size": 3}).fit(epochs)
    with pytest.raises(ValueError, match="taper"):
        DifferentialEntropy(taper="nope").fit(epochs)
    with pytest.raises(ValueError, match="window must be > 0"):
        DifferentialEntropy(window=-1.0).fit(epochs)
    with pytest.raises(ValueError, match="trial_col='run'.*no metadata"):
        DifferentialEntropy(smoothing="lds", trial_col="run").fit_transform(epochs)
    with pytest.raises(ValueError, match="not in the epochs' metadata"):
        DifferentialEntropy(smoothing="lds", trial_col="trial").fit_transform(
            _trial_epochs(rng))
    nan = epochs.get_data()
    nan[1, 1, 10] = np.nan
    with pytest.raises(ValueError, match="NaN.*EEG01"):
        DifferentialEntropy().fit_transform(_epochs(nan))
    ecg_only = mne.EpochsArray(rng.standard_normal((2, 1, 400)),
                               mne.create_info(["ECG"], SFREQ, "ecg"), verbose=False)
    with pytest.raises(ValueError, match=r"no channels.*'eeg'.*ecg \(1\)"):
        DifferentialEntropy().fit(ecg_only)
    with pytest.raises(ValueError, match="Did you mean 'EEG01'"):
        DifferentialEntropy(picks=["EEG1"]).fit(epochs)
    with pytest.raises(NotFittedError):
        DifferentialEntropy().transform(epochs)
    est = DifferentialEntropy().fit(epochs)
    with pytest.raises(ValueError, match="lack: EEG01"):
        est.transform(epochs.copy().drop_channels(["EEG01"]))
    with pytest.raises(ValueError, match="fitted at sfreq=200.0 Hz"):
        est.transform(_epochs(rng.standard_normal((2, 2, 800)), sfreq=400.0))


def test_non_preloaded_epochs_and_chunking(monkeypatch):
    """Epochs read lazily, and preloaded epochs read in several chunks, agree."""
    import mne_m2s.features._base as base

    rng = np.random.default_rng(12)
    raw = mne.io.RawArray(rng.standard_normal((3, 20 * 200)) * 1e-5,
                          mne.create_info(3, SFREQ, "eeg"), verbose=False)
    events = mne.make_fixed_length_events(raw, duration=4.0)
    lazy = mne.Epochs(raw, events, tmin=0.0, tmax=4.0 - 1 / SFREQ, baseline=None,
                      preload=False, verbose=False)
    eager = mne.Epochs(raw, events, tmin=0.0, tmax=4.0 - 1 / SFREQ, baseline=None,
                       preload=True, verbose=False)
    ref = DifferentialEntropy(picks="eeg").fit_transform(eager)
    np.testing.assert_allclose(DifferentialEntropy().fit_transform(lazy), ref)
    monkeypatch.setattr(base, "_CHUNK_SAMPLES", 2 * 3 * 800)  # two epochs per chunk
    np.testing.assert_allclose(DifferentialEntropy().fit_transform(eager), ref)
