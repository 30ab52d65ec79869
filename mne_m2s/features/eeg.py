"""Differential entropy (DE) and band power of EEG windows, with SEED-style smoothing."""

import numbers

import numpy as np
import scipy.fft
from scipy.signal import get_window

from ..utils import logger
from ..utils._checks import check_option
from ._base import (
    _check_finite,
    _EpochsTransformer,
    _get_data_chunks,
    _raw_sfreq,
    _window_stats_reshape,
)
from ._smoothing import (
    _check_smoothing_params,
    _check_trial_col,
    _estimate_lds_noise,
    _moving_average,
    _smooth_by_trial,
    _timeline,
    _timeline_segments,
    lds_smooth,
)

#: The five SEED bands (Hz), in order: name -> (low, high).
DEFAULT_BANDS = {
    "delta": (1.0, 4.0),
    "theta": (4.0, 8.0),
    "alpha": (8.0, 14.0),
    "beta": (14.0, 31.0),
    "gamma": (31.0, 50.0),
}

_LOG_2PIE = np.log(2.0 * np.pi * np.e)
# Band powers below this (in the data's unit squared, V^2 for EEG) are floored before the log.
_POWER_FLOOR = 1e-30


def _check_bands(bands, sfreq, name="bands"):
    """Validate ``bands`` (dict name -> (low, high) in Hz) against the Nyquist frequency."""
    if not isinstance(bands, dict):
        raise TypeError(
            f"{name} must be None or a dict mapping band names to (low, high) in Hz, e.g. "
            f"{{'alpha': (8, 14)}}, got {type(bands).__name__} instead."
        )
    if not bands:
        raise ValueError(f"{name} must contain at least one band, got an empty dict.")
    nyquist = sfreq / 2.0
    out = {}
    for band, edges in bands.items():
        if not isinstance(band, str):
            raise TypeError(f"{name} keys must be str band names, got {band!r}.")
        ok = isinstance(edges, (tuple, list, np.ndarray)) and len(edges) == 2 and all(
            isinstance(e, numbers.Real) and not isinstance(e, bool) for e in edges
        )
        if not ok:
            raise TypeError(
                f"{name}[{band!r}] must be a (low, high) pair of numbers in Hz, got {edges!r}."
            )
        lo, hi = float(edges[0]), float(edges[1])
        if not (np.isfinite(lo) and np.isfinite(hi)) or lo < 0 or hi <= lo:
            raise ValueError(
                f"{name}[{band!r}] = {edges!r} must satisfy 0 <= low < high (Hz)."
            )
        if hi > nyquist:
            raise ValueError(
                f"{name}[{band!r}] = {edges!r} reaches above the Nyquist frequency "
                f"{nyquist} Hz of the data (sfreq={sfreq} Hz). Lower the band edge to "
                f"<= {nyquist} Hz or use data sampled faster."
            )
        out[band] = (lo, hi)
    return out


def _band_matrix(n_samp, sfreq, bands, taper):
    """Weights turning a window's |rfft|^2 into band powers.

    Returns ``W`` of shape (n_freqs, n_bands) such that ``|rfft(x * taper)|^2 @ W`` is the
    power (variance) of each band. Frequency bin ``k`` stands for the interval
    ``[f_k - df/2, f_k + df/2)`` clipped to ``[0, sfreq/2]``; its weight in a band is the
    fraction of that interval inside the band (for edges on bins: the trapezoid rule).
    The one-sided density scaling ``c_k / (n * sum(taper^2))`` (``c_k = 2`` except at 0 Hz
    and Nyquist) makes the weights of a band partition sum to the window's mean power
    ``sum((x * taper)^2) / sum(taper^2)``.
    """
    freqs = scipy.fft.rfftfreq(n_samp, 1.0 / sfreq)
    df = sfreq / n_samp
    nyquist = sfreq / 2.0
    lo_bin = np.clip(freqs - df / 2, 0.0, nyquist)
    hi_bin = np.clip(freqs + df / 2, 0.0, nyquist)
    width = hi_bin - lo_bin
    scale = np.full(freqs.shape, 2.0)
    scale[0] = 1.0
    if n_samp % 2 == 0:
        scale[-1] = 1.0
    scale /= n_samp * np.sum(taper**2)
    weights = np.empty((len(freqs), len(bands)))
    for j, (lo, hi) in enumerate(bands.values()):
        overlap = np.clip(np.minimum(hi_bin, hi) - np.maximum(lo_bin, lo), 0.0, None)
        weights[:, j] = scale * overlap / width
    return weights


class DifferentialEntropy(_EpochsTransformer):
    """Differential entropy (or band power) of each channel and band, per window.

    Each epoch is cut into non-overlapping windows of ``window`` seconds. For each
    window, channel and band the band power ``P`` (the variance of the band-limited
    signal) is estimated from a tapered periodogram, and the differential entropy
    of a Gaussian signal with that variance, ``0.5 * log(2 * pi * e * P)`` (nats), is
    returned. Features are channel-major: feature ``c * n_bands + b`` is channel ``c``,
    band ``b``, named ``"{channel}_{band}"``; reshape to
    ``(n_epochs, n_windows, n_chans_, n_bands_)`` for electrode-wise models.

    Parameters
    ----------
    window : float
        Window length in seconds (SEED: 1 s; SEED-IV and SEED-V: 4 s).
    bands : dict | None
        Ordered mapping band name -> ``(low, high)`` in Hz; a frequency ``f`` belongs
        to ``[low, high)``. ``None`` uses the five SEED bands delta 1-4, theta 4-8,
        alpha 8-14, beta 14-31, gamma 31-50 Hz. Band edges must not exceed the
        Nyquist frequency.
    output : "de" | "psd"
        ``"de"``: differential entropy ``0.5 * log(2 * pi * e * P)`` in nats of the
        band power ``P`` in the data's unit squared (V^2 for EEG, so DE in SI units;
        a change of unit only adds a constant). ``"psd"``: the mean power spectral
        density over the band, ``P / (high - low)``, in unit^2/Hz.
    smoothing : None | "moving_average" | "lds"
        Smoothing of each feature along the windows of a trial (the published SEED
        ``de_movingAve`` and ``de_LDS``). Never mixes two trials (see ``trial_col``).
    causal : bool
        With smoothing, use only the current and past windows: a trailing moving
        average, or the Kalman filter without the backward (RTS) pass.
    smoothing_params : dict | None
        ``"moving_average"``: ``{"size": 5}``, the number of windows averaged
        (centred, truncated at the trial's ends). ``"lds"``: ``{"process_var": 1e-4,
        "obs_var": 1.0, "init_var": 0.01, "init_mean": "auto", "fit_noise": False}``,
        see :func:`lds_smooth` (defaults of the SEED reference code). With
        ``fit_noise=True`` the process and observation variances are estimated per
        feature in :meth:`fit` from the training epochs (least-squares fit of the
        within-trial variogram, see ``_estimate_lds_noise``) and reused unchanged by
        :meth:`transform`.
    trial_col : "auto" | str | list of str | None
        Metadata columns identifying a trial (e.g. one film clip): epochs with the
        same values form one trial, whose windows are ordered in time by their start
        sample (windows of overlapping epochs starting at the same sample count once).
        ``"auto"`` uses those of ``("subject", "session", "run")`` that
        ``epochs.metadata`` has; without metadata, or with ``None``, each epoch is its
        own trial.
    picks : str | list | None
        Channels to use (names, types or indices). ``None``: all good ``eeg`` channels.
    taper : str | tuple
        Window function of the periodogram, any :func:`scipy.signal.get_window`
        specification (``"hann"``, ``"boxcar"``, ...).

    Attributes
    ----------
    n_windows_ : int
        Windows per epoch in the training epochs.
    ch_names_ : list of str
        The channels used, in output order.
    n_chans_ : int
        Number of channels.
    n_bands_ : int
        Number of bands.
    bands_ : dict
        The validated bands.
    feature_names_out_ : ndarray of str, shape (n_chans * n_bands,)
        ``"{channel}_{band}"``, channel-major.
    smoothing_params_ : dict
        The smoothing parameters used by ``transform`` (with ``fit_noise``, arrays of
        shape (n_features,) learnt in ``fit``).

    Notes
    -----
    **Spectral estimate.** Per window, the mean is removed, the taper applied and
    the one-sided periodogram computed with one real FFT over all epochs, channels
    and windows at once; band powers are a fixed linear map of the periodogram
    (frequency bins weighted by their overlap with the band, i.e. the trapezoid
    rule when the band edges fall on bins; see ``_band_matrix``). By Parseval the
    powers of a partition of ``[0, sfreq/2]`` sum to the window's (taper-weighted)
    variance, so for a Gaussian band-limited signal the output is an estimate of
    its DE, ``0.5 * log(2 * pi * e * sigma^2)``. A filter bank (band-pass, then the
    variance per window) estimates the same quantity; the periodogram is chosen
    because it treats windows independently (no filter transients at epoch
    edges), handles any band set with one FFT, and is an order of magnitude
    faster (one hour of 62-channel 200 Hz EEG in well under a second). It is also
    what the SEED reference code does (a Hann-tapered STFT).

    A band power of exactly zero (a flat channel) is floored at 1e-30 unit^2
    before the log and a warning is logged.
    """

    _default_types = ("eeg",)

    def __init__(self, window=1.0, bands=None, output="de", smoothing=None, causal=False,
                 smoothing_params=None, trial_col="auto", picks=None, taper="hann"):
        self.window = window
        self.bands = bands
        self.output = output
        self.smoothing = smoothing
        self.causal = causal
        self.smoothing_params = smoothing_params
        self.trial_col = trial_col
        self.picks = picks
        self.taper = taper

    def _setup(self, epochs, picks):
        check_option("output", self.output, ("de", "psd"))
        check_option("smoothing", self.smoothing, (None, "moving_average", "lds"))
        if not isinstance(self.causal, (bool, np.bool_)):
            raise TypeError(f"causal must be a bool, got {self.causal!r}.")
        _check_trial_col(self.trial_col)
        bands = dict(DEFAULT_BANDS) if self.bands is None else self.bands
        self.bands_ = _check_bands(bands, self.sfreq_)
        try:
            get_window(self.taper, 8)
        except (ValueError, TypeError) as err:
            raise ValueError(
                f"taper={self.taper!r} is not a window scipy.signal.get_window knows "
                f"({err}). Use e.g. 'hann' or 'boxcar'."
            ) from err
        self.smoothing_params_ = _check_smoothing_params(self.smoothing, self.smoothing_params)
        self.n_chans_ = len(self.ch_names_)
        self.n_bands_ = len(self.bands_)
        self.feature_names_out_ = np.array(
            [f"{ch}_{band}" for ch in self.ch_names_ for band in self.bands_], dtype=object
        )

    # -- computation ------------------------------------------------------------------
    def _raw_features(self, epochs, picks):
        """Unsmoothed features (n_epochs, n_windows, n_chans * n_bands) and window layout."""
        n_samp, n_win = self._windows_of(epochs)
        taper = get_window(self.taper, n_samp)
        weights = _band_matrix(n_samp, self.sfreq_, self.bands_, taper)
        n_ch, n_b = len(picks), len(self.bands_)
        widths = np.array([hi - lo for lo, hi in self.bands_.values()])
        chunks = []
        for _, data in _get_data_chunks(epochs, picks, n_win * n_samp):
            _check_finite(data, self.ch_names_, type(self).__name__)
            x = _window_stats_reshape(data, n_win, n_samp)  # (n, ch, win, samp)
            y = x - x.mean(axis=-1, keepdims=True)
            y *= taper
            spec = scipy.fft.rfft(y, axis=-1)
            del y
            pxx = spec.real**2
            pxx += spec.imag**2
            del spec
            power = pxx @ weights  # (n, ch, win, band)
            chunks.append(power.transpose(0, 2, 1, 3).reshape(len(x), n_win, n_ch * n_b))
        power = np.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]
        if self.output == "psd":
            return power / np.tile(widths, n_ch), n_samp, n_win
        flat = power <= _POWER_FLOOR
        if flat.any():
            chans = np.unique(np.flatnonzero(flat.any(axis=(0, 1))) // n_b)
            logger.warning(
                "DifferentialEntropy: zero band power (flat signal) in channel(s) %s; "
                "floored at %g before the log.",
                ", ".join(self.ch_names_[c] for c in chans[:10]), _POWER_FLOOR,
            )
            np.maximum(power, _POWER_FLOOR, out=power)
        features = np.log(power)
        features += _LOG_2PIE
        features *= 0.5
        return features, n_samp, n_win

    def _smoother(self, params):
        causal = bool(self.causal)
        if self.smoothing == "moving_average":
            size = int(params["size"])
            return lambda b: _moving_average(b, size, causal=causal, axis=1)
        kwargs = {k: params[k] for k in ("process_var", "obs_var", "init_var", "init_mean")}
        return lambda b: lds_smooth(b, causal=causal, axis=1, **kwargs)

    def _smooth(self, features, epochs, n_samp, n_win):
        if self.smoothing is None:
            return features
        inverse, segments = _timeline(epochs, self.trial_col, n_win, n_samp,
                                      _raw_sfreq(epochs))
        return _smooth_by_trial(features, inverse, segments,
                                self._smoother(self.smoothing_params_))

    def _compute(self, epochs, picks):
        features, n_samp, n_win = self._raw_features(epochs, picks)
        return self._smooth(features, epochs, n_samp, n_win)

    def _fit_data(self, epochs, picks, return_features):
        fit_noise = self.smoothing == "lds" and self.smoothing_params_["fit_noise"]
        if not fit_noise:
            return self._compute(epochs, picks) if return_features else None
        features, n_samp, n_win = self._raw_features(epochs, picks)
        inverse, segments = _timeline(epochs, self.trial_col, n_win, n_samp,
                                      _raw_sfreq(epochs))
        params = self.smoothing_params_
        ratio = float(np.mean(params["init_var"])) / float(np.mean(params["obs_var"]))
        fitted = _estimate_lds_noise(_timeline_segments(features, inverse, segments), ratio)
        self.smoothing_params_ = {**params, **fitted}
        if not return_features:
            return None
        return _smooth_by_trial(features, inverse, segments,
                                self._smoother(self.smoothing_params_))
