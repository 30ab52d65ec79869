"""Shared machinery of the feature extractors: input checks, picks, windows, trials.

Every extractor in :mod:`mne_m2s.features` is a scikit-learn transformer over
:class:`mne.BaseEpochs`. Each epoch is cut into non-overlapping sub-windows of
``window`` seconds, ``n_windows = floor(n_times / round(window * sfreq))``
(windows start at the epoch's first sample, whatever its ``tmin``; samples left
over at the end of an epoch are ignored), and each extractor returns an array of
shape ``(n_epochs, n_windows, n_features)``.
"""

import difflib
import numbers

import numpy as np
from mne import BaseEpochs
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..modalities import EYE_FEATURE_KIND, channel_kinds
from ..utils._checks import check_float

# Every channel type MNE knows; used to tell a channel type from a channel name in ``picks``.
_MNE_CH_TYPES = (
    "bio", "chpi", "csd", "dbs", "dipole", "ecg", "ecog", "eeg", "emg", "eog", "exci",
    "eyegaze", "fnirs_cw_amplitude", "fnirs_fd_ac_amplitude", "fnirs_fd_phase", "fnirs_od",
    "gof", "grad", "gsr", "hbo", "hbr", "ias", "mag", "misc", "pupil", "ref_meg", "resp",
    "seeg", "stim", "syst", "temperature",
)  # fmt: skip
# Channel kinds ``picks`` accepts: MNE's types and the package's refinement of ``misc``
# for stored eye features (see mne_m2s.modalities.channel_kinds).
_CH_KINDS = (*_MNE_CH_TYPES, EYE_FEATURE_KIND)

# Chunks of epochs processed at once, so temporaries stay around this many samples.
_CHUNK_SAMPLES = 1 << 22


def _check_epochs(epochs, name="X"):
    """Raise a TypeError unless ``epochs`` is an :class:`mne.BaseEpochs`."""
    if not isinstance(epochs, BaseEpochs):
        raise TypeError(
            f"{name} must be an instance of mne.BaseEpochs (e.g. mne.Epochs or "
            f"mne.EpochsArray), got {type(epochs).__name__} instead. To extract features "
            "from arrays, wrap them with mne.EpochsArray(data, info)."
        )
    return epochs


def _window_samples(window, sfreq):
    """Number of samples of one sub-window of ``window`` seconds at ``sfreq`` Hz."""
    window = check_float("window", window, min_value=0.0, inclusive=False)
    n_samp = int(round(window * sfreq))
    if n_samp < 2:
        raise ValueError(
            f"window={window} s is {window * sfreq:.3g} samples at sfreq={sfreq} Hz; "
            "a window needs at least 2 samples. Use a longer window."
        )
    return n_samp


def _n_windows(n_times, n_samp, sfreq, window):
    """Whole windows per epoch, or a ValueError when the epochs are too short."""
    n_win = n_times // n_samp
    if n_win < 1:
        raise ValueError(
            f"The epochs are {n_times / sfreq:.4g} s long ({n_times} samples at {sfreq} Hz), "
            f"shorter than one window (window={window} s, {n_samp} samples). Use a shorter "
            "window or longer epochs."
        )
    return n_win


def _resolve_picks(epochs, picks, default_types, owner):
    """Return the channel indices selected by ``picks``.

    ``picks`` may be None (every good channel of ``default_types``), a channel type
    or name, or a list of channel types, names or integer indices. Channel types
    exclude the channels marked bad (MNE's rule); explicit names and indices do not.
    Types are channel kinds (:func:`mne_m2s.modalities.channel_kinds`): MNE's types,
    with ``misc`` channels of stored eye features being ``"eye_feature"``.
    """
    ch_names = list(epochs.ch_names)
    ch_types = channel_kinds(epochs.info)
    bads = set(epochs.info["bads"])
    if picks is None:
        items = list(default_types)
    elif isinstance(picks, str):
        items = [picks]
    elif isinstance(picks, (list, tuple, np.ndarray)):
        items = list(picks)
    else:
        raise TypeError(
            f"picks must be None, a str, or a list of channel names, channel types or "
            f"integer indices, got {type(picks).__name__} instead."
        )
    idx = []
    for item in items:
        if isinstance(item, (numbers.Integral, np.integer)) and not isinstance(item, bool):
            if not -len(ch_names) <= int(item) < len(ch_names):
                raise ValueError(
                    f"picks contains the index {item}, but the epochs have only "
                    f"{len(ch_names)} channels."
                )
            idx.append(int(item) % len(ch_names))
        elif isinstance(item, str):
            if item in ch_names:
                idx.append(ch_names.index(item))
            elif item in _CH_KINDS:
                idx.extend(
                    i for i, (n, t) in enumerate(zip(ch_names, ch_types, strict=True)) if t == item
                    and n not in bads
                )
            else:
                close = difflib.get_close_matches(item, ch_names + list(_CH_KINDS), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise ValueError(
                    f"picks contains {item!r}, which is neither a channel name of the epochs "
                    f"nor an MNE channel type.{hint}"
                )
        else:
            raise TypeError(
                f"picks entries must be str or int, got {type(item).__name__} ({item!r})."
            )
    idx = list(dict.fromkeys(idx))  # unique, first occurrence order
    if not idx:
        found = _describe_types(ch_types)
        wanted = ", ".join(repr(t) for t in (default_types if picks is None else items))
        raise ValueError(
            f"{owner} found no channels for picks={picks!r} (looked for {wanted}). The "
            f"epochs contain the channel types: {found}. Pass picks naming the channels to "
            "use, or set the channel types with epochs.set_channel_types()."
        )
    return np.array(sorted(idx), dtype=int)


def _describe_types(ch_types):
    if not len(ch_types):
        return "none"
    uniq, counts = np.unique(np.asarray(ch_types), return_counts=True)
    return ", ".join(f"{t} ({c})" for t, c in zip(uniq, counts, strict=True))


def _raw_sfreq(epochs):
    """Sampling rate of the sample numbers in ``epochs.events`` (differs after decimation)."""
    return float(getattr(epochs, "_raw_sfreq", epochs.info["sfreq"]))


def _epoch_chunks(n_epochs, n_samples_per_epoch):
    """Slices over epochs so that one chunk holds about ``_CHUNK_SAMPLES`` samples."""
    step = max(1, _CHUNK_SAMPLES // max(1, n_samples_per_epoch))
    return [slice(i, min(i + step, n_epochs)) for i in range(0, n_epochs, step)]


def _get_data_chunks(epochs, picks, n_times_used):
    """Yield ``(slice, data)`` with data of shape (n_chunk, n_picks, n_times_used).

    Preloaded epochs are read chunk by chunk (bounded memory); others are loaded once.
    """
    if epochs.preload:
        n_epochs = len(epochs)
        for sl in _epoch_chunks(n_epochs, len(picks) * n_times_used):
            data = epochs.get_data(picks=picks, item=sl, copy=False)
            yield sl, data[..., :n_times_used]
    else:
        data = epochs.get_data(picks=picks)
        yield slice(0, data.shape[0]), data[..., :n_times_used]


def _check_finite(data, ch_names, owner, allow_nan=False):
    """ValueError naming the channels with NaN (or infinite) values."""
    bad = ~np.isfinite(data)
    if allow_nan:
        bad &= ~np.isnan(data)
    if bad.any():
        bad_ch = np.flatnonzero(bad.any(axis=(0, 2)))
        names = ", ".join(ch_names[i] for i in bad_ch[:10])
        what = "infinite" if allow_nan else "NaN or infinite"
        raise ValueError(
            f"{owner} received {what} values in the channel(s) {names}. Interpolate or "
            "drop them first (e.g. epochs.interpolate_bads() or epochs.drop_channels())."
        )


class _EpochsTransformer(TransformerMixin, BaseEstimator):
    """Common fit/transform plumbing; subclasses implement ``_setup`` and ``_compute``."""

    _default_types = ()

    def _check_input(self, X):
        return _check_epochs(X, "X")

    def fit(self, X, y=None):
        """Validate the parameters and learn the channel layout from ``X``.

        Parameters
        ----------
        X : mne.BaseEpochs
            The epochs; each is cut into windows of ``window`` seconds.
        y : None
            Ignored; present for scikit-learn compatibility.

        Returns
        -------
        self : object
            The fitted transformer.
        """
        self._fit(X)
        return self

    def fit_transform(self, X, y=None):
        """Fit to ``X`` and return its features (computed once).

        Parameters
        ----------
        X : mne.BaseEpochs
            The epochs.
        y : None
            Ignored.

        Returns
        -------
        features : ndarray, shape (n_epochs, n_windows, n_features)
            The features of every window of every epoch.
        """
        return self._fit(X, return_features=True)

    def transform(self, X):
        """Compute the features of every window of every epoch.

        Parameters
        ----------
        X : mne.BaseEpochs
            Epochs with the channels seen in ``fit`` (``ch_names_``) at the same
            sampling rate; their length may differ from the training epochs.

        Returns
        -------
        features : ndarray, shape (n_epochs, n_windows, n_features)
            The features; ``n_windows = floor(epoch duration / window)``.
        """
        check_is_fitted(self, "feature_names_out_")
        epochs = self._check_input(X)
        picks = self._transform_picks(epochs)
        return self._compute(epochs, picks)

    def get_feature_names_out(self, input_features=None):
        """Names of the features (the last output axis).

        Parameters
        ----------
        input_features : None
            Ignored; the names come from the channels seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str, shape (n_features,)
            The feature names, e.g. ``"Fp1_delta"``.
        """
        check_is_fitted(self, "feature_names_out_")
        return np.asarray(self.feature_names_out_, dtype=object)

    # -- helpers ----------------------------------------------------------------------
    def _fit(self, X, return_features=False):
        epochs = self._check_input(X)
        sfreq = float(epochs.info["sfreq"])
        n_samp = _window_samples(self.window, sfreq)
        n_windows = _n_windows(len(epochs.times), n_samp, sfreq, self.window)
        picks = _resolve_picks(epochs, self.picks, self._default_types, type(self).__name__)
        self.sfreq_ = sfreq
        self.n_windows_ = n_windows
        self.ch_names_ = [epochs.ch_names[i] for i in picks]
        ch_types = epochs.get_channel_types()
        self.ch_types_ = [ch_types[i] for i in picks]
        self._setup(epochs, picks)
        return self._fit_data(epochs, picks, return_features)

    def _fit_data(self, epochs, picks, return_features):
        """Learn data-dependent state; return the training features if asked to."""
        return self._compute(epochs, picks) if return_features else None

    def _transform_picks(self, epochs):
        missing = [c for c in self.ch_names_ if c not in epochs.ch_names]
        if missing:
            raise ValueError(
                f"{type(self).__name__} was fitted on channels that the epochs passed to "
                f"transform lack: {', '.join(missing[:10])}. Pass epochs with the fitted "
                f"channels ({len(self.ch_names_)} channels, see ch_names_)."
            )
        sfreq = float(epochs.info["sfreq"])
        if not np.isclose(sfreq, self.sfreq_):
            raise ValueError(
                f"{type(self).__name__} was fitted at sfreq={self.sfreq_} Hz but got epochs "
                f"at {sfreq} Hz. Resample them (epochs.resample({self.sfreq_})) first."
            )
        names = list(epochs.ch_names)
        return np.array([names.index(c) for c in self.ch_names_], dtype=int)

    def _windows_of(self, epochs):
        sfreq = float(epochs.info["sfreq"])
        n_samp = _window_samples(self.window, sfreq)
        n_windows = _n_windows(len(epochs.times), n_samp, sfreq, self.window)
        return n_samp, n_windows


def _window_stats_reshape(x, n_windows, n_samp):
    """View ``x`` (..., n_times) as (..., n_windows, n_samp) over the whole windows."""
    return x[..., : n_windows * n_samp].reshape(*x.shape[:-1], n_windows, n_samp)
