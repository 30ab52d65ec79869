"""Peripheral physiological features (ECG, GSR, respiration, temperature, EMG/EOG/bio)."""

import numpy as np
from scipy.ndimage import uniform_filter1d
from scipy.signal import butter, find_peaks, sosfiltfilt

from ..modalities import DEFAULT_MODALITY_MAP
from ..utils import logger
from ..utils._checks import check_float
from ._base import _check_finite, _EpochsTransformer, _get_data_chunks

_LOG_2PIE = np.log(2.0 * np.pi * np.e)
_POWER_FLOOR = 1e-30

#: Features per channel type: (name, unit). Units are those of MNE's SI storage.
PERIPHERAL_FEATURES = {
    "ecg": (("hr", "bpm"), ("sdnn", "ms"), ("rmssd", "ms")),
    "gsr": (("tonic", "S"), ("scr_count", "count"), ("scr_amplitude", "S")),
    "resp": (("rate", "breaths/min"), ("depth", "resp unit")),
    "temperature": (("level", "degC"), ("slope", "degC/s")),
    "emg": (("power", "V^2"), ("de", "nats")),
    "eog": (("power", "V^2"), ("de", "nats")),
    "bio": (("power", "unit^2"), ("de", "nats")),
}


def _check_range(name, value, nyquist=None):
    ok = isinstance(value, (tuple, list)) and len(value) == 2
    if not ok:
        raise TypeError(f"{name} must be a (low, high) pair of numbers, got {value!r}.")
    lo = check_float(f"{name}[0]", value[0], min_value=0.0, inclusive=False)
    hi = check_float(f"{name}[1]", value[1], min_value=0.0, inclusive=False)
    if hi <= lo:
        raise ValueError(f"{name} = {value!r} must satisfy low < high.")
    if nyquist is not None and hi >= nyquist:
        raise ValueError(
            f"{name} = {value!r} Hz reaches the Nyquist frequency {nyquist} Hz of the data "
            f"(sfreq={2 * nyquist} Hz); use a band below {nyquist} Hz."
        )
    return lo, hi


def _filtfilt(sos, x):
    """Zero-phase filtering along the last axis, padding limited for short epochs."""
    padlen = min(3 * (2 * len(sos) + 1), x.shape[-1] - 1)
    return sosfiltfilt(sos, x, axis=-1, padlen=padlen)


def _window_mean(signal, n_win, n_samp):
    return signal[:, : n_win * n_samp].reshape(len(signal), n_win, n_samp).mean(axis=-1)


def _rate_signal(peaks, n_times, sfreq, lo_rate, hi_rate):
    """Instantaneous rate (events/min) at every sample, from event samples.

    Each valid inter-event interval (rate within ``[lo_rate, hi_rate]``) gives the rate
    ``60 / interval`` at its midpoint; rates are linearly interpolated between midpoints
    and held constant before the first and after the last. Returns None if no interval
    is valid.
    """
    if len(peaks) < 2:
        return None
    ibi = np.diff(peaks) / sfreq
    rate = 60.0 / ibi
    valid = (rate >= lo_rate) & (rate <= hi_rate)
    if not valid.any():
        return None
    mid = (peaks[:-1] + peaks[1:])[valid] / 2.0
    return np.interp(np.arange(n_times), mid, rate[valid])


def _refine_peaks(signal, peaks, half):
    """Move each peak to the maximum of ``signal`` within ``half`` samples around it."""
    if len(peaks) == 0:
        return peaks
    offsets = np.arange(-half, half + 1)
    idx = np.clip(peaks[:, None] + offsets[None, :], 0, len(signal) - 1)
    refined = idx[np.arange(len(peaks)), np.argmax(signal[idx], axis=1)]
    return np.unique(refined)


class PeripheralFeatures(_EpochsTransformer):
    """Per-window features of peripheral physiological signals, by channel type.

    Each picked channel contributes the features of its MNE channel type (output
    order: channels in channel order, each channel's features in the order below,
    named ``"{channel}_{feature}"``). Units assume MNE's SI storage (V, S, degrees C).

    Parameters
    ----------
    window : float
        Window length in seconds.
    picks : str | list | None
        Channels to use; ``None``: all good channels of the types ``ecg``, ``eog``,
        ``emg``, ``gsr``, ``resp``, ``temperature`` and ``bio``.
    ecg_band : tuple of float
        Band-pass (Hz) emphasising the QRS complex for R-peak detection.
    heart_rate_range : tuple of float
        Plausible heart rates (bpm); R-R intervals outside are ignored, and R peaks
        closer than ``60 / heart_rate_range[1]`` s are not detected.
    hrv_span : float
        Seconds of R-R intervals, centred on each window, over which SDNN and RMSSD are
        computed (at least the window; clipped to the epoch): HRV needs several beats.
    scr_min_amplitude : float
        Minimum prominence of a skin-conductance response, in siemens (default
        0.01 microsiemens, the usual SCR criterion).
    resp_band : tuple of float
        Band-pass (Hz) of the respiration signal (0.1-1 Hz: 6-60 breaths per minute).

    Attributes
    ----------
    n_windows_ : int
        Windows per epoch in the training epochs.
    ch_names_ : list of str
        The channels used.
    feature_names_out_ : ndarray of str, shape (n_features,)
        ``"{channel}_{feature}"``.
    feature_units_ : list of str
        Unit of each feature.

    Notes
    -----
    Features per channel type (windows without the needed events get 0, never NaN):

    * ``ecg``: ``hr`` (bpm), ``sdnn`` and ``rmssd`` (ms). R peaks are found on the whole
      epoch: zero-phase Butterworth band-pass ``ecg_band``, squared, smoothed over
      100 ms; peaks above 30 % of the epoch's 99th percentile of that envelope, at
      least ``60 / max heart rate`` apart (:func:`scipy.signal.find_peaks`), each moved
      to the largest absolute band-passed value within 50 ms (the R peak). ``hr`` is
      the window mean of the instantaneous heart rate (``60 / RR`` at each interval's
      midpoint, interpolated linearly); SDNN is the sample standard deviation of the
      R-R intervals whose midpoint lies in the ``hrv_span`` around the window, RMSSD
      the root mean square of the differences of successive intervals there. 0 with
      fewer than 2 valid R peaks in the epoch (SDNN: fewer than 2 intervals; RMSSD:
      no pair).
    * ``gsr``: ``tonic`` (S), window mean of the 1 Hz low-passed signal;
      ``scr_count``, the skin-conductance responses (peaks of the low-passed signal
      with prominence >= ``scr_min_amplitude``) peaking in the window;
      ``scr_amplitude`` (S), their mean rise from the preceding trough (0 if none).
    * ``resp``: ``rate`` (breaths/min), window mean of the instantaneous breathing
      rate from the inhalation peaks of the ``resp_band`` band-passed signal (peaks at
      least 1 s apart with prominence >= half its standard deviation over the epoch; 0
      with fewer than 2 peaks); ``depth`` (unit of the channel), ``2 * sqrt(2)`` times
      the standard deviation of the band-passed signal in the window (the
      peak-to-peak amplitude of a sinusoid of the same power).
    * ``temperature``: ``level`` (degrees C), window mean; ``slope`` (degrees C/s),
      least-squares slope within the window.
    * ``emg``, ``eog``, ``bio``: ``power`` (unit^2), variance in the window, and
      ``de`` (nats), ``0.5 * log(2 * pi * e * power)`` (power floored at 1e-30).

    Filters run on whole epochs, so the epoch edges carry filter transients: use
    epochs longer than the windows of interest when possible. NaN values raise a
    ValueError.
    """

    _default_types = DEFAULT_MODALITY_MAP["pps"]

    def __init__(self, window=1.0, picks=None, ecg_band=(5.0, 15.0),
                 heart_rate_range=(30.0, 220.0), hrv_span=10.0, scr_min_amplitude=1e-8,
                 resp_band=(0.1, 1.0)):
        self.window = window
        self.picks = picks
        self.ecg_band = ecg_band
        self.heart_rate_range = heart_rate_range
        self.hrv_span = hrv_span
        self.scr_min_amplitude = scr_min_amplitude
        self.resp_band = resp_band

    def _setup(self, epochs, picks):
        nyquist = self.sfreq_ / 2.0
        types = set(self.ch_types_)
        unsupported = sorted(types - set(PERIPHERAL_FEATURES))
        if unsupported:
            pairs = zip(self.ch_names_, self.ch_types_, strict=True)
            bad = [c for c, t in pairs if t in unsupported]
            raise ValueError(
                f"PeripheralFeatures handles the channel types {sorted(PERIPHERAL_FEATURES)}, "
                f"but picks selected channels of type(s) {unsupported}: {bad[:10]}."
            )
        self._ecg_band = (_check_range("ecg_band", self.ecg_band, nyquist)
                          if "ecg" in types else None)
        self._resp_band = (_check_range("resp_band", self.resp_band, nyquist)
                           if "resp" in types else None)
        self._hr_range = _check_range("heart_rate_range", self.heart_rate_range)
        check_float("hrv_span", self.hrv_span, min_value=0.0)
        check_float("scr_min_amplitude", self.scr_min_amplitude, min_value=0.0,
                    inclusive=False)
        names, units = [], []
        for ch, ch_type in zip(self.ch_names_, self.ch_types_, strict=True):
            for feat, unit in PERIPHERAL_FEATURES[ch_type]:
                names.append(f"{ch}_{feat}")
                units.append(unit)
        self.feature_names_out_ = np.array(names, dtype=object)
        self.feature_units_ = units

    def _compute(self, epochs, picks):
        n_samp, n_win = self._windows_of(epochs)
        n_times = len(epochs.times)
        offsets = np.cumsum([0] + [len(PERIPHERAL_FEATURES[t]) for t in self.ch_types_])
        methods = {"ecg": self._ecg, "gsr": self._gsr, "resp": self._resp,
                   "temperature": self._temperature}
        chunks = []
        for _, data in _get_data_chunks(epochs, picks, n_times):
            _check_finite(data, self.ch_names_, type(self).__name__)
            out = np.zeros((data.shape[0], n_win, offsets[-1]))
            for ch_type in dict.fromkeys(self.ch_types_):
                ks = [k for k, t in enumerate(self.ch_types_) if t == ch_type]
                rows = data[:, ks].reshape(-1, n_times)
                feats = methods.get(ch_type, self._power)(rows, n_samp, n_win)
                feats = feats.reshape(data.shape[0], len(ks), n_win, -1)
                for j, k in enumerate(ks):
                    out[:, :, offsets[k]:offsets[k + 1]] = feats[:, j]
            chunks.append(out)
        return np.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]

    # -- per channel type: rows (n_rows, n_times) -> (n_rows, n_win, n_feat) -----------
    def _ecg(self, x, n_samp, n_win):
        sfreq = self.sfreq_
        n_rows, n_times = x.shape
        lo_hr, hi_hr = self._hr_range
        sos = butter(3, self._ecg_band, btype="bandpass", fs=sfreq, output="sos")
        bp = _filtfilt(sos, x)
        env = uniform_filter1d(bp**2, size=max(1, int(round(0.1 * sfreq))), axis=-1)
        half = max(1, int(round(0.05 * sfreq)))
        thresh = 0.3 * np.percentile(env, 99, axis=-1)
        distance = max(1, int(np.floor(60.0 / hi_hr * sfreq)))
        out = np.zeros((n_rows, n_win, 3))
        win_sec = n_samp / sfreq
        span = max(self.hrv_span, win_sec)
        centres = (np.arange(n_win) + 0.5) * win_sec
        lo_t, hi_t = centres - span / 2, centres + span / 2
        n_missing = 0
        for i in range(n_rows):
            if thresh[i] <= 0:
                n_missing += 1
                continue
            peaks, _ = find_peaks(env[i], height=thresh[i], distance=distance)
            peaks = _refine_peaks(np.abs(bp[i]), peaks, half)
            rate = _rate_signal(peaks, n_times, sfreq, lo_hr, hi_hr)
            if rate is None:
                n_missing += 1
                continue
            out[i, :, 0] = _window_mean(rate[None], n_win, n_samp)[0]
            rr = np.diff(peaks) / sfreq * 1e3  # ms
            valid = (rr >= 6e4 / hi_hr) & (rr <= 6e4 / lo_hr)
            mid = (peaks[:-1] + peaks[1:]) / 2.0 / sfreq
            # SDNN over valid intervals with midpoint in each window's span
            t_v, rr_v = mid[valid], rr[valid]
            c1 = np.concatenate([[0.0], np.cumsum(rr_v)])
            c2 = np.concatenate([[0.0], np.cumsum(rr_v**2)])
            a, b = np.searchsorted(t_v, lo_t), np.searchsorted(t_v, hi_t)
            n = (b - a).astype(float)
            s1, s2 = c1[b] - c1[a], c2[b] - c2[a]
            var = np.zeros(n_win)
            ok = n >= 2
            var[ok] = np.maximum(s2[ok] - s1[ok] ** 2 / n[ok], 0.0) / (n[ok] - 1)
            out[i, :, 1] = np.sqrt(var)
            # RMSSD over successive valid pairs, timed at their shared beat
            pair = valid[:-1] & valid[1:]
            d = np.diff(rr)[pair]
            t_d = peaks[1:-1][pair] / sfreq
            c3 = np.concatenate([[0.0], np.cumsum(d**2)])
            a, b = np.searchsorted(t_d, lo_t), np.searchsorted(t_d, hi_t)
            m = b - a
            ms = np.zeros(n_win)
            np.divide(c3[b] - c3[a], m, out=ms, where=m > 0)
            out[i, :, 2] = np.sqrt(ms)
        if n_missing:
            logger.warning(
                "PeripheralFeatures: %d ECG epoch-channel(s) with fewer than 2 valid R peaks; "
                "their heart-rate features are 0.", n_missing)
        return out

    def _gsr(self, x, n_samp, n_win):
        sfreq = self.sfreq_
        n_rows, n_times = x.shape
        if sfreq / 2.0 > 1.0:
            x = _filtfilt(butter(2, 1.0, btype="lowpass", fs=sfreq, output="sos"), x)
        out = np.zeros((n_rows, n_win, 3))
        out[..., 0] = _window_mean(x, n_win, n_samp)
        wlen = int(round(8.0 * sfreq)) | 1  # bases searched within +-4 s of each peak
        for i in range(n_rows):
            peaks, props = find_peaks(x[i], prominence=self.scr_min_amplitude, wlen=wlen)
            win = peaks // n_samp
            keep = win < n_win
            amp = x[i, peaks] - x[i, props["left_bases"]]
            win, amp = win[keep], amp[keep]
            count = np.bincount(win, minlength=n_win)
            total = np.bincount(win, weights=amp, minlength=n_win)
            out[i, :, 1] = count
            np.divide(total, count, out=out[i, :, 2], where=count > 0)
        return out

    def _resp(self, x, n_samp, n_win):
        sfreq = self.sfreq_
        n_rows, n_times = x.shape
        bp = _filtfilt(butter(2, self._resp_band, btype="bandpass", fs=sfreq, output="sos"), x)
        out = np.zeros((n_rows, n_win, 2))
        lo_rate, hi_rate = 60.0 * self._resp_band[0], 60.0 * self._resp_band[1]
        std = bp.std(axis=-1)
        distance = max(1, int(round(60.0 / hi_rate * sfreq)))
        for i in range(n_rows):
            if std[i] <= 0:
                continue
            peaks, _ = find_peaks(bp[i], distance=distance, prominence=0.5 * std[i])
            rate = _rate_signal(peaks, n_times, sfreq, lo_rate, hi_rate)
            if rate is not None:
                out[i, :, 0] = _window_mean(rate[None], n_win, n_samp)[0]
        win = bp[:, : n_win * n_samp].reshape(n_rows, n_win, n_samp)
        out[..., 1] = 2.0 * np.sqrt(2.0) * win.std(axis=-1)
        return out

    def _temperature(self, x, n_samp, n_win):
        win = x[:, : n_win * n_samp].reshape(len(x), n_win, n_samp)
        t = (np.arange(n_samp) - (n_samp - 1) / 2.0) / self.sfreq_
        mean = win.mean(axis=-1)
        slope = ((win - mean[..., None]) @ t) / np.sum(t**2)
        return np.stack([mean, slope], axis=-1)

    def _power(self, x, n_samp, n_win):
        win = x[:, : n_win * n_samp].reshape(len(x), n_win, n_samp)
        power = win.var(axis=-1)
        de = 0.5 * (np.log(np.maximum(power, _POWER_FLOOR)) + _LOG_2PIE)
        return np.stack([power, de], axis=-1)
