"""SEED-V: 5-class film-clip emotion dataset (16 subjects x 3 sessions x 15 trials).

Liu, Qiu, Zheng & Lu, "Comparing recognition performance and robustness of
multimodal deep learning models for multimodal emotion recognition", IEEE
Transactions on Cognitive and Developmental Systems 2022.
"""

from __future__ import annotations

import numbers

import numpy as np

from ..utils._checks import check_option
from ._montage import SEED_CHANNELS
from ._readers import (
    BANDS,
    align_lengths,
    check_array,
    clean_nonfinite,
    describe_dir,
    find_dir,
    layout_error,
    read_npz,
    require_file,
    unpickle_npz_value,
)
from .base import BaseEmotionDataset, FeatureRun

#: Label of each trial per session: 0 disgust, 1 fear, 2 sad, 3 neutral, 4 happy.
SEED_V_LABELS = {
    1: (4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0),
    2: (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
    3: (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
}

_EVENT_ID = {"disgust": 0, "fear": 1, "sad": 2, "neutral": 3, "happy": 4}
_N_TRIALS = 15
_N_SESSIONS = 3
_N_EYE = 33

_TREE = """\
SEED-V/                               (path=...)
├── EEG_DE_features/{s}_123.npz       s = 1..16; 'data', 'label' = pickled dicts {0..44: ...}
│                                       data[t] (n_windows, 310) = 62 channels x 5 bands
└── Eye_movement_features/{s}_123.npz  same keys; data[t] (n_windows, 33)"""


def _event_name(label):
    return {v: k for k, v in _EVENT_ID.items()}[int(label)]


class SEEDV(BaseEmotionDataset):
    """SEED-V emotion dataset: 16 subjects, 3 sessions, 15 film clips each.

    Only the published features are read (``level="features"``): 4-s
    windows of differential entropy (62 channels x 5 bands, stored flat as
    310 values channel-major and returned as ``(n_windows, 62, 5)``) from
    ``EEG_DE_features/{s}_123.npz`` and 33 eye-movement features from
    ``Eye_movement_features/{s}_123.npz``. Each npz holds ``data`` and
    ``label``, 0-d byte strings whose bytes are pickles of dicts keyed by the
    trial index ``t = 0..44``; session = ``t // 15 + 1``, trial =
    ``t % 15 + 1``. The per-window labels of the EEG file are checked against
    the published label lists (:data:`SEED_V_LABELS`).

    Parameters
    ----------
    path : path-like | None
        The ``SEED-V`` folder. When ``None``: the environment variable / MNE
        config key ``MNE_DATASETS_SEED_V_PATH``, else ``~/mne_data/SEED-V``.
    level : ``"features"``
        The only level offered (the raw recordings are Neuroscan ``.cnt``
        files without trial markers in the release).
    eye_nan : ``"interpolate"`` | ``"zero"`` | ``"raise"``
        What to do with NaN/inf in the eye features (they occur in the
        release): linear interpolation along the windows of the trial (nearest
        finite value at the ends, 0 for a feature without any finite value in
        the trial), replacement by 0, or a :class:`ValueError`.
    length_mismatch : ``"truncate"`` | ``"raise"``
        When a trial's EEG and eye features have different window counts: keep
        the first ``min`` windows of both (logged as a warning) or raise a
        :class:`~mne_m2s.datasets.DatasetLayoutError`.
    cache, cache_dir, force_update
        Optional cache of parsed subjects (see :class:`~mne_m2s.datasets.SEED`).
    """

    def __init__(
        self,
        path=None,
        level="features",
        eye_nan="interpolate",
        length_mismatch="truncate",
        cache=False,
        cache_dir=None,
        force_update=False,
    ):
        check_option("level", level, ("features",))
        check_option("eye_nan", eye_nan, ("interpolate", "zero", "raise"))
        check_option("length_mismatch", length_mismatch, ("truncate", "raise"))
        super().__init__(
            code="SEED-V",
            subject_list=range(1, 17),
            sessions_per_subject=_N_SESSIONS,
            event_id=_EVENT_ID,
            modalities={"eeg": 0.25, "eye": 0.25},
            level=level,
            levels=("features",),
            doi="10.1109/TCDS.2021.3071170",
            licence_url="https://bcmi.sjtu.edu.cn/home/seed/seed-v.html",
            folder_name="SEED-V",
            path=path,
            trials_per_session=_N_TRIALS,
            window=4.0,
            cache=cache,
            cache_dir=cache_dir,
            force_update=force_update,
        )
        self.eye_nan = eye_nan
        self.length_mismatch = length_mismatch

    def _base_dir(self):
        root = self.data_path()
        base = find_dir(root, ("", "SEED-V", "SEED_V"), "EEG_DE_features")
        if base is None:
            if not root.is_dir():
                raise self._missing_root_error(root, _TREE)
            raise layout_error(
                root,
                f"SEED-V: no 'EEG_DE_features' folder here or in SEED-V/. "
                f"{describe_dir(root)}.\nExpected layout:\n{_TREE}",
                f"Point path= (or {self.env_var}) at the SEED-V folder.",
            )
        eye = base / "Eye_movement_features"
        if not eye.is_dir():
            raise layout_error(
                eye,
                f"missing folder of the eye-movement features. {describe_dir(base)}.\n"
                f"Expected layout:\n{_TREE}",
            )
        return base

    def _check_layout(self):
        self._base_dir()

    def _files(self, subject):
        base = self._base_dir()
        return (
            require_file(base / "EEG_DE_features" / f"{subject}_123.npz", "EEG feature file"),
            require_file(
                base / "Eye_movement_features" / f"{subject}_123.npz", "eye-movement feature file"
            ),
        )

    @staticmethod
    def _read_dicts(fname):
        npz = read_npz(fname, ["data", "label"])
        out = []
        for key in ("data", "label"):
            obj = unpickle_npz_value(npz[key], fname, key)
            if not isinstance(obj, dict):
                raise layout_error(
                    fname, f"{key!r} holds a {type(obj).__name__}, expected a dict keyed 0..44."
                )
            if not all(isinstance(k, numbers.Integral) for k in obj):
                raise layout_error(fname, f"{key!r} has non-integer keys {list(obj)[:5]} ….")
            keys = sorted(int(k) for k in obj)
            expected = list(range(_N_SESSIONS * _N_TRIALS))
            if keys != expected:
                missing = sorted(set(expected) - set(keys))
                extra = sorted(set(keys) - set(expected))
                raise layout_error(
                    fname,
                    f"{key!r} should be keyed by the trials 0..44; missing {missing}, "
                    f"unexpected {extra}.",
                )
            out.append({int(k): v for k, v in obj.items()})
        return out

    def _parse(self, eeg_file, eye_file):
        eeg_data, eeg_label = self._read_dicts(eeg_file)
        eye_data, _ = self._read_dicts(eye_file)
        eeg_names = [f"{ch}_{b}" for ch in SEED_CHANNELS for b in BANDS]
        eye_names = None
        records = {}
        for t in range(_N_SESSIONS * _N_TRIALS):
            session, trial = t // _N_TRIALS + 1, t % _N_TRIALS + 1
            eeg = check_array(eeg_data[t], (None, 310), eeg_file, f"data[{t}]")
            labels = check_array(eeg_label[t], (None,), eeg_file, f"label[{t}]")
            expected = SEED_V_LABELS[session][trial - 1]
            if labels.shape[0] != eeg.shape[0] or not np.all(labels == expected):
                raise layout_error(
                    eeg_file,
                    f"label[{t}] (session {session}, trial {trial}) holds "
                    f"{np.unique(labels).tolist()} over {labels.shape[0]} rows; expected "
                    f"{expected} ({_event_name(expected)}) on each of the {eeg.shape[0]} rows.",
                )
            eye = check_array(eye_data[t], (None, _N_EYE), eye_file, f"data[{t}]")
            where = f"{eeg_file.name} / {eye_file} (key {t})"
            arrays = align_lengths(
                {"eeg": eeg.reshape(-1, 62, 5), "eye": eye}, self.length_mismatch, where
            )
            arrays["eye"] = clean_nonfinite(arrays["eye"], self.eye_nan, f"{eye_file} [{t}]")
            eye_names = eye_names or [f"eye_{i}" for i in range(eye.shape[1])]
            records.setdefault(str(session), {})[str(trial)] = FeatureRun(
                features=arrays,
                window=4.0,
                label=_event_name(expected),
                feature_names={"eeg": eeg_names, "eye": eye_names},
                description={"file": eeg_file.name},
            )
        return records

    def _subject_files(self, subject):
        return list(self._files(subject))

    def _get_single_subject_data(self, subject):
        eeg_file, eye_file = self._files(subject)
        return self._load_subject(
            subject, [eeg_file, eye_file], lambda: self._parse(eeg_file, eye_file)
        )
