"""Modalities: the vocabulary MNE channel type -> modality, and input conversion.

Every :class:`~mne_m2s.M2SClassifier` method accepts ``X`` as

* an :class:`mne.BaseEpochs` (modalities recognised from channel types),
* a ``dict`` ``{modality: array}`` of feature sequences, arrays of shape
  ``(n_samples, n_windows, n_features)`` or, for electrode modalities,
  ``(n_samples, n_windows, n_chans, n_bands)``,
* a plain array ``(n_samples, n_windows, n_features)`` or ``(n_samples, n_features)``
  (one modality).
"""

#: Default modality vocabulary: modality name -> MNE channel types.
DEFAULT_MODALITY_MAP = {
    "eeg": ("eeg",),
    "eye": ("eyegaze", "pupil"),
    "pps": ("ecg", "eog", "emg", "gsr", "resp", "temperature", "bio"),
}
