"""Modalities: the vocabulary MNE channel type -> modality, and input conversion.

Every :class:`~mne_m2s.M2SClassifier` method accepts ``X`` as

* an :class:`mne.BaseEpochs` (modalities recognised from channel types),
* a ``dict`` ``{modality: array}`` of feature sequences, arrays of shape
  ``(n_samples, n_windows, n_features)`` or, for electrode modalities,
  ``(n_samples, n_windows, n_chans, n_bands)``,
* a plain array ``(n_samples, n_windows, n_features)`` or ``(n_samples, n_features)``
  (one modality).
"""

import numbers
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from sklearn.utils import check_array

#: Default modality vocabulary: modality name -> MNE channel types.
DEFAULT_MODALITY_MAP = {
    "eeg": ("eeg",),
    "eye": ("eyegaze", "pupil"),
    "pps": ("ecg", "eog", "emg", "gsr", "resp", "temperature", "bio"),
}


#: Name given to a plain-array modality when nothing else names it.
DEFAULT_NAME = "input"


@dataclass(frozen=True)
class ModalitySpec:
    """Input layout of one modality.

    Parameters
    ----------
    name : str
    n_features : int
        Features per window (``n_chans * n_bands`` for electrode modalities).
    n_windows : int
        Windows per sample seen at fit time (informational; encoders accept any).
    n_chans, n_bands : int | None
        Electrode layout (None for vector modalities).
    """

    name: str
    n_features: int
    n_windows: int
    n_chans: int | None = None
    n_bands: int | None = None

    @classmethod
    def from_array(cls, name, a):
        """Spec of a validated array ``(n, T, D)`` or ``(n, T, C, B)``."""
        if a.ndim == 4:
            return cls(name, int(a.shape[2] * a.shape[3]), int(a.shape[1]),
                       int(a.shape[2]), int(a.shape[3]))
        return cls(name, int(a.shape[2]), int(a.shape[1]))

    @property
    def electrode(self):
        """Whether the modality is laid out as channels x bands (STS attention)."""
        return self.n_bands is not None

    def describe(self):
        """Short text: ``62x5`` for electrodes, ``33`` for vectors."""
        return f"{self.n_chans}x{self.n_bands}" if self.electrode else str(self.n_features)

    def check_compatible(self, other, argname="X", estimator="M2SClassifier"):
        """Raise a ValueError unless ``other`` can go through this modality's encoder."""
        if other.n_features != self.n_features:
            raise ValueError(
                f"{argname} has {other.n_features} features, but {estimator} is expecting "
                f"{self.n_features} features as input (modality {self.name!r}, "
                f"layout {self.describe()} per window)."
            )
        if other.electrode and self.electrode and other.n_bands != self.n_bands:
            raise ValueError(
                f"{argname} for modality {self.name!r} has {other.n_chans} channels x "
                f"{other.n_bands} bands, but the encoder expects {self.n_chans} x {self.n_bands}."
            )


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


def _epochs_groups(epochs):
    meta = epochs.metadata
    if meta is None:
        return None
    cols = [c for c in ("subject", "session", "run") if c in meta.columns]
    if "run" not in cols:
        return None
    return meta[cols].astype(str).agg("/".join, axis=1).to_numpy()


def as_feature_dict(X, *, modality="auto", known=None, modality_map=None, extractors=None,
                    fit_extractors=True, window=None):
    """Convert any accepted ``X`` to feature sequences per modality.

    Parameters
    ----------
    X : mne.BaseEpochs | dict of str -> array-like | array-like
        See the module docstring.
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
        Epochs only: window length in seconds shared by all modalities.

    Returns
    -------
    data : dict of str -> ndarray (float32)
    y : ndarray | None
        Event names of Epochs input, else None.
    groups : ndarray | None
        Trial ids from Epochs metadata (subject/session/run), else None.
    extractors : dict | None
        The fitted extractors of Epochs input, else None.
    """
    known = known or {}
    if sparse.issparse(X):
        raise TypeError(
            "Sparse input is not supported: X must be a dense array (use X.toarray()), "
            "a dict of dense arrays or mne.Epochs."
        )
    try:
        import mne
    except ImportError:  # pragma: no cover - mne is a hard dependency
        mne = None
    if mne is not None and isinstance(X, mne.BaseEpochs):
        from .features._epochs import epochs_to_feature_dict, labels_from_epochs

        feats, fitted = epochs_to_feature_dict(
            X, modality_map=modality_map or DEFAULT_MODALITY_MAP, extractors=extractors,
            fit=fit_extractors, window=window if fit_extractors else None,
        )
        data = {m: check_feature_array(a, f"features of {m!r}") for m, a in feats.items()}
        _check_same_length(data)
        return data, labels_from_epochs(X), _epochs_groups(X), fitted
    if isinstance(X, dict):
        if not X:
            raise ValueError("X is an empty dict; expected {modality_name: array}.")
        data = {}
        for key, a in X.items():
            if not isinstance(key, str):
                raise TypeError(f"X's keys must be modality names (str), got {key!r}.")
            data[key] = check_feature_array(a, f"X[{key!r}]")
        _check_same_length(data)
        return data, None, None, None
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
    return {name: a}, None, None, None


def _check_same_length(data):
    lengths = {m: len(a) for m, a in data.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            "All modalities must have the same number of samples (paired data), got "
            + ", ".join(f"{m}: {n}" for m, n in lengths.items())
            + "."
        )
