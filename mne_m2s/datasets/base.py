"""Base class and containers shared by every emotion dataset adapter.

:class:`BaseEmotionDataset` is a :class:`moabb.datasets.base.BaseDataset`: all
metadata is declared once in the constructor call of a subclass, and
:meth:`BaseEmotionDataset.get_data` returns ``{subject: {session: {run:
data}}}`` (checked with MOABB's own structure checks) where ``data`` is

* an :class:`mne.io.Raw` (signal level): one Raw per trial (film clip), every
  modality's channels with their MNE channel types, one annotation spanning
  the trial whose description is the trial's event name; or
* a :class:`FeatureRun` (feature level): the published per-window features of
  one trial, one array per modality.

Sessions and runs are strings (``"1"``, ``"2"`` …) ordered as the protocol
orders them, so iteration order is trial order.

One class serves both levels. At signal level the dataset is a complete MOABB
dataset: MOABB's evaluations run on it through
:class:`mne_m2s.paradigms.EmotionWindowsParadigm` (MOABB's own paradigms refuse
it: its ``paradigm`` is ``"emotion"``). At feature level the same object keeps
the MOABB metadata and structure but its runs are :class:`FeatureRun` objects,
which only :class:`mne_m2s.paradigms.EmotionParadigm` consumes; passing it
through a MOABB processing pipeline raises an error that says so.
"""

from __future__ import annotations

import abc
import numbers
import os
import re
from pathlib import Path

from moabb.datasets.base import BaseDataset

from ..utils._checks import check_option
from ._containers import FeatureRun  # noqa: F401  (re-exported: FeatureRun lived here)


class DatasetLayoutError(OSError):
    """Raised when dataset files are missing or do not have the published layout.

    The message says which file or folder was expected where, what was found,
    and how to point the package at the data.
    """


def _env_code(code):
    return re.sub(r"[^0-9A-Za-z]+", "_", code).upper()


def normalize_code(code):
    """Canonical form used to look codes up: lower case, no separators."""
    return re.sub(r"[^0-9a-z]+", "", str(code).lower())


class BaseEmotionDataset(BaseDataset):
    """Base class of the emotion datasets (SEED family, DEAP, DREAMER, synthetic).

    A :class:`moabb.datasets.base.BaseDataset` whose files are never
    downloaded: the licensed data are read from a local folder (see
    :meth:`data_path`), and :meth:`download` explains how to obtain them.

    Parameters
    ----------
    code : str
        Registry code, e.g. ``"SEED-IV"`` (MOABB's Camel-KebabCase).
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
    trials_per_session : int | None
        Trials (film clips) per session.
    window : float | None
        Window length in seconds of feature-level data (``None`` for signals).
    cache : bool
        Keep parsed subjects in an ``.npz`` cache keyed by every constructor
        parameter and by the size and date of the source files.
    cache_dir : path-like | None
        Cache folder (default: the environment variable / MNE config key
        ``MNE_M2S_CACHE_DIR``, else ``~/mne_data/mne_m2s_cache``; the config is
        only read, never written).
    force_update : bool
        Rebuild cached subjects.

    Notes
    -----
    MOABB attributes: ``paradigm = "emotion"``, ``interval = None`` (a trial's
    span is the annotation named by its event, see
    :class:`~mne_m2s.paradigms.EmotionParadigm`), ``unit_factor = 1e6``
    (applied by the emotion paradigm to voltage channels only), and
    ``return_all_modalities = True`` (eye-tracking and peripheral channels are
    kept).
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
        cache=False,
        cache_dir=None,
        force_update=False,
    ):
        levels = tuple(levels)
        level = check_option("level", level, levels)
        super().__init__(
            subjects=list(subject_list),
            sessions_per_subject=int(sessions_per_subject),
            events={str(k): int(v) for k, v in dict(event_id).items()},
            code=code,
            interval=None,
            paradigm="emotion",
            doi=doi,
            unit_factor=1e6,
            return_all_modalities=True,
        )
        self.levels = levels
        self.level = level
        self.modalities = dict(modalities)
        self.licence_url = licence_url
        self.folder_name = folder_name
        self.path = path
        self.trials_per_session = trials_per_session
        self.window = window
        self.cache = cache
        self.cache_dir = cache_dir
        self.force_update = force_update

    # ------------------------------------------------------------------ paths
    @property
    def env_var(self):
        """Environment variable (and MNE config key) naming the dataset root."""
        return f"MNE_DATASETS_{_env_code(self.code)}_PATH"

    def _root(self, path=None):
        if path is None:
            path = self.path
        if path is not None:
            return Path(os.path.expanduser(str(path)))
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

    def data_path(
        self, subject=None, path=None, force_update=False, update_path=None, verbose=None
    ):
        """Root folder of the dataset, or the files of one subject (MOABB's contract).

        Lookup order of the root: the ``path`` argument of this call, the
        ``path`` given to the constructor, the environment variable
        :attr:`env_var`, the MNE config key of the same name (read, never
        written), then ``~/mne_data/<folder_name>``. Nothing is downloaded and
        nothing prompts.

        Parameters
        ----------
        subject : int | None
            ``None`` (this package's call, ``ds.data_path()``): return the
            root folder. A subject (MOABB's call): return the list of that
            subject's source files, after checking that they exist.
        path : path-like | None
            Root folder for this call only.
        force_update : bool
            Must be ``False``: there is nothing to download again.
        update_path : bool | None
            Must not be ``True``: the MNE config is never written by this
            package (run ``mne.set_config(env_var, path)`` yourself).
        verbose : bool | str | int | None
            Ignored (kept for MOABB's signature).

        Returns
        -------
        root : pathlib.Path
            When ``subject`` is ``None``.
        files : list of pathlib.Path
            When ``subject`` is given.
        """
        if force_update:
            raise ValueError(
                f"force_update=True cannot be honoured: {self.code} is licensed data that "
                "mne_m2s never downloads. Replace the files yourself; pass "
                "force_update=True to the dataset constructor to rebuild its parse cache."
            )
        if update_path:
            raise ValueError(
                "update_path=True would write your MNE config; mne_m2s never does. Run "
                f"mne.set_config({self.env_var!r}, '/path/to/data') yourself if you want it."
            )
        if subject is None:
            return self._root(path)
        subject = self._check_subjects([subject])[0]
        if path is not None:
            saved, self.path = self.path, path
            try:
                return [Path(f) for f in self._subject_files(subject)]
            finally:
                self.path = saved
        return [Path(f) for f in self._subject_files(subject)]

    def download(
        self,
        subject_list=None,
        path=None,
        force_update=False,
        update_path=None,
        accept=False,
        verbose=None,
    ):
        """Check that the local files are there (licensed data are never downloaded).

        Raises
        ------
        DatasetLayoutError
            When the files of a subject are missing, with the expected layout
            and where to request the data.
        """
        for subject in self._check_subjects(subject_list):
            self.data_path(subject, path=path, force_update=force_update, update_path=update_path)

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

    @abc.abstractmethod
    def _subject_files(self, subject):
        """Return the source files one subject is read from (checked to exist).

        Backs MOABB's ``data_path(subject)`` and :meth:`download`. A dataset
        held in memory returns an empty list.
        """

    # ------------------------------------------------------------------- data
    def _missing_modality_hint(self, modality):
        """How to load ``modality`` when this dataset, as configured, lacks it ("" if no way)."""
        return ""

    def _check_subjects(self, subjects):
        if subjects is None:
            return list(self.subject_list)
        if isinstance(subjects, numbers.Integral) and not isinstance(subjects, bool):
            subjects = [subjects]
        subjects = [int(s) for s in subjects]
        bad = [s for s in subjects if s not in self.subject_list]
        if bad:
            raise ValueError(
                f"subjects {bad} are not part of {self.code}; valid subjects are "
                f"{self.subject_list}."
            )
        return subjects

    def _create_process_pipeline(self):
        # MOABB's default re-creates the annotations from a stim channel
        # (SetRawAnnotations), which would erase the trial and eye-tracking
        # annotations: the runs are returned as loaded.
        from moabb.datasets.preprocessing import FixedPipeline

        return FixedPipeline([])

    def get_data(self, subjects=None, cache_config=None, process_pipeline=None, n_jobs=1):
        """Load the data of some subjects.

        Parameters
        ----------
        subjects : int | list of int | None
            Subjects to load (default: all of :attr:`subject_list`).
        cache_config : dict | moabb.datasets.base.CacheConfig | None
            MOABB's processing cache (signal level only); this package's own
            parse cache is the constructor's ``cache``.
        process_pipeline : sklearn.pipeline.Pipeline | None
            A MOABB processing pipeline applied to each Raw (signal level
            only). ``None`` returns the runs as loaded, annotations included.
        n_jobs : int
            Subjects loaded in parallel (joblib).

        Returns
        -------
        data : dict
            ``{subject: {session: {run: mne.io.Raw | FeatureRun}}}`` with
            sessions and runs as strings, in protocol order.
        """
        subjects = self._check_subjects(subjects)
        if self.level != "raw" and (process_pipeline is not None or cache_config is not None):
            raise TypeError(
                f"{self.code} is loaded at level={self.level!r}: its runs are published "
                "features (FeatureRun), which MOABB processing pipelines cannot process. "
                f"Use {type(self).__name__}(level='raw') for MOABB evaluations, or "
                "mne_m2s.paradigms.EmotionParadigm for the features."
            )
        return super().get_data(
            subjects=subjects,
            cache_config=cache_config,
            process_pipeline=process_pipeline,
            n_jobs=n_jobs,
        )

    def _load_subject(self, subject, files, parse):
        """Parse one subject through this package's cache (see ``cache``)."""
        from ._cache import load_subject

        return load_subject(self, subject, files, parse)

    @abc.abstractmethod
    def _get_single_subject_data(self, subject):
        """Return ``{session: {run: mne.io.Raw | FeatureRun}}`` for one subject."""

    def __repr__(self):
        return (
            f"<{type(self).__name__} | code={self.code!r}, level={self.level!r}, "
            f"{len(self.subject_list)} subjects, {self.n_sessions} session(s), "
            f"modalities={list(self.modalities)}>"
        )
