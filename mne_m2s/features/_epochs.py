"""From one :class:`mne.Epochs` with several modalities to per-modality feature arrays."""

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from ..modalities import DEFAULT_MODALITY_MAP
from ._base import _check_epochs, _describe_types
from .eeg import DifferentialEntropy
from .eye import EyeMovementFeatures
from .peripheral import PERIPHERAL_FEATURES, PeripheralFeatures


def _check_modality_map(modality_map):
    if modality_map is None:
        modality_map = DEFAULT_MODALITY_MAP
    if not isinstance(modality_map, dict) or not modality_map:
        raise TypeError(
            "modality_map must be None or a non-empty dict {modality: channel type(s)}, "
            f"e.g. {DEFAULT_MODALITY_MAP}, got {modality_map!r}."
        )
    out = {}
    for modality, types in modality_map.items():
        if not isinstance(modality, str):
            raise TypeError(f"modality_map keys must be str, got {modality!r}.")
        types = (types,) if isinstance(types, str) else tuple(types)
        if not types or not all(isinstance(t, str) for t in types):
            raise TypeError(
                f"modality_map[{modality!r}] must be a channel type or a list of channel "
                f"types (str), got {modality_map[modality]!r}."
            )
        out[modality] = types
    return out


def _default_extractor(types):
    """EyeMovementFeatures for eye-tracking types, PeripheralFeatures for peripheral
    types, DifferentialEntropy otherwise (electrode signals)."""
    if set(types) <= {"eyegaze", "pupil"}:
        return EyeMovementFeatures()
    if set(types) <= set(PERIPHERAL_FEATURES):
        return PeripheralFeatures()
    return DifferentialEntropy()


def epochs_to_feature_dict(epochs, modality_map=None, extractors=None, window=None, fit=True,
                           reshape_electrodes=True):
    """Extract the features of every modality present in ``epochs``.

    Modalities are recognised from channel types; a modality without any (good)
    channel in ``epochs`` is simply absent from the result.

    Parameters
    ----------
    epochs : mne.BaseEpochs
        Epochs holding one or several modalities.
    modality_map : dict | None
        ``{modality: channel type or list of channel types}``;
        ``None`` uses :data:`mne_m2s.modalities.DEFAULT_MODALITY_MAP`
        (``eeg``: eeg; ``eye``: eyegaze, pupil; ``pps``: ecg, eog, emg, gsr, resp,
        temperature, bio).
    extractors : dict | None
        ``{modality: transformer}`` overriding the default extractor of a modality
        (defaults: :class:`DifferentialEntropy` for EEG and other electrode types,
        :class:`EyeMovementFeatures` for eye tracking, :class:`PeripheralFeatures`
        for peripheral signals).
    window : float | None
        Window length in seconds given to every extractor that is fitted here (so that
        all modalities share windows, as paired M2S pre-training needs); ``None``
        keeps each extractor's own (defaults: 1 s EEG and peripheral, 4 s eye).
    fit : bool
        ``True``: fit a clone of each extractor on ``epochs`` (extractors whose
        ``picks`` is None get the modality's channel types). ``False``: the extractors
        in ``extractors`` must already be fitted and are used for ``transform`` only
        (e.g. to featurise test epochs with the extractors fitted on training epochs).
    reshape_electrodes : bool
        Return the features of a :class:`DifferentialEntropy` extractor as
        ``(n_epochs, n_windows, n_chans, n_bands)``.

    Returns
    -------
    features : dict
        ``{modality: ndarray}`` of shape ``(n_epochs, n_windows, n_features)``, or
        ``(n_epochs, n_windows, n_chans, n_bands)`` for DE with ``reshape_electrodes``.
    fitted_extractors : dict
        ``{modality: fitted transformer}``, to reuse with ``fit=False``.
    """
    _check_epochs(epochs, "epochs")
    modality_map = _check_modality_map(modality_map)
    if extractors is None:
        extractors = {}
    if not isinstance(extractors, dict):
        raise TypeError(
            f"extractors must be None or a dict {{modality: transformer}}, got "
            f"{type(extractors).__name__}."
        )
    unknown = [m for m in extractors if m not in modality_map]
    if unknown:
        raise ValueError(
            f"extractors has modalities {unknown} that are not in the modality map "
            f"({sorted(modality_map)})."
        )
    if not isinstance(fit, bool):
        raise TypeError(f"fit must be a bool, got {fit!r}.")
    if not fit and window is not None:
        raise ValueError(
            "window can only be set when fitting (fit=True); fitted extractors keep the "
            "window they were fitted with."
        )
    ch_types = epochs.get_channel_types()
    bads = set(epochs.info["bads"])
    present = {}
    good_types = {t for t, n in zip(ch_types, epochs.ch_names, strict=True) if n not in bads}
    for modality, types in modality_map.items():
        found = [t for t in types if t in good_types]
        if found:
            present[modality] = found
    if not present:
        vocab = "; ".join(f"{m}: {', '.join(t)}" for m, t in modality_map.items())
        raise ValueError(
            f"No modality recognised in the epochs: their channel types are "
            f"{_describe_types(ch_types)}, and the modality vocabulary is {{{vocab}}}. Set "
            "the channel types (epochs.set_channel_types) or pass modality_map."
        )
    features, fitted = {}, {}
    for modality, types in present.items():
        est = extractors.get(modality)
        if fit:
            est = _default_extractor(types) if est is None else clone(est)
            params = est.get_params()
            new = {}
            if "picks" in params and params["picks"] is None:
                new["picks"] = list(types)
            if window is not None and "window" in params:
                new["window"] = window
            est.set_params(**new)
            feats = est.fit_transform(epochs)
        else:
            if est is None:
                raise ValueError(
                    f"fit=False needs a fitted extractor for every modality present; "
                    f"extractors has none for {modality!r} (present: {sorted(present)})."
                )
            try:
                check_is_fitted(est)
            except NotFittedError as err:
                raise ValueError(
                    f"fit=False but the extractor of {modality!r} ({type(est).__name__}) is "
                    "not fitted. Fit it first or use fit=True."
                ) from err
            feats = est.transform(epochs)
        if reshape_electrodes and isinstance(est, DifferentialEntropy):
            feats = feats.reshape(*feats.shape[:2], est.n_chans_, est.n_bands_)
        features[modality] = feats
        fitted[modality] = est
    return features, fitted


def labels_from_epochs(epochs):
    """Event names of the epochs (their labels).

    Parameters
    ----------
    epochs : mne.BaseEpochs
        Epochs whose ``event_id`` names every event code they contain.

    Returns
    -------
    labels : ndarray of str, shape (n_epochs,)
        ``event_id`` name of ``epochs.events[:, 2]`` for each epoch.
    """
    _check_epochs(epochs, "epochs")
    inverse = {code: name for name, code in epochs.event_id.items()}
    codes = epochs.events[:, 2]
    missing = sorted(set(codes.tolist()) - set(inverse))
    if missing:
        raise ValueError(
            f"The epochs contain event codes {missing} that epochs.event_id "
            f"({epochs.event_id}) does not name."
        )
    return np.array([inverse[c] for c in codes.tolist()])
