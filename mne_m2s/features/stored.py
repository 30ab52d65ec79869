"""Precomputed eye-movement features carried by channels, read back per window."""

import numpy as np

from ..modalities import EYE_FEATURE_KIND, EYE_FEATURE_PREFIX
from ..utils._checks import check_option
from ._base import _check_finite, _EpochsTransformer, _get_data_chunks, _window_stats_reshape

# Relative tolerance of the "constant within a window" check (float64 data are exact;
# this only absorbs rounding of data that went through float32).
_RTOL = 1e-6


class EyeFeatureChannels(_EpochsTransformer):
    """Eye-movement features stored as channels, as a feature sequence (window means).

    Some releases publish eye-movement *features* (one vector per feature
    window) rather than eye-tracking signals; SEED-IV's ``eye_feature_smooth``
    holds 31 features per 4-s window. ``SEEDIV(level="raw", eye="features")``
    adds them to the raw EEG as ``misc`` channels named
    ``eye_feat_<feature>`` (:data:`mne_m2s.modalities.EYE_FEATURE_PREFIX`), each
    holding its feature as a step function, constant over each feature window.
    Their channel kind is ``"eye_feature"``
    (:func:`mne_m2s.modalities.channel_kinds`), which the default modality
    vocabulary maps to ``"eye"``; :func:`mne_m2s.inputs.default_extractor`
    gives them this transformer.

    Each epoch is cut into non-overlapping windows of ``window`` seconds (as
    every extractor of :mod:`mne_m2s.features`) and each feature is the mean of
    its channel over the window. A window inside one feature window therefore
    returns exactly the stored vector (the channels are checked to be constant
    over the window and its value is read without a rounding sum): with the
    4-s windows of SEED-IV, or any window dividing 4 s aligned on the trial
    start, as :class:`~mne_m2s.paradigms.EmotionWindowsParadigm` cuts them.

    Parameters
    ----------
    window : float
        Window length in seconds.
    picks : str | list | None
        Channels to use; ``None``: all good channels of kind ``"eye_feature"``.
    straddle : ``"raise"`` | ``"mean"``
        A window over which a channel is not constant covers parts of several
        feature windows: raise a :class:`ValueError` (default; choose a window
        that divides the feature window) or return the mean of the covered
        feature values weighted by their durations.

    Attributes
    ----------
    n_windows_ : int
        Windows per epoch in the training epochs.
    ch_names_ : list of str
        The channels used.
    feature_names_out_ : ndarray of str, shape (n_features,)
        The channel names without the ``eye_feat_`` prefix.
    """

    _default_types = (EYE_FEATURE_KIND,)

    def __init__(self, window=4.0, picks=None, straddle="raise"):
        self.window = window
        self.picks = picks
        self.straddle = straddle

    def _setup(self, epochs, picks):
        check_option("straddle", self.straddle, ("raise", "mean"))
        n = len(EYE_FEATURE_PREFIX)
        self.feature_names_out_ = np.array(
            [c[n:] if c.startswith(EYE_FEATURE_PREFIX) else c for c in self.ch_names_],
            dtype=object,
        )

    def _compute(self, epochs, picks):
        n_samp, n_win = self._windows_of(epochs)
        chunks = []
        for _, data in _get_data_chunks(epochs, picks, n_win * n_samp):
            _check_finite(data, self.ch_names_, type(self).__name__)
            x = _window_stats_reshape(data, n_win, n_samp)  # (n, ch, win, samp)
            if self.straddle == "raise":
                spread = x.max(axis=-1) - x.min(axis=-1)
                scale = np.abs(x).max(axis=-1) + 1.0
                bad = spread > _RTOL * scale
                if bad.any():
                    _, ch, win = (int(i[0]) for i in np.nonzero(bad))
                    raise ValueError(
                        f"EyeFeatureChannels: channel {self.ch_names_[ch]!r} is not constant "
                        f"over window {win} ({self.window:g} s): the window covers parts of "
                        "several feature windows (stored features are one value per feature "
                        "window, e.g. 4 s for SEED-IV). Use a window that divides the "
                        "feature window and starts on its grid (e.g. 4, 2 or 1 s from the "
                        "trial start), or pass straddle='mean'."
                    )
                # constant windows: their mean is their value, read exactly (a float sum
                # of 800 equal values is not always bit-equal to the value)
                values = x[..., 0]
            else:
                values = x.mean(axis=-1)
            chunks.append(values.transpose(0, 2, 1))
        return np.concatenate(chunks, axis=0) if len(chunks) > 1 else chunks[0]
