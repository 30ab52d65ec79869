"""Paradigm: from a dataset to samples of consecutive windows, labels and metadata.

A sample is ``n_windows`` consecutive windows of ``window`` seconds taken from
one trial (film clip), so every window of a sample shares the trial's label.
Samples start every ``step`` windows, never cross a trial boundary, and the
incomplete tail of a trial is dropped: a trial of ``n`` whole windows gives
``(n - n_windows) // step + 1`` samples (none when ``n < n_windows``).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd

from .datasets.base import FeatureRun
from .modalities import FeatureDict, channel_modalities, check_modality_map
from .utils import logger
from .utils._checks import _suggest, check_float, check_int, check_type

_BASE_COLUMNS = ("subject", "session", "run", "label", "window_start", "tmin")


class EmotionParadigm:
    """Cut the trials of an emotion dataset into samples of consecutive windows.

    Parameters
    ----------
    n_windows : int
        Windows per sample (the paper's ``T = 5``).
    step : int
        Stride between consecutive samples of a trial, in windows.
    window : float | None
        Window length in seconds. For signal-level (Raw) datasets it defaults
        to 1.0 and ``window * sfreq`` must be a whole number of samples. For
        feature-level datasets the window is the dataset's own (1 s or 4 s);
        leave it ``None`` or give that same value.
    modalities : str | list of str | None
        Modalities to keep (e.g. ``("eeg", "eye")``); ``None`` keeps all.
        For Raw runs a modality is the set of channel types ``modality_map``
        gives it (channels of other types, e.g. ``stim`` or ``misc``, are
        dropped); for feature runs it is a key of the features dict.
    modality_map : dict of str -> tuple of str | None
        Modality name -> MNE channel types. Defaults to
        :data:`mne_m2s.modalities.DEFAULT_MODALITY_MAP`.

    Notes
    -----
    For Raw runs the trial is the span of the run's annotation whose
    description is one of the dataset's event names (the convention of
    :class:`~mne_m2s.datasets.BaseEmotionDataset`); an annotation of zero
    duration marks a trial that lasts until the end of the run. ``tmin`` in
    the metadata counts from the start of that annotation.

    Examples
    --------
    >>> from mne_m2s.datasets import SyntheticEmotion
    >>> paradigm = EmotionParadigm(n_windows=5, step=1)
    >>> X, y, meta = paradigm.get_data(SyntheticEmotion(), subjects=[1])
    """

    def __init__(self, n_windows=5, step=1, window=None, modalities=None, modality_map=None):
        self.n_windows = n_windows
        self.step = step
        self.window = window
        self.modalities = modalities
        self.modality_map = modality_map

    def __repr__(self):
        params = ", ".join(
            f"{k}={getattr(self, k)!r}"
            for k in ("n_windows", "step", "window", "modalities", "modality_map")
        )
        return f"{type(self).__name__}({params})"

    # ------------------------------------------------------------------ public
    def get_data(self, dataset, subjects=None, return_epochs=True):
        """Samples, labels and metadata of some subjects of a dataset.

        Parameters
        ----------
        dataset : BaseEmotionDataset
            The dataset (signal or feature level).
        subjects : int | list of int | None
            Subjects to load (default: all of ``dataset.subject_list``).
        return_epochs : bool
            Raw datasets only: return an :class:`mne.Epochs` (default) or the
            bare data array.

        Returns
        -------
        X : mne.Epochs | ndarray | dict of str -> ndarray
            Raw datasets: an :class:`mne.EpochsArray` with every kept channel,
            one epoch of ``n_windows * window`` seconds per sample, event codes
            ``1 .. n_classes`` with ``event_id`` ``{event name: code}``, the
            trials' annotations (eye events included) and ``metadata = meta``;
            with ``return_epochs=False`` an ndarray of shape
            ``(n_samples, n_channels, n_times)``. Feature datasets: a dict
            ``{modality: ndarray}`` of float32 arrays of shape
            ``(n_samples, n_windows, n_features)``, or
            ``(n_samples, n_windows, n_chans, n_bands)`` for electrode
            modalities.
        y : ndarray of str, shape (n_samples,)
            Event name of each sample's trial.
        meta : pandas.DataFrame
            One row per sample, in time order within each run, with columns
            ``subject`` (int), ``session`` (str), ``run`` (str, the trial),
            ``label``, ``window_start`` (index of the sample's first window in
            the trial), ``tmin`` (seconds from the trial start), then any
            trial-level description fields.
        """
        n_windows = check_int("n_windows", self.n_windows, 1)
        step = check_int("step", self.step, 1)
        window = check_float("window", self.window, 0.0, inclusive=False, allow_none=True)
        check_type("return_epochs", return_epochs, bool)
        subjects = self._check_subjects(dataset, subjects)
        data = dataset.get_data(subjects)
        runs = [
            (int(subject), str(session), str(run), obj)
            for subject in subjects
            for session, session_runs in data[subject].items()
            for run, obj in session_runs.items()
        ]
        if not runs:
            raise ValueError(f"{dataset.code}: subjects {subjects} have no runs.")
        kinds = {isinstance(obj, FeatureRun) for *_, obj in runs}
        if kinds == {True}:
            return self._from_features(dataset, runs, n_windows, step, window)
        if kinds == {False} and all(hasattr(obj, "info") for *_, obj in runs):
            return self._from_raws(dataset, runs, n_windows, step, window, return_epochs)
        types = sorted({type(obj).__name__ for *_, obj in runs})
        raise TypeError(
            f"{dataset.code}: every run must be an mne.io.Raw or every run a FeatureRun; "
            f"got {', '.join(types)}."
        )

    # ------------------------------------------------------------------ checks
    @staticmethod
    def _check_subjects(dataset, subjects):
        available = list(dataset.subject_list)
        if subjects is None:
            return available
        if isinstance(subjects, numbers.Integral) and not isinstance(subjects, bool):
            subjects = [subjects]
        subjects = [int(s) for s in subjects]
        missing = [s for s in subjects if s not in available]
        if missing:
            raise ValueError(
                f"{dataset.code} has no subject(s) {missing}; available subjects are "
                f"{available}."
            )
        if not subjects:
            raise ValueError("subjects is empty; pass None for all subjects.")
        return subjects

    def _selected(self, available, what):
        """Modalities to keep among ``available``; errors list what exists."""
        if self.modalities is None:
            return list(available)
        wanted = [self.modalities] if isinstance(self.modalities, str) else list(self.modalities)
        if not wanted:
            raise ValueError("modalities is empty; pass None to keep every modality.")
        for name in wanted:
            if name not in available:
                raise ValueError(
                    f"Unknown modality {name!r} for this dataset ({what}). Available "
                    f"modalities: {', '.join(map(repr, available))}.{_suggest(name, available)}"
                )
        return wanted

    @staticmethod
    def _event_codes(dataset):
        """Event names ordered by the dataset's numeric labels -> codes 1..K."""
        names = sorted(dataset.event_id, key=lambda k: (dataset.event_id[k], k))
        return {name: code for code, name in enumerate(names, start=1)}

    @staticmethod
    def _meta(rows, extra):
        meta = pd.DataFrame(rows, columns=list(_BASE_COLUMNS))
        meta["subject"] = meta["subject"].astype(int)
        meta["window_start"] = meta["window_start"].astype(int)
        meta["tmin"] = meta["tmin"].astype(float)
        if extra:
            desc = pd.DataFrame(extra)
            desc = desc.drop(columns=[c for c in desc.columns if c in _BASE_COLUMNS])
            meta = pd.concat([meta, desc.reset_index(drop=True)], axis=1)
        return meta

    @staticmethod
    def _n_samples(n_win, n_windows, step):
        return (n_win - n_windows) // step + 1 if n_win >= n_windows else 0

    # ------------------------------------------------------------------ features
    def _from_features(self, dataset, runs, n_windows, step, window):
        first = runs[0][3]
        win = float(first.window)
        if window is not None and not np.isclose(window, win):
            raise ValueError(
                f"{dataset.code} is a feature-level dataset with {win:g}-s windows; the "
                f"paradigm's window={window:g} cannot change it. Leave window=None."
            )
        available = list(first.features)
        keep = self._selected(available, "feature keys")
        shapes = {m: np.shape(first.features[m])[1:] for m in keep}
        parts = {m: [] for m in keep}
        rows, extra, labels, short = [], [], [], []
        for subject, session, run, fr in runs:
            where = f"subject {subject}, session {session}, run {run}"
            if not np.isclose(fr.window, win):
                raise ValueError(f"{where}: window {fr.window} s differs from {win} s.")
            for m in keep:
                if m not in fr.features:
                    raise ValueError(
                        f"{where} has no {m!r} features (it has {list(fr.features)})."
                    )
                if np.shape(fr.features[m])[1:] != shapes[m]:
                    raise ValueError(
                        f"{where}: {m!r} features have shape {np.shape(fr.features[m])[1:]} "
                        f"per window, other runs {shapes[m]}."
                    )
            n = self._n_samples(fr.n_windows, n_windows, step)
            if n == 0:
                short.append((where, fr.n_windows))
                continue
            for m in keep:
                arr = np.asarray(fr.features[m])
                view = np.lib.stride_tricks.sliding_window_view(arr, n_windows, axis=0)
                parts[m].append(np.moveaxis(view[::step][:n], -1, 1))
            starts = np.arange(n) * step
            rows.extend(
                (subject, session, run, fr.label, int(s), float(s * win)) for s in starts
            )
            extra.extend([dict(fr.description)] * n)
            labels.extend([fr.label] * n)
        self._log_short(short, n_windows, f"windows of {win:g} s")
        if not rows:
            raise ValueError(self._empty_message(dataset, n_windows, win))
        X = FeatureDict(
            {m: np.concatenate(parts[m], axis=0, dtype=np.float32) for m in keep}, window=win
        )
        meta = self._meta(rows, extra if any(extra) else None)
        meta["window"] = win  # the window length travels with the data
        logger.info(
            "%s: %d samples of %d x %g-s windows from %d runs.",
            dataset.code,
            len(meta),
            n_windows,
            win,
            len(runs) - len(short),
        )
        return X, np.asarray(labels), meta

    # ------------------------------------------------------------------ raw
    def _from_raws(self, dataset, runs, n_windows, step, window, return_epochs):
        import mne

        window = 1.0 if window is None else window
        ref = runs[0][3]
        sfreq = float(ref.info["sfreq"])
        win_samp = window * sfreq
        if abs(win_samp - round(win_samp)) > 1e-6 or round(win_samp) < 1:
            raise ValueError(
                f"window={window:g} s is not a whole number of samples at {sfreq:g} Hz "
                f"({win_samp:g}); choose a multiple of {1 / sfreq:g} s."
            )
        win_samp = int(round(win_samp))
        ref_types = ref.get_channel_types()
        ch_map = check_modality_map(self.modality_map)
        modality_picks = channel_modalities(ref.info, ch_map)
        present = list(modality_picks)
        if not present:
            raise ValueError(
                f"{dataset.code}: no channel belongs to a modality (channel types "
                f"{sorted(set(ref_types))}, modality map {dict(ch_map)}); pass a modality_map "
                "that names these channel types."
            )
        keep = self._selected(present, "channel types " + ", ".join(sorted(set(ref_types))))
        picks = sorted({i for m in keep for i in modality_picks[m]})
        n_times = n_windows * win_samp
        codes = self._event_codes(dataset)
        gap = n_times + int(sfreq)  # runs laid end to end on a virtual timeline

        views, rows, extra, labels, events = [], [], [], [], []
        annot = {"onset": [], "duration": [], "description": [], "ch_names": []}
        short, offset = [], 0
        for subject, session, run, raw in runs:
            where = f"subject {subject}, session {session}, run {run}"
            self._check_same_channels(raw, ref, ref_types, where)
            label, start, stop, desc = self._trial_span(raw, dataset, where)
            n_win = (stop - start) // win_samp
            n = self._n_samples(n_win, n_windows, step)
            if n == 0:
                short.append((where, n_win))
                continue
            data = raw.get_data(picks=picks, start=start, stop=stop)
            view = np.lib.stride_tricks.sliding_window_view(data, n_times, axis=1)
            views.append(view[:, :: step * win_samp][:, :n])
            starts = np.arange(n) * step
            rows.extend(
                (subject, session, run, label, int(s), float(s * win_samp / sfreq))
                for s in starts
            )
            extra.extend([desc] * n)
            labels.extend([label] * n)
            ev = np.zeros((n, 3), np.int64)
            ev[:, 0] = offset + starts * win_samp
            ev[:, 2] = codes[label]
            events.append(ev)
            self._collect_annotations(raw, start, stop, offset, sfreq, annot)
            offset += (stop - start) + gap
        self._log_short(short, n_windows, f"windows of {window:g} s")
        if not rows:
            raise ValueError(self._empty_message(dataset, n_windows, window))

        data = np.empty((len(rows), len(picks), n_times))
        i = 0
        for view in views:
            data[i : i + view.shape[1]] = view.transpose(1, 0, 2)
            i += view.shape[1]
        meta = self._meta(rows, extra if any(extra) else None)
        meta["window"] = float(window)  # the window length travels with the data
        y = np.asarray(labels)
        logger.info(
            "%s: %d samples of %d x %g-s windows from %d runs.",
            dataset.code,
            len(meta),
            n_windows,
            window,
            len(runs) - len(short),
        )
        if not return_epochs:
            return data, y, meta
        info = mne.pick_info(ref.info, picks)
        info.set_meas_date(None)  # samples of many runs: no single measurement date
        epochs = mne.EpochsArray(
            data,
            info,
            events=np.concatenate(events),
            tmin=0.0,
            event_id=codes,
            on_missing="ignore",
            metadata=meta,
            verbose=False,
        )
        # the trials' extras are already columns of the metadata: not repeated here
        epochs.set_annotations(
            mne.Annotations(
                annot["onset"], annot["duration"], annot["description"], ch_names=annot["ch_names"]
            ),
            on_missing="ignore",
        )
        return epochs, y, meta

    @staticmethod
    def _check_same_channels(raw, ref, ref_types, where):
        if raw.ch_names != ref.ch_names:
            only_here = sorted(set(raw.ch_names) - set(ref.ch_names))
            only_ref = sorted(set(ref.ch_names) - set(raw.ch_names))
            detail = (
                f"extra {only_here[:5]}, missing {only_ref[:5]}"
                if only_here or only_ref
                else "same names in another order"
            )
            raise ValueError(
                f"{where}: channels differ from the first run ({detail}). Every run must "
                "have the same channels; pick or reorder them in the dataset first."
            )
        if raw.get_channel_types() != ref_types:
            raise ValueError(f"{where}: channel types differ from the first run.")
        if not np.isclose(raw.info["sfreq"], ref.info["sfreq"]):
            raise ValueError(
                f"{where}: sampling rate {raw.info['sfreq']:g} Hz differs from the first "
                f"run's {ref.info['sfreq']:g} Hz; resample the runs to one rate first."
            )

    @staticmethod
    def _trial_span(raw, dataset, where):
        """Label, first and last+1 sample of the trial, and its description fields."""
        annotations = raw.annotations
        names = set(dataset.event_id)
        idx = [i for i, d in enumerate(annotations.description) if d in names]
        if not idx:
            raise ValueError(
                f"{where}: no annotation names the trial's event; expected one of "
                f"{sorted(names)}, found {sorted(set(annotations.description))[:10]}."
            )
        found = {annotations.description[i] for i in idx}
        if len(found) > 1:
            raise ValueError(f"{where}: annotations name several events {sorted(found)}.")
        i = idx[0]
        sfreq = raw.info["sfreq"]
        onset = annotations.onset[i] - raw.first_time
        start = min(max(int(round(onset * sfreq)), 0), raw.n_times)
        duration = annotations.duration[i]
        stop = raw.n_times if duration <= 0 else int(round((onset + duration) * sfreq))
        stop = min(max(stop, start), raw.n_times)
        desc = {}
        extras = getattr(annotations, "extras", None)
        if extras is not None and extras[i]:
            desc = dict(extras[i])
        return annotations.description[i], start, stop, desc

    @staticmethod
    def _collect_annotations(raw, start, stop, offset, sfreq, out):
        """Annotations overlapping the trial, clipped to it, moved to the virtual timeline."""
        a = raw.annotations
        if not len(a):
            return
        t0, t1 = start / sfreq, stop / sfreq
        onset = a.onset - raw.first_time
        end = onset + a.duration
        inside = (end >= t0) & (onset <= t1)
        idx = np.flatnonzero(inside)
        on = np.maximum(onset[idx], t0)
        out["onset"].extend((offset / sfreq + on - t0).tolist())
        out["duration"].extend(np.maximum(np.minimum(end[idx], t1) - on, 0.0).tolist())
        out["description"].extend(a.description[idx].tolist())
        out["ch_names"].extend(tuple(a.ch_names[i]) for i in idx)

    @staticmethod
    def _log_short(short, n_windows, unit):
        if short:
            listed = "; ".join(f"{where} ({n} window(s))" for where, n in short[:10])
            more = f" and {len(short) - 10} more" if len(short) > 10 else ""
            logger.warning(
                "%d trial(s) shorter than one sample of %d %s yield no sample: %s%s.",
                len(short),
                n_windows,
                unit,
                listed,
                more,
            )

    @staticmethod
    def _empty_message(dataset, n_windows, window):
        return (
            f"{dataset.code}: no trial is long enough for one sample of n_windows={n_windows} "
            f"windows of {window:g} s; lower n_windows or window."
        )



__all__ = ["EmotionParadigm"]
