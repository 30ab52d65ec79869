"""DEAP: EEG and peripheral signals of 32 subjects watching 40 music videos.

Koelstra et al., "DEAP: A database for emotion analysis using physiological
signals", IEEE Transactions on Affective Computing 2012.
"""

from __future__ import annotations

import numpy as np

from ..utils._checks import check_float, check_option
from ._raw import RawTrial
from ._readers import (
    UV,
    binarize,
    check_array,
    check_keys,
    describe_dir,
    layout_error,
    read_pickle,
    require_file,
)
from .base import BaseEmotionDataset

#: Channel order of ``data_preprocessed_python`` (Geneva order).
DEAP_EEG = (
    "Fp1 AF3 F3 F7 FC5 FC1 C3 T7 CP5 CP1 P3 P7 PO3 O1 Oz Pz "
    "Fp2 AF4 Fz F4 F8 FC6 FC2 Cz C4 T8 CP6 CP2 P4 P8 PO4 O2"
).split()

#: The 8 peripheral channels with their MNE channel types and the factor
#: applied to the stored values (microvolts -> volts for EOG and EMG; the
#: others are kept in their published units: GSR in Ohm, respiration and
#: plethysmograph uncalibrated, temperature as stored).
DEAP_PERIPHERAL = (
    ("hEOG", "eog", UV),
    ("vEOG", "eog", UV),
    ("zEMG", "emg", UV),
    ("tEMG", "emg", UV),
    ("GSR", "gsr", 1.0),
    ("Respiration", "resp", 1.0),
    ("Plethysmograph", "bio", 1.0),
    ("Temperature", "temperature", 1.0),
)

#: Columns of ``labels``.
DEAP_RATINGS = ("valence", "arousal", "dominance", "liking")

_SFREQ = 128.0
_N_TRIALS = 40
_N_BASELINE = 384  # 3-s pre-trial baseline at 128 Hz

_TREE = """\
DEAP/                                  (path=...)
└── data_preprocessed_python/
    ├── s01.dat                        Python-2 pickle: 'data' (40, 40, 8064), 'labels' (40, 4)
    └── … s32.dat"""


class DEAP(BaseEmotionDataset):
    """DEAP: 32 subjects, one session of 40 one-minute music videos.

    Reads ``data_preprocessed_python/sNN.dat`` (Python-2 pickles, loaded with
    ``encoding='latin1'`` and a loader that builds only NumPy arrays): 32 EEG
    channels and 8 peripheral channels at 128 Hz, one :class:`mne.io.Raw`
    per trial. Trials are in video order (Experiment_id 1-40), not
    presentation order. Channel types: ``eeg``; hEOG/vEOG ``eog``; zEMG/tEMG
    ``emg``; GSR ``gsr``; respiration ``resp``; plethysmograph ``bio``;
    temperature ``temperature``. EEG, EOG and EMG are converted from
    microvolts to volts; the other channels keep their published units.

    The binary target is ``"high"`` when the selected rating is above
    ``threshold`` and ``"low"`` below it; a rating equal to the threshold is
    ``tie``. All four continuous ratings (1-9) are kept: in
    the ``extras`` of the trial annotation, ``{"valence": …, "arousal":
    …, "dominance": …, "liking": …, "target": …, "video": k}`` (read it with
    :func:`mne_m2s.datasets._io.trial_description`).

    Parameters
    ----------
    path : path-like | None
        The DEAP folder holding ``data_preprocessed_python`` (or that folder
        itself). When ``None``: ``MNE_DATASETS_DEAP_PATH`` (environment or MNE
        config), else ``~/mne_data/DEAP``.
    target : ``"valence"`` | ``"arousal"`` | ``"dominance"`` | ``"liking"``
        The rating that gives the label.
    threshold : float
        Split point on the 1-9 scale (default 5).
    tie : ``"low"`` | ``"high"``
        Class of a rating equal to ``threshold`` (default ``"low"``: high
        means strictly above the threshold).
    baseline : ``"drop"`` | ``"keep"`` | ``"subtract"``
        The first 3 s (384 samples) of each trial are a pre-trial baseline.
        ``"drop"`` (default): the Raw holds the 60-s stimulus only.
        ``"keep"``: the Raw holds all 63 s and the trial annotation spans the
        stimulus (onset 3 s). ``"subtract"``: the per-channel mean of the
        baseline is subtracted from the stimulus, which alone is kept.
    cache, cache_dir, force_update
        Optional cache of parsed subjects (see :class:`~mne_m2s.datasets.SEED`).

    Notes
    -----
    The paper's protocol, 4-fold cross-validation over each subject's
    trials, is :func:`mne_m2s.evaluation.splitters.get_protocol` ``("DEAP")``.
    """

    def __init__(
        self,
        path=None,
        target="valence",
        threshold=5.0,
        tie="low",
        baseline="drop",
        cache=False,
        cache_dir=None,
        force_update=False,
    ):
        check_option("target", target, DEAP_RATINGS)
        check_float("threshold", threshold)
        check_option("tie", tie, ("low", "high"))
        check_option("baseline", baseline, ("drop", "keep", "subtract"))
        super().__init__(
            code="DEAP",
            subject_list=range(1, 33),
            sessions_per_subject=1,
            event_id={"low": 0, "high": 1},
            modalities={"eeg": _SFREQ, "pps": _SFREQ},
            level="raw",
            levels=("raw",),
            doi="10.1109/T-AFFC.2011.15",
            licence_url="https://www.eecs.qmul.ac.uk/mmv/datasets/deap/",
            folder_name="DEAP",
            path=path,
            trials_per_session=_N_TRIALS,
            cache=cache,
            cache_dir=cache_dir,
            force_update=force_update,
        )
        self.target = target
        self.threshold = float(threshold)
        self.tie = tie
        self.baseline = baseline

    def _folder(self):
        root = self.data_path()
        if not root.is_dir():
            raise self._missing_root_error(root, _TREE)
        folder = root / "data_preprocessed_python"
        if folder.is_dir():
            return folder
        if any(root.glob("s[0-9][0-9].dat")):
            return root
        raise layout_error(
            root,
            f"DEAP: no 'data_preprocessed_python' folder (nor sNN.dat files) here. "
            f"{describe_dir(root)}.\nExpected layout:\n{_TREE}",
            f"Point path= (or {self.env_var}) at the DEAP folder.",
        )

    def _check_layout(self):
        self._folder()

    def _parse(self, fname):
        obj = read_pickle(fname)
        if not isinstance(obj, dict):
            raise layout_error(fname, f"holds a {type(obj).__name__}, expected a dict.")
        obj = {(k.decode("latin1") if isinstance(k, bytes) else str(k)): v for k, v in obj.items()}
        check_keys(obj, ["data", "labels"], fname, allow_extra=True)
        data = check_array(obj["data"], (_N_TRIALS, 40, None), fname, "data")
        ratings = check_array(obj["labels"], (_N_TRIALS, 4), fname, "labels")
        if data.shape[2] <= _N_BASELINE:
            raise layout_error(
                fname,
                f"'data' holds {data.shape[2]} samples per trial; expected the 384-sample "
                "baseline followed by the stimulus (8064 in the release).",
            )
        names = DEAP_EEG + [n for n, _, _ in DEAP_PERIPHERAL]
        types = ["eeg"] * len(DEAP_EEG) + [t for _, t, _ in DEAP_PERIPHERAL]
        scale = np.array([UV] * len(DEAP_EEG) + [s for _, _, s in DEAP_PERIPHERAL])[:, None]
        runs = {}
        for k in range(_N_TRIALS):
            signal = data[k] * scale
            onset = 0.0
            if self.baseline == "drop":
                signal = signal[:, _N_BASELINE:]
            elif self.baseline == "subtract":
                signal = signal[:, _N_BASELINE:] - signal[:, :_N_BASELINE].mean(
                    axis=1, keepdims=True
                )
            else:
                onset = _N_BASELINE / _SFREQ
            desc = {r: float(ratings[k, i]) for i, r in enumerate(DEAP_RATINGS)}
            desc.update(target=self.target, video=k + 1)
            runs[str(k + 1)] = RawTrial(
                data=np.ascontiguousarray(signal),
                ch_names=names,
                ch_types=types,
                sfreq=_SFREQ,
                label=binarize(desc[self.target], self.threshold, self.tie),
                description=desc,
                onset=onset,
            )
        return {"1": runs}

    def _subject_files(self, subject):
        return [require_file(self._folder() / f"s{subject:02d}.dat", "subject file")]

    def _get_single_subject_data(self, subject):
        (fname,) = self._subject_files(subject)
        return self._load_subject(subject, [fname], lambda: self._parse(fname))
