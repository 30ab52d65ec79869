"""A MOABB paradigm for emotion datasets: trial-safe samples of consecutive windows.

:class:`EmotionWindowsParadigm` is a :class:`moabb.paradigms.base.BaseParadigm`,
so MOABB's ``WithinSessionEvaluation``, ``CrossSessionEvaluation`` and
``CrossSubjectEvaluation`` run on the signal-level adapters of
:mod:`mne_m2s.datasets`. The windowing itself is
:class:`~mne_m2s.paradigms.EmotionParadigm`'s (one implementation for both).
"""

from __future__ import annotations

import numbers
import sys
import warnings

import numpy as np
from moabb.paradigms.base import BaseParadigm
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedGroupKFold

from .utils import logger
from .utils._checks import _suggest, check_float, check_int, check_option, check_type

#: Channel types whose data are voltages (scaled by the dataset's ``unit_factor``
#: when arrays are returned); every other channel keeps its SI unit.
_VOLTAGE_TYPES = ("eeg", "eog", "emg", "ecg", "seeg", "ecog", "dbs")


class _EmotionWindowsStep(BaseEstimator):
    """What the paradigm does to each subject, as a parameter-only estimator.

    MOABB keys its stored results by the ``repr`` of the processing pipeline;
    this step makes that key carry every setting of the paradigm.
    """

    def __init__(
        self,
        n_windows=5,
        step=1,
        window=1.0,
        modalities=None,
        eeg_filter=None,
        short_trials="raise",
        return_epochs=False,
        return_raws=False,
    ):
        self.n_windows = n_windows
        self.step = step
        self.window = window
        self.modalities = modalities
        self.eeg_filter = eeg_filter
        self.short_trials = short_trials
        self.return_epochs = return_epochs
        self.return_raws = return_raws

    def fit(self, X, y=None):  # pragma: no cover - fixed step, never fitted by MOABB
        return self

    def transform(self, X):
        raise RuntimeError(
            "This step only describes EmotionWindowsParadigm's processing (it keys MOABB's "
            "results); the data are produced by EmotionWindowsParadigm.get_data."
        )


class EmotionWindowsParadigm(BaseParadigm):
    """MOABB paradigm: samples of consecutive windows strictly inside emotion trials.

    Each trial (film clip) of a signal-level emotion dataset is the span of the
    annotation named by its event; it is cut into samples of ``n_windows``
    consecutive windows of ``window`` seconds, starting every ``step`` windows,
    never crossing the trial's end. The label of a sample is its trial's event.
    Nothing is rejected: the eye-tracking annotations (``fixation``,
    ``saccade``, ``BAD_blink``) are kept on the returned Epochs and never drop
    a sample, and the datasets' trial and eye annotations are never re-created
    from a stim channel.

    Parameters
    ----------
    n_windows : int
        Windows per sample (the paper's ``T = 5``).
    step : int
        Stride between consecutive samples of a trial, in windows.
    window : float
        Window length in seconds (``window * sfreq`` must be whole samples).
    modalities : str | list of str | None
        Modalities to keep (``"eeg"``, ``"eye"``, ``"pps"`` or the keys of
        ``modality_map``); ``None`` keeps every modality of the dataset.
    modality_map : dict of str -> tuple of str | None
        Modality -> MNE channel types (default
        :data:`mne_m2s.modalities.DEFAULT_MODALITY_MAP`).
    eeg_filter : tuple of (float | None, float | None) | None
        Optional ``(l_freq, h_freq)`` band-pass applied to the EEG channels
        only (eye-tracking and peripheral channels are never filtered).
        ``None`` (default) keeps the signals as the dataset delivers them.
    short_trials : ``"raise"`` | ``"drop"``
        A trial shorter than one sample raises a :class:`ValueError` naming it
        (default), or yields no sample (logged as a warning).
    events : list of str | None
        Event names to keep (default: all of the dataset's).
    scorer : str | callable | None
        Scoring of MOABB's evaluations (default ``"balanced_accuracy"``).

    Notes
    -----
    **Units.** ``return_epochs=True`` returns :class:`mne.Epochs` in SI units
    (MNE's convention). Arrays (``return_epochs=False``) have the voltage
    channels (EEG, EOG, EMG, ECG) multiplied by the dataset's ``unit_factor``
    (volts -> microvolts, MOABB's convention); the other channels (gaze in
    pixels, pupil in metres, skin conductance in siemens, respiration,
    temperature) keep their units.

    **Trial-wise splits (enforced).** The metadata have a ``trial`` column
    (unique per subject, session and trial). MOABB's default within-session
    cross-validation stratifies single samples, which would put overlapping
    windows of one clip in both the training and the test fold. Pass
    :meth:`trial_wise_cv` to ``WithinSessionEvaluation`` (or
    ``WithinSubjectEvaluation``) so that every trial stays whole::

        WithinSessionEvaluation(paradigm=p, datasets=[ds], **p.trial_wise_cv(n_splits=3))

    This is not left to the user: when a MOABB evaluation calls
    :meth:`get_data`, the paradigm finds that evaluation (the ``self`` of
    ``BaseEvaluation._load_data``, a few frames up the call stack) and checks
    its splits before returning any sample:

    1. *structure* — a within-session or within-subject evaluation must split
       with a group-aware ``cv_class`` whose ``groups`` keep every trial in
       one group (``groups="trial"``, or a coarser grouping such as
       ``"session"``); otherwise :meth:`get_data` raises a
       :class:`ValueError` naming the fix (MOABB's default raises);
    2. *every fold* — for every evaluation type, the evaluation's own splitter
       is run on the ``(y, metadata)`` being returned, and a
       :class:`ValueError` is raised if any trial has samples on both sides
       of a split (calibration samples of transfer splits count as training).
       This also covers ``CrossSessionEvaluation`` and
       ``CrossSubjectEvaluation`` with custom ``cv_class``; their defaults
       (leave one session / subject out) keep trials whole and pass.

    Only index arrays are split (no model is fitted), so the check costs
    little. An evaluation without a splitter (``_create_splitter()`` returns
    ``None``) cannot be checked and is refused. Direct calls of
    :meth:`get_data` (no evaluation on the call stack) are not checked.

    Examples
    --------
    >>> from mne_m2s.datasets import SyntheticEmotion
    >>> paradigm = EmotionWindowsParadigm(n_windows=5, step=5)
    >>> X, y, meta = paradigm.get_data(SyntheticEmotion(n_subjects=1), subjects=[1])
    """

    def __init__(
        self,
        n_windows=5,
        step=1,
        window=1.0,
        modalities=None,
        modality_map=None,
        eeg_filter=None,
        short_trials="raise",
        events=None,
        scorer=None,
    ):
        super().__init__(filters=[], events=events, scorer=scorer, reject_by_annotation=False)
        self.n_windows = n_windows
        self.step = step
        self.window = window
        self.modalities = modalities
        self.modality_map = modality_map
        self.eeg_filter = eeg_filter
        self.short_trials = short_trials

    def __repr__(self):
        params = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("n_windows", "step", "window", "modalities", "eeg_filter", "short_trials")
        )
        return f"{type(self).__name__}({params})"

    # ---------------------------------------------------------------- MOABB API
    @property
    def scoring(self):
        """Scoring of MOABB's evaluations (``"balanced_accuracy"`` by default)."""
        return "balanced_accuracy" if self.scorer is None else self.scorer

    @property
    def datasets(self):
        """Signal-level emotion datasets whose files are found locally."""
        from .datasets import get_dataset, list_datasets

        found = []
        for code in list_datasets():
            ds = get_dataset(code)
            if code == "SyntheticEmotion" or "raw" not in ds.levels:
                continue
            if ds.level != "raw":
                ds = get_dataset(code, level="raw")
            if ds.check_files()[0]:
                found.append(ds)
        return found

    def is_valid(self, dataset):
        """Whether ``dataset`` is a signal-level emotion dataset this paradigm can cut.

        Returns ``False`` for datasets of other MOABB paradigms (motor imagery
        …), so a MOABB evaluation skips them; raises for misuses that have a
        fix.

        Raises
        ------
        ValueError
            A feature-level emotion dataset, an unknown modality or event name.
        """
        if getattr(dataset, "paradigm", None) != "emotion":
            return False
        level = getattr(dataset, "level", "raw")
        if level != "raw":
            levels = getattr(dataset, "levels", ())
            fix = (
                f"use {type(dataset).__name__}(level='raw', ...)"
                if "raw" in levels
                else f"{dataset.code} offers no signal level; use "
                "mne_m2s.paradigms.EmotionParadigm on its features"
            )
            raise ValueError(
                f"{type(self).__name__} cuts raw signals, but {dataset.code} is loaded at "
                f"level={level!r} (published features): {fix}."
            )
        available = list(getattr(dataset, "modalities", {}) or {})
        for name in self._wanted_modalities():
            if available and name not in available:
                hint = getattr(dataset, "_missing_modality_hint", lambda _: "")(name)
                raise ValueError(
                    f"modalities: {dataset.code} has no modality {name!r}; its modalities are "
                    f"{available}.{hint or _suggest(name, available)}"
                )
        if self.events is not None:
            unknown = [e for e in self.events if e not in dataset.event_id]
            if unknown:
                names = list(dataset.event_id)
                raise ValueError(
                    f"events {unknown} are not events of {dataset.code}; its events are "
                    f"{sorted(names)}.{_suggest(str(unknown[0]), names)}"
                )
        return True

    def used_events(self, dataset):
        """Event name -> code of the events kept."""
        if self.events is None:
            return dict(dataset.event_id)
        return {e: dataset.event_id[e] for e in self.events}

    def make_process_pipelines(
        self, dataset, return_epochs=False, return_raws=False, postprocess_pipeline=None
    ):
        """One fixed pipeline describing this paradigm's processing (keys MOABB's results)."""
        from moabb.datasets.preprocessing import FixedPipeline

        if return_epochs and return_raws:
            raise ValueError("Select only return_epochs or return_raws, not both.")
        step = _EmotionWindowsStep(
            n_windows=self.n_windows,
            step=self.step,
            window=self.window,
            modalities=self.modalities,
            eeg_filter=self.eeg_filter,
            short_trials=self.short_trials,
            return_epochs=return_epochs,
            return_raws=return_raws,
        )
        steps = [("emotion_windows", step)]
        if postprocess_pipeline is not None:
            steps.append(("postprocess_pipeline", postprocess_pipeline))
        return [FixedPipeline(steps)]

    def trial_wise_cv(self, n_splits=5):
        """Keyword arguments that make ``WithinSessionEvaluation`` split by trial.

        Parameters
        ----------
        n_splits : int
            Folds per session (each fold holds whole trials, stratified by
            class as far as whole trials allow).

        Returns
        -------
        kwargs : dict
            ``{"cv_class": StratifiedGroupKFold, "groups": "trial",
            "n_splits": n_splits}``.
        """
        check_int("n_splits", n_splits, 2)
        return {"cv_class": StratifiedGroupKFold, "groups": "trial", "n_splits": n_splits}

    # ------------------------------------------------------------------- data
    def get_data(
        self,
        dataset,
        subjects=None,
        return_epochs=False,
        return_raws=False,
        cache_config=None,
        postprocess_pipeline=None,
        process_pipelines=None,
        additional_metadata=None,
        n_jobs=1,
    ):
        """Samples, labels and metadata of some subjects (MOABB's signature).

        Parameters
        ----------
        dataset : mne_m2s.datasets.BaseEmotionDataset
            A signal-level emotion dataset (``level="raw"``).
        subjects : int | list of int | None
            Subjects (default: all).
        return_epochs : bool
            Return an :class:`mne.Epochs` (SI units, every kept channel, the
            trials' annotations, ``metadata``) instead of an array.
        return_raws : bool
            Return the trials themselves (one Raw per trial, labels per trial).
        cache_config : dict | moabb.datasets.base.CacheConfig | None
            Passed to the dataset's ``get_data``.
        postprocess_pipeline : sklearn.pipeline.Pipeline | None
            Fixed pipeline applied to ``X`` at the end (``transform`` only).
        process_pipelines : list of Pipeline | None
            Only the pipelines of :meth:`make_process_pipelines` (what MOABB's
            evaluations pass back); other MOABB processing is not applicable.
        additional_metadata : None
            Not supported: the metadata already hold every trial field.
        n_jobs : int
            Subjects loaded in parallel by the dataset.

        Returns
        -------
        X : ndarray, shape (n_samples, n_channels, n_times) | mne.Epochs | list of mne.io.Raw
            The samples.
        y : ndarray of str, shape (n_samples,)
            The event name of each sample's trial.
        metadata : pandas.DataFrame
            One row per sample: ``subject``, ``session``, ``run`` (the trial),
            ``trial`` (unique trial id), ``label``, ``window_start``, ``tmin``
            and the trial's description fields.
        """
        from ._emotion_paradigm import EmotionParadigm

        n_windows = check_int("n_windows", self.n_windows, 1)
        step = check_int("step", self.step, 1)
        window = check_float("window", self.window, 0.0, inclusive=False)
        check_option("short_trials", self.short_trials, ("raise", "drop"))
        check_type("return_epochs", return_epochs, bool)
        check_type("return_raws", return_raws, bool)
        if return_epochs and return_raws:
            raise ValueError("Select only return_epochs or return_raws, not both.")
        if additional_metadata is not None:
            raise ValueError(
                "additional_metadata is not supported by EmotionWindowsParadigm: the metadata "
                "already hold every per-trial field of the dataset. Pass None."
            )
        self._check_process_pipelines(process_pipelines)
        if not self.is_valid(dataset):
            raise ValueError(
                f"{dataset.code} is not an emotion dataset (its MOABB paradigm is "
                f"{getattr(dataset, 'paradigm', None)!r}); EmotionWindowsParadigm needs a "
                "signal-level dataset of mne_m2s.datasets."
            )
        if subjects is None:
            subjects = list(dataset.subject_list)
        elif isinstance(subjects, numbers.Integral) and not isinstance(subjects, bool):
            subjects = [int(subjects)]
        data = dataset.get_data(subjects=list(subjects), cache_config=cache_config, n_jobs=n_jobs)
        keep = self.used_events(dataset)
        runs = []
        for subject in subjects:
            for session, session_runs in data[subject].items():
                for run, raw in session_runs.items():
                    where = f"subject {subject}, session {session}, run {run}"
                    label = EmotionParadigm._trial_span(raw, dataset, where)[0]
                    if label in keep:
                        runs.append((int(subject), str(session), str(run), self._filtered(raw)))
        if not runs:
            raise ValueError(f"{dataset.code}: subjects {subjects} have no trial of {list(keep)}.")
        if return_raws:  # one sample per trial: no split can divide a trial
            return self._raws(dataset, runs, postprocess_pipeline)
        self._check_lengths(dataset, runs, n_windows, window)
        inner = EmotionParadigm(
            n_windows=n_windows,
            step=step,
            window=window,
            modalities=self.modalities,
            modality_map=self.modality_map,
        )
        # Epochs in every case: the channel types of the kept channels decide the scaling
        epochs, y, meta = inner._from_raws(dataset, runs, n_windows, step, window, True)
        meta.insert(3, "trial", _trial_ids(meta))
        if return_epochs:
            import mne

            with mne.use_log_level("warning"):
                epochs.metadata = meta
            X = epochs
        else:
            X = self._scale(dataset, epochs)
        if postprocess_pipeline is not None:
            X = postprocess_pipeline.transform(X)
        # sys._getframe(1) is the caller of get_data: BaseEvaluation._load_data when a
        # MOABB evaluation asks for the data (see "Trial-wise splits" in the class notes)
        evaluation = _calling_evaluation(self, sys._getframe(1))
        if evaluation is not None:
            check_trial_wise_splits(evaluation, y, meta)
        return X, y, meta

    # ------------------------------------------------------------------ helpers
    def _wanted_modalities(self):
        if self.modalities is None:
            return []
        return [self.modalities] if isinstance(self.modalities, str) else list(self.modalities)

    @staticmethod
    def _check_process_pipelines(process_pipelines):
        if process_pipelines is None:
            return
        for pipe in process_pipelines:
            steps = getattr(pipe, "steps", [])
            if not steps or not isinstance(steps[0][1], _EmotionWindowsStep):
                raise ValueError(
                    "process_pipelines: EmotionWindowsParadigm produces its samples itself; "
                    "pass None or the pipelines of its make_process_pipelines(). Use "
                    "postprocess_pipeline= for a fixed transformation of the samples."
                )

    def _filtered(self, raw):
        if self.eeg_filter is None:
            return raw
        l_freq, h_freq = self.eeg_filter
        if "eeg" not in raw.get_channel_types():
            return raw
        return raw.copy().filter(l_freq, h_freq, picks="eeg", verbose=False)

    def _check_lengths(self, dataset, runs, n_windows, window):
        from ._emotion_paradigm import EmotionParadigm

        need = n_windows * window
        short = []
        for subject, session, run, raw in runs:
            _, start, stop, _ = EmotionParadigm._trial_span(raw, dataset, "")
            seconds = (stop - start) / raw.info["sfreq"]
            if seconds + 1e-9 < need:
                short.append(f"subject {subject} session {session} trial {run} ({seconds:g} s)")
        if short and self.short_trials == "raise":
            more = f" and {len(short) - 5} more" if len(short) > 5 else ""
            raise ValueError(
                f"{dataset.code}: {len(short)} trial(s) are shorter than one sample of "
                f"n_windows={n_windows} x window={window:g} s = {need:g} s: "
                f"{'; '.join(short[:5])}{more}. Lower n_windows or window, or pass "
                "short_trials='drop' to skip them."
            )

    @staticmethod
    def _scale(dataset, epochs):
        """Array of the samples: voltage channels x dataset.unit_factor, others in SI units."""
        X = epochs.get_data(copy=False)
        types = epochs.get_channel_types()
        factor = np.array([dataset.unit_factor if t in _VOLTAGE_TYPES else 1.0 for t in types])
        X *= factor[None, :, None]
        return X

    def _raws(self, dataset, runs, postprocess_pipeline):
        import pandas as pd

        from ._emotion_paradigm import EmotionParadigm

        X, y, rows = [], [], []
        for subject, session, run, raw in runs:
            label = EmotionParadigm._trial_span(raw, dataset, "")[0]
            X.append(raw)
            y.append(label)
            rows.append((subject, session, run, label))
        meta = pd.DataFrame(rows, columns=["subject", "session", "run", "label"])
        meta.insert(3, "trial", _trial_ids(meta))
        if postprocess_pipeline is not None:
            X = postprocess_pipeline.transform(X)
        logger.info("%s: %d trials returned as Raw objects.", dataset.code, len(X))
        return X, np.asarray(y), meta


def _trial_ids(meta):
    parts = [meta[c].astype(str) for c in ("subject", "session", "run")]
    return (parts[0] + "-" + parts[1] + "-" + parts[2]).to_numpy()


#: How many frames above ``get_data`` are searched for the calling MOABB evaluation
#: (``BaseEvaluation._load_data`` is the direct caller; a few more allow subclasses
#: whose ``get_data`` calls this one).
_EVALUATION_SEARCH_DEPTH = 8


def _calling_evaluation(paradigm, frame):
    """The MOABB evaluation that asked ``paradigm`` for data, or None.

    MOABB's evaluations load their data through
    ``BaseEvaluation._load_data``, which calls ``self.paradigm.get_data(...)``;
    no argument tells the paradigm who asks. So the frames above ``get_data``
    (``frame`` and up to :data:`_EVALUATION_SEARCH_DEPTH` callers) are searched
    for a local ``self`` that is a ``moabb.evaluations.base.BaseEvaluation``
    whose ``paradigm`` is ``paradigm``.

    Parameters
    ----------
    paradigm : EmotionWindowsParadigm
        The paradigm whose ``get_data`` runs.
    frame : frame
        The frame of ``get_data``'s caller (``sys._getframe(1)`` in ``get_data``).

    Returns
    -------
    evaluation : moabb.evaluations.base.BaseEvaluation | None
    """
    from moabb.evaluations.base import BaseEvaluation

    try:
        for _ in range(_EVALUATION_SEARCH_DEPTH):
            if frame is None:
                return None
            candidate = frame.f_locals.get("self")
            if isinstance(candidate, BaseEvaluation) and candidate.paradigm is paradigm:
                return candidate
            frame = frame.f_back
        return None
    finally:
        del frame  # no reference cycle through the frames


def _fix_text(evaluation):
    name = type(evaluation).__name__
    return (
        f"Split by trial: {name}(paradigm=paradigm, ..., **paradigm.trial_wise_cv()) "
        "(cv_class=StratifiedGroupKFold, groups='trial')"
    )


def check_trial_wise_splits(evaluation, y, metadata):
    """Raise unless a MOABB evaluation keeps every trial on one side of each split.

    Samples of one trial are overlapping windows of one film clip: a model
    that sees some of them in training and is tested on others is scored on
    data it has (nearly) seen. Two checks, both on index arrays only:

    1. *Structure* (within-session and within-subject splitters): the
       splitter must be group-aware (``_cv_uses_groups``) and its ``groups``
       must resolve, on ``metadata``, to a grouping in which every trial
       (``metadata["trial"]``, one id per subject, session and trial) falls in
       exactly one group. A random sample-wise splitter may keep trials whole
       by chance on one draw and not on the next, so it is refused even when
       the folds drawn here happen to be clean.
    2. *Every fold* (every evaluation type): ``evaluation._create_splitter()``
       is run on ``(y, metadata)``; no trial may have samples both in the
       training (or calibration) indices and in the test indices of a split.

    Parameters
    ----------
    evaluation : moabb.evaluations.base.BaseEvaluation
        The evaluation that asked for the data.
    y : ndarray, shape (n_samples,)
        The labels returned to it.
    metadata : pandas.DataFrame
        The metadata returned to it (with ``subject``, ``session`` and
        ``trial`` columns).

    Raises
    ------
    ValueError
        Windows of one trial would land on both the training and the test
        side; the message names the fix.
    """
    import pandas as pd
    from moabb.evaluations.splitters import (
        WithinSessionSplitter,
        WithinSubjectSplitter,
        _resolve_groups,
    )

    trials = np.asarray(metadata["trial"])
    codes, uniques = pd.factorize(trials)
    if len(uniques) == len(codes):  # one sample per trial: nothing can be split apart
        return
    name = type(evaluation).__name__
    splitter = evaluation._create_splitter()
    if splitter is None:
        raise ValueError(
            f"{name} defines no splitter (_create_splitter() returns None), so "
            "EmotionWindowsParadigm cannot verify that windows of one trial never land on "
            "both the training and the test side. Use one of MOABB's evaluations "
            "(WithinSession, WithinSubject, CrossSession, CrossSubject), or implement "
            "_create_splitter()."
        )
    cv_name = getattr(getattr(splitter, "cv_class", None), "__name__", type(splitter).__name__)
    if isinstance(splitter, (WithinSessionSplitter, WithinSubjectSplitter)):
        groups = getattr(splitter, "groups", None)
        problem = None
        if not getattr(splitter, "_cv_uses_groups", False):
            problem = f"its cv_class {cv_name} splits single samples (it takes no groups)"
        elif groups is None:
            problem = f"its cv_class {cv_name} is group-aware but no groups= is given"
        else:
            try:
                resolved = np.asarray(_resolve_groups(groups, metadata.reset_index(drop=True)))
            except (KeyError, ValueError, TypeError) as err:
                columns = list(metadata.columns)
                raise ValueError(
                    f"{name}: groups={groups!r} does not resolve on the metadata of "
                    f"EmotionWindowsParadigm (columns {columns}): {err}. "
                    f"{_fix_text(evaluation)}."
                ) from err
            if resolved.shape != codes.shape:
                problem = (
                    f"groups={groups!r} gives {resolved.shape} values for {len(codes)} samples"
                )
            else:
                per_trial = pd.Series(pd.factorize(resolved)[0]).groupby(codes).nunique()
                if (per_trial > 1).any():
                    split = uniques[per_trial.index[per_trial > 1][0]]
                    problem = (
                        f"groups={groups!r} puts the samples of trial {split!r} in several "
                        "groups"
                    )
        if problem is not None:
            raise ValueError(
                f"{name} would put windows of one trial on both the training and the test "
                f"side: {problem}, and the samples of EmotionWindowsParadigm are overlapping "
                f"windows of film clips (trial = metadata column 'trial'). "
                f"{_fix_text(evaluation)}."
            )
    meta = metadata.reset_index(drop=True)
    with warnings.catch_warnings():  # the evaluation's own split reports its warnings
        warnings.simplefilter("ignore")
        for split in splitter.split(np.asarray(y), meta):
            *fit_parts, test = split  # (train, test) or (train, calibration, test)
            fit = np.concatenate([np.asarray(p, dtype=int) for p in fit_parts])
            both = np.intersect1d(codes[fit], codes[np.asarray(test, dtype=int)])
            if both.size:
                raise ValueError(
                    f"{name} (cv_class {cv_name}) puts windows of {both.size} trial(s), e.g. "
                    f"{uniques[both[0]]!r}, on both the training and the test side of a "
                    "split; the samples of EmotionWindowsParadigm are overlapping windows of "
                    "film clips. Use a group-aware cv_class with groups='trial' (or a "
                    f"grouping that keeps trials whole, such as 'session' or 'subject'). "
                    f"{_fix_text(evaluation)}."
                )
