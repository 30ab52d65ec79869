"""SEED: 3-class film-clip emotion dataset (15 subjects x 3 sessions x 15 trials).

Zheng & Lu, "Investigating critical frequency bands and channels for
EEG-based emotion recognition with deep neural networks", IEEE TAMD 2015.
"""

from __future__ import annotations

import re

import numpy as np

from ..utils._checks import check_option
from ._montage import SEED_CHANNELS
from ._raw import RawTrial
from ._readers import (
    BANDS,
    UV,
    check_array,
    check_keys,
    clean_nonfinite,
    describe_dir,
    find_dir,
    layout_error,
    read_mat,
    read_npz,
    read_pickle,
    read_prefixed_trials,
    require_file,
    unpickle_npz_value,
)
from .base import BaseEmotionDataset, FeatureRun

#: Label of each clip (same order in every session): 1 positive, 0 neutral, -1 negative.
SEED_LABELS = (1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1)

#: Whole seconds of each clip (the preprocessed trials hold 200 * n + 1 samples).
SEED_CLIP_SECONDS = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)

#: Subjects of SEED_Multimodal (6, 7 and 15 have no eye-tracking data).
MULTIMODAL_SUBJECTS = (1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13, 14)

_EVENT_ID = {"negative": -1, "neutral": 0, "positive": 1}
_N_TRIALS = 15
_N_TRAIN = 9  # SEED_Multimodal: train = first 9 clips, test = last 6
_FILE = re.compile(r"^(\d+)_(\d{8})\.mat$")

_RAW_TREE = """\
SEED/                       (path=...; older releases: SEED_EEG's content at the top)
└── SEED_EEG/
    └── Preprocessed_EEG/
        ├── label.mat                  ('label', shape (1, 15))
        ├── 1_20131027.mat             ('djc_eeg1' … 'djc_eeg15', each (62, n_times), 200 Hz)
        └── …                          (45 files {subject}_{YYYYMMDD}.mat)"""

_FEATURE_TREE = """\
SEED/                                  (path=...)
└── SEED_Multimodal/
    └── Chinese/
        ├── 02-EEG-DE-feature/
        │   ├── eeg_used_4s/{s}_{n}.npz    (train_data, test_data, train_label, test_label)
        │   └── eeg_used_1s/{s}_{n}.npz
        └── 04-Eye-tracking-feature/
            └── eye_tracking_feature/{s}_{n}   (pickle: train_data_eye, test_data_eye)
   s in 1-5, 8-14 (subject), n in 1-3 (session)"""


def _event_name(label):
    return {v: k for k, v in _EVENT_ID.items()}[int(label)]


class SEED(BaseEmotionDataset):
    """SEED emotion dataset: 15 subjects, 3 sessions, 15 film clips each.

    Two levels are offered:

    * ``level="raw"``: ``SEED_EEG/Preprocessed_EEG`` (62-channel EEG, 200 Hz,
      0-75 Hz band-passed), one :class:`mne.io.Raw` per clip in volts (the
      files hold microvolts). Sessions are the chronological rank of the
      recording date among the subject's three files; the per-file key prefix
      (``djc_eeg1`` …) is found by pattern. Labels come from ``label.mat``.
      Channel names use MNE's capitalisation (``Fp1``, ``FCz``) of the
      published upper-case names; every electrode gets its standard 10-05
      position except the cerebellar CB1 and CB2, which have none and are left
      unpositioned.
    * ``level="features"``: ``SEED_Multimodal/Chinese`` (the M2S paper's
      inputs, subjects 1-5 and 8-14): differential-entropy features of 62
      channels x 5 bands and, for 4-s windows, the 33 eye-movement features,
      as :class:`~mne_m2s.datasets.FeatureRun` objects. The npz files hold no
      clip boundaries; each clip's window count is its duration in whole
      seconds (:data:`SEED_CLIP_SECONDS`) divided by the window length and
      floored, checked against the row counts of the train (clips 1-9) and test
      (clips 10-15) parts and against the labels, which must be the clip's
      label + 1.

    Both the older release (``Preprocessed_EEG`` at the top of ``path``) and the
    newer one (``SEED_EEG/Preprocessed_EEG`` and
    ``SEED_Multimodal/Chinese``) are recognised.

    Parameters
    ----------
    path : path-like | None
        Root of the release. When ``None``: the environment variable / MNE
        config key ``MNE_DATASETS_SEED_PATH``, else ``~/mne_data/SEED``.
    level : ``"raw"`` | ``"features"``
        Which published material to load.
    feature_window : 4 | 1
        Feature level only: the window length in seconds, i.e. the folder
        ``eeg_used_4s`` (EEG + eye, default) or ``eeg_used_1s`` (EEG only; the
        eye features exist for 4-s windows only).
    eye_nan : ``"interpolate"`` | ``"zero"`` | ``"raise"``
        What to do with NaN/inf in the eye features (see
        :func:`~mne_m2s.datasets._io.clean_nonfinite`): linear interpolation
        along the windows of the trial, replacement by 0, or an error.
    clip_windows : sequence of 15 int | None
        Feature level only: override the per-clip window counts (for a release
        whose clips differ from :data:`SEED_CLIP_SECONDS`).
    cache : bool
        Keep parsed subjects in an ``.npz`` cache keyed by every parameter and
        by the size and date of the source files.
    cache_dir : path-like | None
        Cache folder (default: ``MNE_M2S_CACHE_DIR`` or
        ``~/mne_data/mne_m2s_cache``).
    force_update : bool
        Rebuild cached subjects.

    Notes
    -----
    Runs are ``"1"`` … ``"15"`` (clip order, which is the presentation order);
    sessions ``"1"`` … ``"3"``. ``event_id`` keeps the paper's labels
    (``negative=-1``, ``neutral=0``, ``positive=1``). The paper's protocol
    (first 9 clips train, last 6 test) is
    :func:`mne_m2s.evaluation.splitters.get_protocol` ``("SEED")``.
    """

    def __init__(
        self,
        path=None,
        level="raw",
        feature_window=4,
        eye_nan="interpolate",
        clip_windows=None,
        cache=False,
        cache_dir=None,
        force_update=False,
    ):
        check_option("level", level, ("raw", "features"))
        check_option("feature_window", feature_window, (4, 1))
        check_option("eye_nan", eye_nan, ("interpolate", "zero", "raise"))
        if level == "raw":
            subjects, modalities, window = range(1, 16), {"eeg": 200.0}, None
        else:
            window = float(feature_window)
            subjects = MULTIMODAL_SUBJECTS
            modalities = {"eeg": 1.0 / window}
            if feature_window == 4:
                modalities["eye"] = 1.0 / window
        super().__init__(
            code="SEED",
            subject_list=subjects,
            sessions_per_subject=3,
            event_id=_EVENT_ID,
            modalities=modalities,
            level=level,
            levels=("raw", "features"),
            doi="10.1109/TAMD.2015.2431497",
            licence_url="https://bcmi.sjtu.edu.cn/home/seed/seed.html",
            folder_name="SEED",
            path=path,
            trials_per_session=_N_TRIALS,
            window=window,
            cache=cache,
            cache_dir=cache_dir,
            force_update=force_update,
        )
        self.feature_window = feature_window
        self.eye_nan = eye_nan
        self.clip_windows = None if clip_windows is None else [int(n) for n in clip_windows]
        if self.clip_windows is not None and len(self.clip_windows) != _N_TRIALS:
            raise ValueError(
                f"clip_windows must hold {_N_TRIALS} window counts, got {len(self.clip_windows)}."
            )

    # ------------------------------------------------------------------ layout
    def _preprocessed_dir(self):
        root = self.data_path()
        folder = find_dir(root, ("SEED_EEG/Preprocessed_EEG", "Preprocessed_EEG", ""), "label.mat")
        if folder is None:
            raise self._layout_error(root, "Preprocessed_EEG/label.mat", _RAW_TREE)
        return folder

    def _multimodal_dir(self):
        root = self.data_path()
        folder = find_dir(root, ("SEED_Multimodal/Chinese", "Chinese", ""), "02-EEG-DE-feature")
        if folder is None:
            marker = "SEED_Multimodal/Chinese/02-EEG-DE-feature"
            raise self._layout_error(root, marker, _FEATURE_TREE)
        return folder

    def _layout_error(self, root, marker, tree):
        if not root.is_dir():
            return self._missing_root_error(root, tree)
        return layout_error(
            root,
            f"{self.code} ({self.level} level): no {marker!r} under this folder "
            f"(also looked for it at the top level). {describe_dir(root)}.\n"
            f"Expected layout:\n{tree}",
            f"Point path= (or {self.env_var}) at the SEED release root.",
        )

    def _feature_dirs(self):
        base = self._multimodal_dir()
        eeg = base / "02-EEG-DE-feature" / f"eeg_used_{self.feature_window}s"
        if not eeg.is_dir():
            raise layout_error(
                eeg,
                f"missing folder (feature_window={self.feature_window}). "
                f"{describe_dir(eeg.parent)}.\nExpected layout:\n{_FEATURE_TREE}",
            )
        eye = None
        if self.feature_window == 4:
            eye = base / "04-Eye-tracking-feature" / "eye_tracking_feature"
            if not eye.is_dir():
                raise layout_error(
                    eye,
                    f"missing folder of the eye-movement features. {describe_dir(base)}.\n"
                    f"Expected layout:\n{_FEATURE_TREE}",
                )
        return eeg, eye

    def _check_layout(self):
        if self.level == "raw":
            require_file(self._preprocessed_dir() / "label.mat", "label file")
        else:
            self._feature_dirs()

    # -------------------------------------------------------------------- raw
    def _raw_files(self, subject):
        folder = self._preprocessed_dir()
        files = []
        for p in folder.iterdir():
            match = _FILE.match(p.name)
            if match and int(match[1]) == subject:
                files.append((match[2], p))
        files.sort()
        if len(files) != self.n_sessions:
            raise layout_error(
                folder,
                f"subject {subject} should have {self.n_sessions} session files "
                f"'{subject}_<YYYYMMDD>.mat', found {[p.name for _, p in files] or 'none'}.",
                "Restore the missing files from the original release.",
            )
        return [p for _, p in files]

    def _read_labels(self, fname):
        mat = read_mat(fname)
        check_keys(mat, ["label"], fname, what="variables", allow_extra=True)
        labels = check_array(mat["label"], (1, _N_TRIALS), fname, "label").ravel()
        labels = labels.astype(np.int64)  # stored as int8 (or double)
        bad = sorted(set(labels.tolist()) - set(_EVENT_ID.values()))
        if bad:
            raise layout_error(fname, f"'label' holds values {bad}; expected -1, 0 or 1.")
        return labels

    def _parse_raw(self, files, label_file):
        labels = self._read_labels(label_file)
        records = {}
        for session, fname in enumerate(files, start=1):
            trials = read_prefixed_trials(fname, _N_TRIALS, len(SEED_CHANNELS))
            records[str(session)] = {
                str(k): RawTrial(
                    data=trial * UV,
                    ch_names=SEED_CHANNELS,
                    ch_types=["eeg"] * len(SEED_CHANNELS),
                    sfreq=200.0,
                    label=_event_name(labels[k - 1]),
                    description={"file": fname.name},
                )
                for k, trial in enumerate(trials, start=1)
            }
        return records

    # --------------------------------------------------------------- features
    def _window_counts(self):
        if self.clip_windows is not None:
            return list(self.clip_windows)
        return [s // int(self.feature_window) for s in SEED_CLIP_SECONDS]

    def _feature_files(self, subject):
        eeg_dir, eye_dir = self._feature_dirs()
        files = []
        for session in range(1, self.n_sessions + 1):
            name = f"{subject}_{session}"
            eeg = require_file(eeg_dir / f"{name}.npz", "EEG feature file")
            eye = None
            if eye_dir is not None:
                candidates = [eye_dir / name, eye_dir / f"{name}.pkl", eye_dir / f"{name}.pickle"]
                eye = next((c for c in candidates if c.is_file()), candidates[0])
                require_file(eye, "eye-movement feature file (a pickle without extension)")
            files.append((eeg, eye))
        return files

    def _read_eeg_part(self, npz, fname, part):
        bands = unpickle_npz_value(npz[f"{part}_data"], fname, f"{part}_data")
        if not isinstance(bands, dict):
            raise layout_error(
                fname, f"'{part}_data' holds a {type(bands).__name__}, expected a dict of bands."
            )
        bands = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in bands.items()}
        check_keys(bands, BANDS, fname, what=f"bands in '{part}_data'")
        arrays = [check_array(bands[b], (None, 62), fname, f"{part}_data[{b!r}]") for b in BANDS]
        if len({a.shape[0] for a in arrays}) != 1:
            raise layout_error(
                fname,
                f"the bands of '{part}_data' have different row counts "
                f"{[a.shape[0] for a in arrays]}.",
            )
        labels = check_array(npz[f"{part}_label"], (None,), fname, f"{part}_label")
        if labels.shape[0] != arrays[0].shape[0]:
            raise layout_error(
                fname,
                f"'{part}_label' has {labels.shape[0]} rows but '{part}_data' has "
                f"{arrays[0].shape[0]}.",
            )
        # (n_windows, 62, 5): channel-major, whatever order the bands are stored in.
        return np.stack(arrays, axis=-1), labels

    def _read_eye(self, fname, n_rows):
        obj = read_pickle(fname)
        if not isinstance(obj, dict):
            raise layout_error(fname, f"holds a {type(obj).__name__}, expected a dict.")
        obj = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}
        parts = ("train_data_eye", "test_data_eye")
        check_keys(obj, parts, fname, allow_extra=True)
        eye = {p: check_array(obj[p], (None, None), fname, p) for p in parts}
        for (part, n), p in zip(n_rows.items(), parts, strict=True):
            if eye[p].shape[0] != n:
                raise layout_error(
                    fname,
                    f"{p!r} has {eye[p].shape[0]} rows but the EEG {part} part has {n}; "
                    "the eye features must be row-aligned with eeg_used_4s.",
                )
        if eye[parts[0]].shape[1] != eye[parts[1]].shape[1]:
            raise layout_error(fname, "the train and test eye features have different widths.")
        return np.concatenate([eye[p] for p in parts])

    def _parse_features(self, subject, files):
        counts = self._window_counts()
        bounds = np.concatenate([[0], np.cumsum(counts)])
        eeg_names = [f"{ch}_{b}" for ch in SEED_CHANNELS for b in BANDS]
        records = {}
        for session, (eeg_file, eye_file) in enumerate(files, start=1):
            npz = read_npz(eeg_file, ["train_data", "test_data", "train_label", "test_label"])
            train, y_train = self._read_eeg_part(npz, eeg_file, "train")
            test, y_test = self._read_eeg_part(npz, eeg_file, "test")
            expected = {"train": sum(counts[:_N_TRAIN]), "test": sum(counts[_N_TRAIN:])}
            found = {"train": train.shape[0], "test": test.shape[0]}
            if found != expected:
                raise layout_error(
                    eeg_file,
                    f"row counts {found} do not match the clip durations: expected {expected} "
                    f"(per-clip windows {counts}).",
                    "Pass clip_windows=[...] (15 window counts) if your release has other "
                    "clip lengths.",
                )
            eeg = np.concatenate([train, test])
            labels = np.concatenate([y_train, y_test])
            eye = None
            if eye_file is not None:
                eye = self._read_eye(eye_file, found)
            runs = {}
            for k in range(_N_TRIALS):
                sl = slice(bounds[k], bounds[k + 1])
                clip_labels = np.unique(labels[sl])
                if clip_labels.size != 1 or clip_labels[0] != SEED_LABELS[k] + 1:
                    raise layout_error(
                        eeg_file,
                        f"clip {k + 1} (rows {sl.start}-{sl.stop - 1}) has labels "
                        f"{clip_labels.tolist()}, expected only {SEED_LABELS[k] + 1} "
                        "(= SEED label + 1).",
                    )
                features = {"eeg": eeg[sl]}
                names = {"eeg": eeg_names}
                if eye is not None:
                    where = f"{eye_file} (clip {k + 1})"
                    features["eye"] = clean_nonfinite(eye[sl], self.eye_nan, where)
                    names["eye"] = [f"eye_{i}" for i in range(eye.shape[1])]
                runs[str(k + 1)] = FeatureRun(
                    features=features,
                    window=float(self.feature_window),
                    label=_event_name(SEED_LABELS[k]),
                    feature_names=names,
                    description={"file": eeg_file.name},
                )
            records[str(session)] = runs
        return records

    # ------------------------------------------------------------------- data
    def _subject_files(self, subject):
        if self.level == "raw":
            label_file = require_file(self._preprocessed_dir() / "label.mat", "label file")
            return [*self._raw_files(subject), label_file]
        return [f for pair in self._feature_files(subject) for f in pair if f is not None]

    def _get_single_subject_data(self, subject):
        if self.level == "raw":
            *files, label_file = self._subject_files(subject)
            return self._load_subject(
                subject, [*files, label_file], lambda: self._parse_raw(files, label_file)
            )
        pairs = self._feature_files(subject)
        files = [f for pair in pairs for f in pair if f is not None]
        return self._load_subject(subject, files, lambda: self._parse_features(subject, pairs))
