"""Containers of dataset runs (a leaf module: imports nothing from the package)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class FeatureRun:
    """Published per-window features of one trial.

    Parameters
    ----------
    features : dict of str -> ndarray
        ``{modality: array}`` with arrays of shape ``(n_windows, n_features)``
        or, for electrode modalities, ``(n_windows, n_chans, n_bands)``.
        All modalities have the same ``n_windows`` (row-aligned windows).
    window : float
        Window length in seconds (1.0 or 4.0 for the SEED family).
    label : str
        The trial's event name (a key of the dataset's ``event_id``).
    feature_names : dict of str -> list of str
        Per modality, the names of the last axis (or of ``n_chans * n_bands``
        channel-major for electrode modalities).
    description : dict
        Extra per-trial metadata (e.g. continuous ratings) copied into the
        paradigm's ``meta`` DataFrame.
    """

    features: dict
    window: float
    label: str
    feature_names: dict = field(default_factory=dict)
    description: dict = field(default_factory=dict)

    @property
    def n_windows(self):
        """Number of windows (rows) of the trial."""
        return int(next(iter(self.features.values())).shape[0])

    def __post_init__(self):
        lengths = {m: int(np.shape(a)[0]) for m, a in self.features.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"FeatureRun modalities have different window counts: {lengths}.")
