"""The input layer: Epochs, dicts or arrays -> feature sequences, labels, groups, window.

Every :class:`~mne_m2s.M2SClassifier` method accepts ``X`` as

* an :class:`mne.BaseEpochs` (modalities recognised from channel types by
  :func:`mne_m2s.modalities.channel_modalities`, features extracted per
  modality, labels from the events, groups — trials — from the metadata),
* a ``dict`` ``{modality: array}`` of feature sequences, arrays of shape
  ``(n_samples, n_windows, n_features)`` or, for electrode modalities,
  ``(n_samples, n_windows, n_chans, n_bands)``,
* a plain array ``(n_samples, n_windows, n_features)`` or ``(n_samples, n_features)``
  (one modality).

:func:`read_input` is the one entry point; it returns an :class:`InputData`.
The window length travels with the data: :class:`~mne_m2s.paradigms.EmotionParadigm`
records it in the Epochs metadata (column ``"window"``) and on the feature
dicts it returns (:class:`~mne_m2s.modalities.FeatureDict`).

:mod:`mne_m2s.features` holds the per-modality transformers; it imports
nothing from here.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted

from .modalities import (
    EYE_FEATURE_KIND,
    EYE_FEATURE_PREFIX,
    channel_kinds,
    channel_modalities,
    check_modality_map,
)

#: Name given to a plain-array modality when nothing else names it.
DEFAULT_NAME = "input"
#: Window length (s) of Epochs input when neither the estimator nor the data set one.
DEFAULT_WINDOW = 1.0


@dataclass
class InputData:
    """What :func:`read_input` makes of ``X``.

    Attributes
    ----------
    data : dict of str -> ndarray
        float32 ``(n_samples, n_windows, n_features)`` or
        ``(n_samples, n_windows, n_chans, n_bands)`` per modality.
    y : ndarray | None
        Event names of Epochs input, else None.
    groups : ndarray | None
        Trial ids (``subject/session/run``) from Epochs metadata, else None.
    extractors : dict | None
        The (fitted) feature extractors of Epochs input, else None.
    window : float | None
        Window length in seconds of the feature windows, when known.
    """

    data: dict
    y: np.ndarray | None = None
    groups: np.ndarray | None = None
    extractors: dict | None = None
    window: float | None = None


# ------------------------------------------------------------------ arrays
def check_feature_array(a, name="X"):
    """Validate one modality's array and return it as float32 ``(n, T, D)`` or ``(n, T, C, B)``.

    2-D input ``(n_samples, n_features)`` becomes one window per sample.
    """
    if hasattr(a, "get_data") and not isinstance(a, np.ndarray):
        raise TypeError(
            f"{name} must be an array here, got {type(a).__name__}; pass MNE Epochs as X itself."
        )
    a = check_array(
        a, dtype=np.float32, allow_nd=True, ensure_all_finite=True, input_name=name,
        ensure_min_samples=1,
    )
    if a.ndim == 2:
        a = a[:, None, :]
    if a.ndim not in (3, 4):
        raise ValueError(
            f"{name} must have shape (n_samples, n_features), (n_samples, n_windows, n_features) "
            f"or (n_samples, n_windows, n_chans, n_bands); got an array of shape {a.shape}."
        )
    if 0 in a.shape[1:]:
        raise ValueError(f"{name} has shape {a.shape}: windows and features must be non-empty.")
    return a


def match_modality(a, known):
    """Name of the single known modality whose feature count equals the array's, else None."""
    d = int(np.prod(a.shape[2:]))
    hits = [m for m, s in known.items() if s.n_features == d]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise ValueError(
            f"X has {d} features per window, which fits several modalities ({', '.join(hits)}). "
            "Name it: pass {modality: X} or set the 'modality' parameter."
        )
    return None


# ------------------------------------------------------------------ epochs
def _check_epochs(epochs, name="epochs"):
    import mne

    if not isinstance(epochs, mne.BaseEpochs):
        raise TypeError(
            f"{name} must be an instance of mne.BaseEpochs (e.g. mne.Epochs or "
            f"mne.EpochsArray), got {type(epochs).__name__} instead."
        )
    return epochs


def default_extractor(types):
    """Default feature transformer of a modality made of channel ``types``.

    :class:`~mne_m2s.features.EyeMovementFeatures` for eye-tracking types,
    :class:`~mne_m2s.features.EyeFeatureChannels` for channels of stored eye
    features (kind ``"eye_feature"``, see :func:`mne_m2s.modalities.channel_kinds`),
    :class:`~mne_m2s.features.PeripheralFeatures` for peripheral types,
    :class:`~mne_m2s.features.DifferentialEntropy` otherwise (electrode signals).

    Parameters
    ----------
    types : list of str
        The channel kinds of one modality.

    Returns
    -------
    extractor : sklearn.base.TransformerMixin
        An unfitted feature transformer.
    """
    from .features import (
        DifferentialEntropy,
        EyeFeatureChannels,
        EyeMovementFeatures,
        PeripheralFeatures,
    )
    from .features.peripheral import PERIPHERAL_FEATURES

    if EYE_FEATURE_KIND in types:
        if set(types) != {EYE_FEATURE_KIND}:
            raise ValueError(
                f"One modality mixes stored eye features (channel kind {EYE_FEATURE_KIND!r}) "
                f"with signals of the kinds {sorted(set(types) - {EYE_FEATURE_KIND})}; no "
                "extractor computes both. Drop one set of channels, or map them to two "
                "modalities with modality_map."
            )
        return EyeFeatureChannels()
    if set(types) <= {"eyegaze", "pupil"}:
        return EyeMovementFeatures()
    if set(types) <= set(PERIPHERAL_FEATURES):
        return PeripheralFeatures()
    return DifferentialEntropy()


def epochs_to_feature_dict(epochs, modality_map=None, extractors=None, window=None, fit=True,
                           reshape_electrodes=True):
    """Extract the features of every modality present in ``epochs``.

    Modalities are recognised from channel types
    (:func:`~mne_m2s.modalities.channel_modalities`, bad channels excluded); a
    modality without any (good) channel in ``epochs`` is absent from the result.

    Parameters
    ----------
    epochs : mne.BaseEpochs
        Epochs holding one or several modalities.
    modality_map : dict | None
        ``{modality: channel type or list of channel types}``;
        ``None`` uses :data:`mne_m2s.modalities.DEFAULT_MODALITY_MAP`
        (``eeg``: eeg; ``eye``: eyegaze, pupil, eye_feature; ``pps``: ecg, eog, emg,
        gsr, resp, temperature, bio). Types are channel kinds
        (:func:`mne_m2s.modalities.channel_kinds`).
    extractors : dict | None
        ``{modality: transformer}`` overriding the default extractor of a modality
        (:func:`default_extractor`).
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
        Return the features of a :class:`~mne_m2s.features.DifferentialEntropy`
        extractor as ``(n_epochs, n_windows, n_chans, n_bands)``.

    Returns
    -------
    features : dict
        ``{modality: ndarray}`` of shape ``(n_epochs, n_windows, n_features)``, or
        ``(n_epochs, n_windows, n_chans, n_bands)`` for DE with ``reshape_electrodes``.
    fitted_extractors : dict
        ``{modality: fitted transformer}``, to reuse with ``fit=False``.
    """
    from .features import DifferentialEntropy
    from .features._base import _describe_types

    _check_epochs(epochs, "epochs")
    modality_map = check_modality_map(modality_map)
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
    picks = channel_modalities(epochs.info, modality_map, exclude_bads=True)
    if not picks:
        ch_types = channel_kinds(epochs.info)
        vocab = "; ".join(f"{m}: {', '.join(t)}" for m, t in modality_map.items())
        raise ValueError(
            f"No modality recognised in the epochs: their channel types are "
            f"{_describe_types(ch_types)}, and the modality vocabulary is {{{vocab}}} "
            f"({EYE_FEATURE_KIND!r}: misc channels named {EYE_FEATURE_PREFIX!r}...). Set "
            "the channel types (epochs.set_channel_types) or pass modality_map."
        )
    ch_types = channel_kinds(epochs.info)  # MNE types; "eye_feature" for stored features
    features, fitted = {}, {}
    for modality, idx in picks.items():
        types = list(dict.fromkeys(ch_types[i] for i in idx))
        est = extractors.get(modality)
        if fit:
            est = default_extractor(types) if est is None else clone(est)
            params = est.get_params()
            new = {}
            if "picks" in params and params["picks"] is None:
                new["picks"] = types
            if window is not None and "window" in params:
                new["window"] = window
            est.set_params(**new)
            feats = est.fit_transform(epochs)
        else:
            if est is None:
                raise ValueError(
                    f"fit=False needs a fitted extractor for every modality present; "
                    f"extractors has none for {modality!r} (present: {sorted(picks)})."
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


def groups_from_epochs(epochs):
    """Trial id of each epoch (``subject/session/run`` from the metadata), or None."""
    meta = epochs.metadata
    if meta is None:
        return None
    cols = [c for c in ("subject", "session", "run") if c in meta.columns]
    if "run" not in cols:
        return None
    return meta[cols].astype(str).agg("/".join, axis=1).to_numpy()


def data_window(X):
    """Window length (s) recorded with ``X``: Epochs metadata ``"window"`` or ``X.window``.

    Returns None when nothing is recorded; raises a ValueError when the epochs
    mix several window lengths.
    """
    meta = getattr(X, "metadata", None)
    if meta is not None and "window" in meta.columns:
        values = np.unique(np.asarray(meta["window"], dtype=float))
        if len(values) > 1:
            raise ValueError(
                f"The epochs mix windows of {', '.join(f'{v:g}' for v in values)} s (metadata "
                "column 'window'); every sample must be cut into windows of one length."
            )
        return float(values[0]) if len(values) else None
    window = getattr(X, "window", None)
    if isinstance(X, dict) and window is not None:
        return float(window)
    return None


def resolve_window(window, recorded, what="the data"):
    """The window length to use: ``window`` when set, else the data's; they must agree."""
    if window is not None and recorded is not None and not np.isclose(window, recorded):
        raise ValueError(
            f"window={window:g} s disagrees with {what}, cut into {recorded:g}-s windows (as "
            f"the paradigm recorded). Leave window=None to use the data's {recorded:g} s, or "
            "cut the data again with the window you want."
        )
    return window if window is not None else recorded


def join_epochs(parts):
    """One Epochs from a list of Epochs cut from the same recording(s).

    scikit-learn's splitters (``cross_val_score`` & co.) index an
    :class:`mne.BaseEpochs` as a list, one Epochs per sample. This joins
    them back: data, events (their sample numbers kept, so annotations still
    line up), metadata and the annotations (the union of the parts', which
    are the same for parts of one Epochs); :func:`mne.concatenate_epochs`
    would drop the annotations the eye-movement features are read from.

    Parameters
    ----------
    parts : list of mne.BaseEpochs
        Same channels, sampling rate, ``tmin`` and ``event_id``.

    Returns
    -------
    epochs : mne.EpochsArray
    """
    import mne
    import pandas as pd

    first = parts[0]
    event_id = {}
    for i, p in enumerate(parts):
        clash = [k for k, v in p.event_id.items() if event_id.setdefault(k, v) != v]
        if (p.ch_names != first.ch_names or p.info["sfreq"] != first.info["sfreq"]
                or p.tmin != first.tmin or clash):
            raise ValueError(
                f"X is a list of Epochs whose item {i} differs from item 0 in channels, "
                "sampling rate, tmin or event codes; join them with mne.concatenate_epochs."
            )
    events = np.concatenate([p.events for p in parts])
    if len(np.unique(events[:, 0])) != len(events):
        raise ValueError(
            "X is a list of Epochs with repeated event samples (cut from different "
            "recordings?); join them with mne.concatenate_epochs and pass the result."
        )
    metas = [p.metadata for p in parts]
    meta = (pd.concat(metas, ignore_index=True)
            if all(m is not None for m in metas) else None)
    info = first.info.copy()
    out = mne.EpochsArray(
        np.concatenate([p.get_data(copy=False) for p in parts]), info, events=events,
        tmin=first.tmin, event_id=dict(sorted(event_id.items(), key=lambda kv: kv[1])),
        metadata=meta, on_missing="ignore",
        verbose=False,
    )
    annots = [p.annotations for p in parts if p.annotations is not None and len(p.annotations)]
    if annots:
        rows = {}
        for a in annots:
            for onset, duration, desc, ch in zip(a.onset, a.duration, a.description,
                                                 a.ch_names, strict=True):
                rows[(float(onset), float(duration), str(desc), tuple(ch))] = None
        onset, duration, desc, ch = zip(*rows, strict=True) if rows else ((), (), (), ())
        out.set_annotations(
            mne.Annotations(list(onset), list(duration), list(desc), ch_names=list(ch),
                            orig_time=annots[0].orig_time),
            on_missing="ignore",
        )
    return out


# ------------------------------------------------------------------ entry point
def read_input(X, *, modality="auto", known=None, modality_map=None, extractors=None,
               fit_extractors=True, window=None):
    """Convert any accepted ``X`` to feature sequences per modality.

    Parameters
    ----------
    X : mne.BaseEpochs | list of mne.BaseEpochs | dict of str -> array-like | array-like
        See the module docstring; a list of Epochs (what scikit-learn's
        splitters make of Epochs) is joined back by :func:`join_epochs`.
    modality : str
        Name of a plain-array modality; ``"auto"`` recognises it among
        ``known`` by its feature count.
    known : dict of str -> ModalitySpec | None
        Modalities the caller knows (pre-trained / fitted).
    modality_map : dict | None
        Epochs only: modality -> MNE channel types.
    extractors : dict | None
        Epochs only: modality -> feature transformer.
    fit_extractors : bool
        Epochs only: fit the extractors (training) or only transform.
    window : float | None
        Window length in seconds. Epochs: the windows every extractor fitted
        here cuts the epochs into (None: the window recorded in the epochs'
        metadata, else :data:`DEFAULT_WINDOW`). Any input: a value that
        disagrees with the window recorded with the data raises a ValueError.

    Returns
    -------
    inputs : InputData
    """
    known = known or {}
    if sparse.issparse(X):
        raise TypeError(
            "Sparse input is not supported: X must be a dense array (use X.toarray()), "
            "a dict of dense arrays or mne.Epochs."
        )
    import mne

    if isinstance(X, (list, tuple)) and X and all(isinstance(e, mne.BaseEpochs) for e in X):
        X = join_epochs(X)
    if isinstance(X, mne.BaseEpochs):
        recorded = data_window(X)
        use = resolve_window(window, recorded, "the epochs")
        if use is None:
            use = DEFAULT_WINDOW
        feats, fitted = epochs_to_feature_dict(
            X, modality_map=modality_map, extractors=extractors,
            fit=fit_extractors, window=use if fit_extractors else None,
        )
        data = {m: check_feature_array(a, f"features of {m!r}") for m, a in feats.items()}
        _check_same_length(data)
        if not fit_extractors and recorded is None:
            windows = {getattr(e, "window", None) for e in fitted.values()} - {None}
            use = windows.pop() if len(windows) == 1 else None
        elif not fit_extractors:
            use = recorded  # the caller checks it against the window it trained on
        return InputData(data, labels_from_epochs(X), groups_from_epochs(X), fitted, use)
    if isinstance(X, dict):
        if not X:
            raise ValueError("X is an empty dict; expected {modality_name: array}.")
        use = resolve_window(window, data_window(X), "X")
        data = {}
        for key, a in X.items():
            if not isinstance(key, str):
                raise TypeError(f"X's keys must be modality names (str), got {key!r}.")
            data[key] = check_feature_array(a, f"X[{key!r}]")
        _check_same_length(data)
        return InputData(data, window=use)
    if isinstance(X, (str, bytes, numbers.Number)) or X is None:
        raise TypeError(
            "X must be mne.Epochs, a dict {modality: array} or an array of shape "
            f"(n_samples, n_windows, n_features); got {type(X).__name__}."
        )
    a = check_feature_array(X, "X")
    if modality != "auto":
        name = modality
    else:
        name = match_modality(a, known)
        if name is None:
            if len(known) > 1:
                listing = ", ".join(f"{m} ({s.n_features})" for m, s in known.items())
                raise ValueError(
                    f"X has {int(np.prod(a.shape[2:]))} features per window, which matches no "
                    f"available modality: {listing}. Pass {{modality: X}} to name it."
                )
            name = next(iter(known), DEFAULT_NAME)
    return InputData({name: a}, window=window)


def _check_same_length(data):
    lengths = {m: len(a) for m, a in data.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "All modalities must have the same number of samples (paired data), got "
            + ", ".join(f"{m}: {n}" for m, n in lengths.items())
            + "."
        )


__all__ = [
    "DEFAULT_WINDOW",
    "InputData",
    "check_feature_array",
    "data_window",
    "default_extractor",
    "epochs_to_feature_dict",
    "groups_from_epochs",
    "join_epochs",
    "labels_from_epochs",
    "read_input",
]
