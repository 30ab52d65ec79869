"""Feature extraction from :class:`mne.Epochs`: scikit-learn transformers per modality.

Each transformer cuts every epoch into non-overlapping windows of ``window``
seconds and returns an array of shape ``(n_epochs, n_windows, n_features)``:

* :class:`DifferentialEntropy` for EEG (and other electrode signals),
* :class:`EyeMovementFeatures` for eye tracking (``eyegaze``, ``pupil``),
* :class:`PeripheralFeatures` for peripheral signals (ECG, GSR, respiration, ...),
* :class:`EyeFeatureChannels` for precomputed eye-movement features carried by
  channels (e.g. SEED-IV's published features added to its raw EEG).

This sub-package is a leaf: it imports nothing from the package's input layer
(:mod:`mne_m2s.inputs`, whose :func:`~mne_m2s.inputs.epochs_to_feature_dict`
runs the right transformer for every modality present in multimodal epochs).
"""

from ._smoothing import lds_smooth
from .eeg import DEFAULT_BANDS, DifferentialEntropy
from .eye import DEFAULT_PUPIL_BANDS, EyeMovementFeatures
from .peripheral import PERIPHERAL_FEATURES, PeripheralFeatures
from .stored import EyeFeatureChannels

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_PUPIL_BANDS",
    "PERIPHERAL_FEATURES",
    "DifferentialEntropy",
    "EyeFeatureChannels",
    "EyeMovementFeatures",
    "PeripheralFeatures",
    "lds_smooth",
]
