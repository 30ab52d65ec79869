"""Base class and containers shared by every emotion dataset adapter.

The contract mirrors MOABB's ``BaseDataset``: all metadata is declared once in
the constructor call of a subclass, and :meth:`BaseEmotionDataset.get_data`
returns ``{subject: {session: {run: data}}}`` where ``data`` is

* an :class:`mne.io.Raw` (signal level): one Raw per trial (film clip), every
  modality's channels with their MNE channel types, one annotation spanning
  the trial whose description is the trial's event name; or
* a :class:`FeatureRun` (feature level): the published per-window features of
  one trial, one array per modality.

Sessions and runs are strings (``"1"``, ``"2"`` …) ordered as the protocol
orders them, so iteration order is trial order.
"""

from __future__ import annotations

import abc
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..utils._checks import check_option


class DatasetLayoutError(OSError):
    """Raised when dataset files are missing or do not have the published layout.

    The message says which file or folder was expected where, what was found,
    and how to point the package at the data.
    """


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


def _env_code(code):
    return re.sub(r"[^0-9A-Za-z]+", "_", code).upper()


def normalize_code(code):
    """Canonical form used to look codes up: lower case, no separators."""
    return re.sub(r"[^0-9a-z]+", "", str(code).lower())


class BaseEmotionDataset(abc.ABC):
    """Base class of the emotion datasets (SEED family, DEAP, DREAMER, synthetic).

    Parameters
    ----------
    code : str
        Registry code, e.g. ``"SEED-IV"``.
    subject_list : list of int
        Subjects available.
    sessions_per_subject : int
        Number of sessions of each subject.
    event_id : dict of str -> int
        Label map: event name -> integer code (the paper's numeric labels).
    modalities : dict of str -> float | None
        Modalities present at the selected level with their sampling rates in
        Hz (the feature rate, ``1 / window``, for feature-level data).
    level : str
        ``"raw"`` or ``"features"`` (must be in ``levels``).
    levels : tuple of str
        Levels this dataset offers.
    doi : str
        DOI of the reference publication.
    licence_url : str
        Where the licence / request form is.
    folder_name : str
        Default folder name under ``~/mne_data``.
    path : path-like | None
        Root folder of the dataset; see :meth:`data_path` for the lookup order.
    """

    def __init__(
        self,
        *,
        code,
        subject_list,
        sessions_per_subject,
        event_id,
        modalities,
        level,
        levels,
        doi,
        licence_url,
        folder_name,
        path=None,
        trials_per_session=None,
        window=None,
    ):
        self.code = code
        self.subject_list = list(subject_list)
        self.n_sessions = int(sessions_per_subject)
        self.event_id = dict(event_id)
        self.levels = tuple(levels)
        self.level = check_option("level", level, self.levels)
        self.modalities = dict(modalities)
        self.doi = doi
        self.licence_url = licence_url
        self.folder_name = folder_name
        self.path = path
        self.trials_per_session = trials_per_session
        self.window = window

    # ------------------------------------------------------------------ paths
    @property
    def env_var(self):
        """Environment variable (and MNE config key) naming the dataset root."""
        return f"MNE_DATASETS_{_env_code(self.code)}_PATH"

    def data_path(self):
        """Root folder of the dataset.

        Lookup order: the ``path`` argument, the environment variable
        :attr:`env_var`, the MNE config key of the same name, then
        ``~/mne_data/<folder_name>``. Nothing is downloaded.
        """
        if self.path is not None:
            return Path(os.path.expanduser(str(self.path)))
        value = os.environ.get(self.env_var)
        if not value:
            try:
                import mne

                value = mne.get_config(self.env_var, use_env=False)
            except Exception:  # pragma: no cover - a broken MNE config file
                value = None
        if value:
            return Path(os.path.expanduser(value))
        return Path.home() / "mne_data" / self.folder_name

    def _missing_root_error(self, root, expected):
        return DatasetLayoutError(
            f"{self.code} ({self.level} level): the dataset folder {str(root)!r} does not exist.\n"
            f"Expected layout under it:\n{expected}\n"
            f"The data are licensed and are never downloaded by mne_m2s: request them at "
            f"{self.licence_url}, then pass path=..., set the environment variable "
            f"{self.env_var}, or run mne.set_config({self.env_var!r}, '/path/to/data')."
        )

    def check_files(self):
        """Return ``(found, message)``: whether the files of this level are there."""
        try:
            self._check_layout()
        except DatasetLayoutError as err:
            return False, str(err).splitlines()[0]
        return True, str(self.data_path())

    @abc.abstractmethod
    def _check_layout(self):
        """Raise :class:`DatasetLayoutError` unless the root has the expected tree."""

    # ------------------------------------------------------------------- data
    def get_data(self, subjects=None):
        """Load the data of some subjects.

        Parameters
        ----------
        subjects : list of int | None
            Subjects to load (default: all of :attr:`subject_list`).

        Returns
        -------
        data : dict
            ``{subject: {session: {run: mne.io.Raw | FeatureRun}}}`` with
            sessions and runs as strings, in protocol order.
        """
        if subjects is None:
            subjects = self.subject_list
        if isinstance(subjects, (int, np.integer)):
            subjects = [int(subjects)]
        bad = [s for s in subjects if s not in self.subject_list]
        if bad:
            raise ValueError(
                f"subjects {bad} are not part of {self.code}; valid subjects are "
                f"{self.subject_list}."
            )
        return {int(s): self._get_single_subject_data(int(s)) for s in subjects}

    @abc.abstractmethod
    def _get_single_subject_data(self, subject):
        """Return ``{session: {run: mne.io.Raw | FeatureRun}}`` for one subject."""

    def __repr__(self):
        return (
            f"<{type(self).__name__} | code={self.code!r}, level={self.level!r}, "
            f"{len(self.subject_list)} subjects, {self.n_sessions} session(s), "
            f"modalities={list(self.modalities)}>"
        )
