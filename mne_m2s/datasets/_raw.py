"""Signal-level trials: the plain-array :class:`RawTrial` and its :class:`mne.io.Raw`.

Per-trial extras live in :attr:`FeatureRun.description` at feature level and,
at signal level, in the ``extras`` of the trial annotation (as in
:class:`~mne_m2s.datasets.SyntheticEmotion`); :func:`trial_description` reads
either.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ._containers import FeatureRun
from ._montage import eeg_montage


@dataclass
class RawTrial:
    """Plain-array form of one signal-level trial (what the cache stores).

    Parameters
    ----------
    data : ndarray, shape (n_chans, n_times)
        Signals in SI units (volts for EEG, EOG, EMG, ECG).
    ch_names : list of str
        Channel names.
    ch_types : list of str
        MNE channel types.
    sfreq : float
        Sampling rate in Hz.
    label : str
        Event name of the trial.
    description : dict
        Per-trial extras (str / int / float values), stored in the ``extras``
        of the trial annotation.
    onset, duration : float | None
        The trial annotation (seconds); ``duration=None`` spans to the end.
    """

    data: np.ndarray
    ch_names: list
    ch_types: list
    sfreq: float
    label: str
    description: dict = field(default_factory=dict)
    onset: float = 0.0
    duration: float | None = None


@lru_cache(maxsize=16)
def _template_info(ch_names, ch_types, sfreq):
    """Measurement info with the montage applied, built once per channel set (copied per use)."""
    import mne

    info = mne.create_info(list(ch_names), sfreq, list(ch_types))
    if "eeg" in ch_types:
        info.set_montage(eeg_montage(), on_missing="ignore", verbose=False)
    return info


@lru_cache(maxsize=1)
def _has_extras():
    import inspect

    import mne

    return "extras" in inspect.signature(mne.Annotations).parameters


def build_raw(trial):
    """Turn a :class:`RawTrial` into an :class:`mne.io.RawArray`.

    EEG channels get the positions of
    :func:`~mne_m2s.datasets._montage.eeg_montage` (MNE's 10-05 template, plus
    SEED's CB1/CB2 at I1/I2); a channel unknown to it is left without one
    (``on_missing="ignore"``). One annotation, described by the trial's
    event name, spans the trial; its ``extras`` hold the trial's
    description (continuous ratings …), as in
    :class:`~mne_m2s.datasets.SyntheticEmotion`. With an MNE too old for
    annotation extras, the description is stored as a JSON object string in
    ``raw.info["description"]`` instead.

    Parameters
    ----------
    trial : RawTrial
        The trial.

    Returns
    -------
    raw : mne.io.RawArray
    """
    import mne

    info = _template_info(tuple(trial.ch_names), tuple(trial.ch_types), float(trial.sfreq))
    raw = mne.io.RawArray(trial.data, info.copy(), verbose=False)
    duration = trial.duration
    if duration is None:
        duration = raw.n_times / raw.info["sfreq"] - trial.onset
    if _has_extras():
        annot = mne.Annotations(
            [trial.onset], [duration], [trial.label], extras=[dict(trial.description)]
        )
    else:  # pragma: no cover - MNE < 1.8
        annot = mne.Annotations([trial.onset], [duration], [trial.label])
        raw.info["description"] = json.dumps(trial.description, sort_keys=True)
    raw.set_annotations(annot)
    return raw


def trial_description(run):
    """Per-trial extras of a run (e.g. DEAP's continuous ratings).

    Parameters
    ----------
    run : mne.io.BaseRaw | FeatureRun
        A run of :meth:`BaseEmotionDataset.get_data`.

    Returns
    -------
    description : dict
        ``FeatureRun.description``; for a Raw, the ``extras`` of its first
        annotation (or, with an MNE without annotation extras, the JSON object
        in ``raw.info["description"]``); empty when there is none.
    """
    if isinstance(run, FeatureRun):
        return dict(run.description)
    extras = getattr(run.annotations, "extras", None)
    if extras and len(run.annotations) and extras[0]:
        return dict(extras[0])
    text = run.info.get("description")
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def to_runs(records):
    """``{session: {run: RawTrial | FeatureRun}}`` -> ``{session: {run: Raw | FeatureRun}}``."""
    return {
        session: {
            run: build_raw(rec) if isinstance(rec, RawTrial) else rec for run, rec in runs.items()
        }
        for session, runs in records.items()
    }
