"""The modality vocabulary: MNE channel types -> modality, and per-modality layouts.

This module is a leaf (it imports nothing else of the package but its
checks): :mod:`mne_m2s.features`, :mod:`mne_m2s.paradigms`, the input layer
(:mod:`mne_m2s.inputs`) and the evaluation all map channel types to
modalities through :func:`channel_modalities`.
"""

from dataclasses import dataclass

#: Name prefix of ``misc`` channels that hold precomputed eye-movement features
#: (one feature per channel, constant over each feature window; e.g. SEED-IV's
#: ``eye_feature_smooth`` added to its raw EEG by ``SEEDIV(level="raw", eye="features")``).
EYE_FEATURE_PREFIX = "eye_feat_"
#: Channel kind of such channels (see :func:`channel_kinds`); not an MNE channel type.
EYE_FEATURE_KIND = "eye_feature"

#: Default modality vocabulary: modality name -> channel kinds (MNE channel types, plus
#: :data:`EYE_FEATURE_KIND` for stored eye-movement features).
DEFAULT_MODALITY_MAP = {
    "eeg": ("eeg",),
    "eye": ("eyegaze", "pupil", EYE_FEATURE_KIND),
    "pps": ("ecg", "eog", "emg", "gsr", "resp", "temperature", "bio"),
}


def channel_kinds(info):
    """Kind of every channel: its MNE channel type, refined for stored features.

    A ``misc`` channel whose name starts with :data:`EYE_FEATURE_PREFIX` holds
    one precomputed eye-movement feature (a step function over the feature
    windows); its kind is :data:`EYE_FEATURE_KIND`. Every other channel's kind
    is its MNE channel type. Modalities (:func:`channel_modalities`) and the
    ``picks`` of :mod:`mne_m2s.features` are resolved on kinds.

    Parameters
    ----------
    info : mne.Info | mne.io.Raw | mne.BaseEpochs
        Measurement info, or an object holding one (``.info``).

    Returns
    -------
    kinds : list of str, length n_channels
    """
    info = getattr(info, "info", info)
    return [
        EYE_FEATURE_KIND if t == "misc" and name.startswith(EYE_FEATURE_PREFIX) else t
        for name, t in zip(info["ch_names"], info.get_channel_types(), strict=True)
    ]


def check_modality_map(modality_map):
    """Validate a modality map; None gives :data:`DEFAULT_MODALITY_MAP`.

    Parameters
    ----------
    modality_map : dict of str -> str | list of str | None
        ``{modality: channel type or list of channel types}``.

    Returns
    -------
    modality_map : dict of str -> tuple of str
    """
    if modality_map is None:
        return dict(DEFAULT_MODALITY_MAP)
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


def channel_modalities(info, modality_map=None, exclude_bads=False):
    """Channels of each modality of an :class:`mne.Info` (or anything with an ``info``).

    The one place that maps MNE channel types to modalities.

    Parameters
    ----------
    info : mne.Info | mne.io.Raw | mne.BaseEpochs
        Measurement info, or an object holding one (``.info``).
    modality_map : dict | None
        ``{modality: channel kind(s)}`` (MNE channel types, or
        :data:`EYE_FEATURE_KIND`; see :func:`channel_kinds`); None uses
        :data:`DEFAULT_MODALITY_MAP`.
    exclude_bads : bool
        Leave out the channels listed in ``info["bads"]``.

    Returns
    -------
    picks : dict of str -> list of int
        ``{modality: channel indices}`` in the order of ``modality_map``, only the
        modalities with at least one channel.
    """
    info = getattr(info, "info", info)
    modality_map = check_modality_map(modality_map)
    bads = set(info["bads"]) if exclude_bads else set()
    types = channel_kinds(info)
    picks = {}
    for modality, wanted in modality_map.items():
        idx = [i for i, t in enumerate(types)
               if t in wanted and info["ch_names"][i] not in bads]
        if idx:
            picks[modality] = idx
    return picks


class FeatureDict(dict):
    """``{modality: feature array}`` that also records the window length of its windows.

    Returned by :meth:`mne_m2s.paradigms.EmotionParadigm.get_data` for
    feature-level datasets; behaves as a plain dict (``X["eeg"]``), and also
    as a collection of samples for scikit-learn's splitters: ``shape`` is
    ``(n_samples,)`` and indexing with anything but a modality name selects
    samples of every modality (``X[train]``), so
    :func:`~sklearn.model_selection.cross_val_score` can split it.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`dict`.
    window : float | None
        Length in seconds of one feature window (None: unknown).
    """

    def __init__(self, *args, window=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.window = window

    @property
    def shape(self):
        """``(n_samples,)`` (the samples shared by all modalities)."""
        lengths = {len(a) for a in self.values()}
        if len(lengths) != 1:
            raise ValueError(f"The modalities have different numbers of samples: {lengths}.")
        return (lengths.pop(),)

    def __getitem__(self, key):
        if isinstance(key, str):
            return super().__getitem__(key)
        if isinstance(key, tuple) and len(key) == 2 and key[1] is Ellipsis:
            key = key[0]  # scikit-learn's ``X[key, ...]``
        return FeatureDict({m: a[key] for m, a in self.items()}, window=self.window)

    def __reduce__(self):
        return (_feature_dict, (dict(self), self.window))

    def __repr__(self):
        return f"FeatureDict({dict.__repr__(self)}, window={self.window!r})"


def _feature_dict(items, window):
    return FeatureDict(items, window=window)


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


__all__ = [
    "DEFAULT_MODALITY_MAP",
    "EYE_FEATURE_KIND",
    "EYE_FEATURE_PREFIX",
    "FeatureDict",
    "ModalitySpec",
    "channel_kinds",
    "channel_modalities",
    "check_modality_map",
]
