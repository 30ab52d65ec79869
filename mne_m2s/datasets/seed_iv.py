"""SEED-IV: 4-class film-clip emotion dataset (15 subjects x 3 sessions x 24 trials).

Zheng, Liu, Lu, Lu & Cichocki, "EmotionMeter: A multimodal framework for
recognizing human emotions", IEEE Transactions on Cybernetics 2019.
"""

from __future__ import annotations

import re

import numpy as np

from ..modalities import EYE_FEATURE_PREFIX
from ..utils import logger
from ..utils._checks import check_option
from ._montage import SEED_CHANNELS
from ._raw import RawTrial
from ._readers import (
    BANDS,
    UV,
    align_lengths,
    check_array,
    check_keys,
    check_shape,
    clean_nonfinite,
    describe_dir,
    find_dir,
    layout_error,
    mat_variables,
    read_mat,
    read_prefixed_trials,
)
from .base import BaseEmotionDataset, FeatureRun

#: Label of each trial per session (ReadMe.txt): 0 neutral, 1 sad, 2 fear, 3 happy.
SEED_IV_LABELS = {
    1: (1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3),
    2: (2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1),
    3: (1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0),
}

_EVENT_ID = {"neutral": 0, "sad": 1, "fear": 2, "happy": 3}
_N_TRIALS = 24
_N_EYE = 31
#: Sampling rate of eeg_raw_data (Hz) and length of one feature window (s).
_SFREQ = 200.0
_FEATURE_WINDOW = 4.0
_EEG_FEATURES = ("de_movingAve", "de_LDS", "psd_movingAve", "psd_LDS")
_FILE = re.compile(r"^(\d+)_(\d{8})\.mat$")

_TREE = """\
SEED_IV/                                 (path=...)
├── eeg_feature_smooth/{1,2,3}/          level="features": {subject}_{YYYYMMDD}.mat with
│                                          de_movingAve{k}, de_LDS{k}, psd_movingAve{k},
│                                          psd_LDS{k} (62, n_windows, 5), k = 1..24
├── eye_feature_smooth/{1,2,3}/          same file names: eye_1 … eye_24 (31, n_windows)
└── eeg_raw_data/{1,2,3}/                level="raw": same file names: <prefix>_eeg1 …
                                           <prefix>_eeg24 (62, n_times), 200 Hz
                                           (+ eye_feature_smooth with eye="features")"""


def _event_name(label):
    return {v: k for k, v in _EVENT_ID.items()}[int(label)]


class SEEDIV(BaseEmotionDataset):
    """SEED-IV emotion dataset: 15 subjects, 3 sessions, 24 film clips each.

    * ``level="features"`` (default; the M2S paper's inputs):
      ``eeg_feature_smooth`` (62 channels x 5 bands per 4-s window, the chosen
      ``eeg_feature``) and ``eye_feature_smooth`` (31 eye-movement features per
      window), as :class:`~mne_m2s.datasets.FeatureRun` objects with
      ``features={"eeg": (n_windows, 62, 5), "eye": (n_windows, 31)}``.
    * ``level="raw"``: ``eeg_raw_data`` (62-channel EEG at 200 Hz), one
      :class:`mne.io.Raw` per trial, in volts (the files hold microvolts),
      standard 10-05 positions (CB1/CB2 left unpositioned).
    * ``level="raw", eye="features"``: the same EEG plus the published
      eye-movement features. SEED-IV's eye-tracking recordings
      (``eye_raw_data``) are in an undocumented format and are not read;
      ``eye_feature_smooth`` holds 31 features per non-overlapping 4-s window
      of the same clips (``eye_k``, shape (31, n_k)), with
      ``n_k = floor(T_k / 800)`` for a trial of ``T_k`` samples at 200 Hz
      (checked: a mismatch raises a
      :class:`~mne_m2s.datasets.DatasetLayoutError` naming the file and key).
      Each Raw gets 31 ``misc`` channels ``eye_feat_0`` … ``eye_feat_30``
      holding each window's feature vector as a step function over its 4 s
      (dimensionless features: never scaled nor filtered by the paradigms),
      and is cropped to the ``n_k * 4`` s that the features cover (the last
      ``T_k - 800 n_k`` samples, under 4 s, are dropped). Their channel kind
      is ``"eye_feature"`` (:func:`mne_m2s.modalities.channel_kinds`), modality
      ``"eye"``; :class:`~mne_m2s.features.EyeFeatureChannels` reads them back
      by window means, so a 4-s window (or 2, 1 s …) returns exactly the
      stored vector. This lets ``M2SClassifier(task="eye->eeg")`` run on
      SEED-IV's raw EEG with :class:`~mne_m2s.paradigms.EmotionWindowsParadigm`
      (windows dividing 4 s). Non-finite features follow ``eye_nan``.

    Sessions are the folders ``1``, ``2``, ``3``; in each, a subject has one
    file ``{subject}_{YYYYMMDD}.mat``. Labels are not stored in the files:
    they are the per-session lists of the release's ReadMe
    (:data:`SEED_IV_LABELS`), identical for every subject.

    Parameters
    ----------
    path : path-like | None
        The ``SEED_IV`` folder (or its parent). When ``None``: the environment
        variable / MNE config key ``MNE_DATASETS_SEED_IV_PATH``, else
        ``~/mne_data/SEED_IV``.
    level : ``"features"`` | ``"raw"``
        Which published material to load.
    eeg_feature : ``"de_LDS"`` | ``"de_movingAve"`` | ``"psd_LDS"`` | ``"psd_movingAve"``
        Feature level: which EEG feature family to read.
    eye_nan : ``"interpolate"`` | ``"zero"`` | ``"raise"``
        What to do with NaN/inf in the eye features: linear interpolation along
        the windows of the trial, replacement by 0, or an error.
    length_mismatch : ``"truncate"`` | ``"raise"``
        Feature level: when the EEG and eye features of a trial have different
        window counts, keep the first ``min`` windows of both (logged as a
        warning) or raise a :class:`~mne_m2s.datasets.DatasetLayoutError`. (At
        the raw level with ``eye="features"`` a mismatch always raises.)
    eye : None | ``"features"``
        Raw level only: ``None`` (default) loads the EEG alone;
        ``"features"`` adds the published eye-movement features as channels
        (see above).
    cache, cache_dir, force_update
        Optional cache of parsed subjects (see :class:`~mne_m2s.datasets.SEED`).
    """

    def __init__(
        self,
        path=None,
        level="features",
        eeg_feature="de_LDS",
        eye_nan="interpolate",
        length_mismatch="truncate",
        eye=None,
        cache=False,
        cache_dir=None,
        force_update=False,
    ):
        check_option("level", level, ("features", "raw"))
        check_option("eeg_feature", eeg_feature, _EEG_FEATURES)
        check_option("eye_nan", eye_nan, ("interpolate", "zero", "raise"))
        check_option("length_mismatch", length_mismatch, ("truncate", "raise"))
        check_option("eye", eye, (None, "features"))
        if eye is not None and level != "raw":
            raise ValueError(
                f"eye={eye!r} applies to level='raw' (it adds the published eye features to "
                "the raw EEG); the feature level always holds them. Pass eye=None, or "
                "level='raw'."
            )
        if level == "raw":
            modalities, window = {"eeg": _SFREQ}, None
            if eye is not None:
                modalities["eye"] = _SFREQ
        else:
            modalities, window = {"eeg": 0.25, "eye": 0.25}, 4.0
        super().__init__(
            code="SEED-IV",
            subject_list=range(1, 16),
            sessions_per_subject=3,
            event_id=_EVENT_ID,
            modalities=modalities,
            level=level,
            levels=("features", "raw"),
            doi="10.1109/TCYB.2018.2797176",
            licence_url="https://bcmi.sjtu.edu.cn/home/seed/seed-iv.html",
            folder_name="SEED_IV",
            path=path,
            trials_per_session=_N_TRIALS,
            window=window,
            cache=cache,
            cache_dir=cache_dir,
            force_update=force_update,
        )
        self.eeg_feature = eeg_feature
        self.eye_nan = eye_nan
        self.length_mismatch = length_mismatch
        self.eye = eye

    def _missing_modality_hint(self, modality):
        if modality == "eye" and self.level == "raw" and self.eye is None:
            return (
                " SEEDIV(level='raw', eye='features') adds the published eye-movement "
                "features as channels of modality 'eye'."
            )
        return ""

    # ------------------------------------------------------------------ layout
    def _trees(self):
        if self.level == "raw":
            return ("eeg_raw_data",) + (("eye_feature_smooth",) if self.eye else ())
        return ("eeg_feature_smooth", "eye_feature_smooth")

    def _base_dir(self):
        root = self.data_path()
        marker = self._trees()[0]
        base = find_dir(root, ("", "SEED_IV", "SEED-IV"), marker)
        if base is None:
            if not root.is_dir():
                raise self._missing_root_error(root, _TREE)
            raise layout_error(
                root,
                f"SEED-IV ({self.level} level): no {marker!r} folder here or in SEED_IV/. "
                f"{describe_dir(root)}.\nExpected layout:\n{_TREE}",
                f"Point path= (or {self.env_var}) at the SEED_IV folder.",
            )
        return base

    def _check_layout(self):
        base = self._base_dir()
        for tree in self._trees():
            for session in range(1, self.n_sessions + 1):
                folder = base / tree / str(session)
                if not folder.is_dir():
                    raise layout_error(
                        folder,
                        f"missing session folder. {describe_dir(folder.parent)}.\n"
                        f"Expected layout:\n{_TREE}",
                    )
        return base

    def _session_files(self, subject):
        """``[(session, {tree: file})]`` for one subject."""
        base = self._check_layout()
        out = []
        for session in range(1, self.n_sessions + 1):
            first = base / self._trees()[0] / str(session)
            names = sorted(
                p.name
                for p in first.iterdir()
                if (m := _FILE.match(p.name)) is not None and int(m[1]) == subject
            )
            if len(names) != 1:
                raise layout_error(
                    first,
                    f"subject {subject} should have exactly one file "
                    f"'{subject}_<YYYYMMDD>.mat' in session folder {session}, found "
                    f"{names or 'none'}.",
                    "Restore the file from the original release.",
                )
            files = {tree: base / tree / str(session) / names[0] for tree in self._trees()}
            for tree, fname in files.items():
                if not fname.is_file():
                    raise layout_error(
                        fname,
                        f"missing {tree} file (the trees share file names). "
                        f"{describe_dir(fname.parent)}.",
                        "Restore the file from the original release.",
                    )
            out.append((session, files))
        return out

    # ------------------------------------------------------------------ parse
    def _parse_features(self, session_files):
        eeg_names = [f"{ch}_{b}" for ch in SEED_CHANNELS for b in BANDS]
        eye_names = [f"eye_{i}" for i in range(_N_EYE)]
        records = {}
        for session, files in session_files:
            eeg_file, eye_file = files["eeg_feature_smooth"], files["eye_feature_smooth"]
            eeg_keys = [f"{f}{k}" for k in range(1, _N_TRIALS + 1) for f in _EEG_FEATURES]
            eye_keys = [f"eye_{k}" for k in range(1, _N_TRIALS + 1)]
            eeg_vars = mat_variables(eeg_file)
            check_keys(eeg_vars, eeg_keys, eeg_file, what="variables")
            eye_vars = mat_variables(eye_file)
            check_keys(eye_vars, eye_keys, eye_file, what="variables")
            wanted = [f"{self.eeg_feature}{k}" for k in range(1, _N_TRIALS + 1)]
            for key in wanted:
                check_shape(eeg_vars[key], (62, None, 5), eeg_file, key)
            for key in eye_keys:
                check_shape(eye_vars[key], (_N_EYE, None), eye_file, key)
            eeg_mat = read_mat(eeg_file, variable_names=wanted)
            check_keys(eeg_mat, wanted, eeg_file, what="variables")
            eye_mat = read_mat(eye_file)
            check_keys(eye_mat, eye_keys, eye_file, what="variables")
            runs = {}
            for k in range(1, _N_TRIALS + 1):
                eeg = check_array(eeg_mat[wanted[k - 1]], (62, None, 5), eeg_file, wanted[k - 1])
                eye = check_array(eye_mat[f"eye_{k}"], (_N_EYE, None), eye_file, f"eye_{k}")
                where = f"{eye_file} ['eye_{k}']"
                arrays = align_lengths(
                    {"eeg": eeg.transpose(1, 0, 2), "eye": eye.T},
                    self.length_mismatch,
                    f"{eeg_file.name} / {eye_file} (trial {k})",
                )
                arrays["eye"] = clean_nonfinite(arrays["eye"], self.eye_nan, where)
                runs[str(k)] = FeatureRun(
                    features={"eeg": np.ascontiguousarray(arrays["eeg"]), "eye": arrays["eye"]},
                    window=4.0,
                    label=_event_name(SEED_IV_LABELS[session][k - 1]),
                    feature_names={"eeg": eeg_names, "eye": eye_names},
                    description={"file": eeg_file.name},
                )
            records[str(session)] = runs
        return records

    def _parse_raw(self, session_files):
        records = {}
        ch_names, ch_types = list(SEED_CHANNELS), ["eeg"] * len(SEED_CHANNELS)
        if self.eye:
            ch_names += [f"{EYE_FEATURE_PREFIX}{i}" for i in range(_N_EYE)]
            ch_types += ["misc"] * _N_EYE
        for session, files in session_files:
            fname = files["eeg_raw_data"]
            trials = read_prefixed_trials(fname, _N_TRIALS, len(SEED_CHANNELS))
            data = [trial * UV for trial in trials]
            if self.eye:
                data = self._with_eye_features(data, fname, files["eye_feature_smooth"])
            records[str(session)] = {
                str(k): RawTrial(
                    data=trial,
                    ch_names=ch_names,
                    ch_types=ch_types,
                    sfreq=_SFREQ,
                    label=_event_name(SEED_IV_LABELS[session][k - 1]),
                    description={"file": fname.name},
                )
                for k, trial in enumerate(data, start=1)
            }
        return records

    def _with_eye_features(self, trials, eeg_file, eye_file):
        """EEG trials (volts) + the eye features as step channels, cropped to their span.

        Parameters
        ----------
        trials : list of ndarray, shape (62, T_k)
            The EEG of the 24 trials.
        eeg_file, eye_file : Path
            The session's ``eeg_raw_data`` and ``eye_feature_smooth`` files.

        Returns
        -------
        trials : list of ndarray, shape (62 + 31, 800 * n_k)
        """
        keys = [f"eye_{k}" for k in range(1, _N_TRIALS + 1)]
        variables = mat_variables(eye_file)
        check_keys(variables, keys, eye_file, what="variables")
        for key in keys:
            check_shape(variables[key], (_N_EYE, None), eye_file, key)
        mat = read_mat(eye_file, variable_names=keys)
        check_keys(mat, keys, eye_file, what="variables")
        n_samp = int(round(_FEATURE_WINDOW * _SFREQ))
        out, dropped = [], 0
        for k, (eeg, key) in enumerate(zip(trials, keys, strict=True), start=1):
            eye = check_array(mat[key], (_N_EYE, None), eye_file, key)
            n_times, n_win = eeg.shape[1], eye.shape[1]
            expected = n_times // n_samp
            if n_win != expected or n_win == 0:
                found = (
                    f"variable {key!r} has {n_win} windows, but trial {k} of {eeg_file} "
                    f"(its <prefix>_eeg{k}) has {n_times} samples at {_SFREQ:g} Hz, i.e. "
                    f"floor({n_times} / {n_samp}) = {expected} whole "
                    f"{_FEATURE_WINDOW:g}-s windows"
                    if expected
                    else f"trial {k} of {eeg_file} (its <prefix>_eeg{k}) has {n_times} "
                    f"samples at {_SFREQ:g} Hz, less than one {_FEATURE_WINDOW:g}-s window, "
                    f"so no window of variable {key!r} ({n_win} windows) can cover it"
                )
                raise layout_error(
                    eye_file,
                    f"{found}. The eye features must tile the trial (one vector per "
                    "non-overlapping 4-s window, n_k = floor(T_k / 800)).",
                    "Restore both files from the original release, or load the EEG alone "
                    "with eye=None.",
                )
            eye = clean_nonfinite(eye.T, self.eye_nan, f"{eye_file} [{key!r}]")  # (n_win, 31)
            steps = np.repeat(eye.T, n_samp, axis=1)
            dropped += n_times - n_win * n_samp
            out.append(np.concatenate([eeg[:, : n_win * n_samp], steps], axis=0))
        logger.info(
            "%s: %d samples after the last whole 4-s eye-feature window of the trials "
            "dropped (eye='features').",
            eeg_file.name,
            dropped,
        )
        return out

    def _subject_files(self, subject):
        return [f for _, fs in self._session_files(subject) for f in fs.values()]

    def _get_single_subject_data(self, subject):
        session_files = self._session_files(subject)
        files = [f for _, fs in session_files for f in fs.values()]
        parse = self._parse_raw if self.level == "raw" else self._parse_features
        return self._load_subject(subject, files, lambda: parse(session_files))
