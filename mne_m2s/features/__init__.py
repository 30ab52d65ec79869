"""Feature extraction from :class:`mne.Epochs`: scikit-learn transformers per modality.

Each transformer cuts every epoch into non-overlapping windows of ``window``
seconds and returns an array of shape ``(n_epochs, n_windows, n_features)``:

* :class:`DifferentialEntropy` for EEG (and other electrode signals),
* :class:`EyeMovementFeatures` for eye tracking (``eyegaze``, ``pupil``),
* :class:`PeripheralFeatures` for peripheral signals (ECG, GSR, respiration, ...).

:func:`epochs_to_feature_dict` runs the right one for every modality present.
"""

from ._epochs import epochs_to_feature_dict, labels_from_epochs
from ._smoothing import lds_smooth
from .eeg import DEFAULT_BANDS, DifferentialEntropy
from .eye import DEFAULT_PUPIL_BANDS, EyeMovementFeatures
from .peripheral import PERIPHERAL_FEATURES, PeripheralFeatures

__all__ = [
    "DEFAULT_BANDS",
    "DEFAULT_PUPIL_BANDS",
    "PERIPHERAL_FEATURES",
    "DifferentialEntropy",
    "EyeMovementFeatures",
    "PeripheralFeatures",
    "epochs_to_feature_dict",
    "labels_from_epochs",
    "lds_smooth",
]
