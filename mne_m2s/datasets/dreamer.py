"""DREAMER: EEG and ECG of 23 subjects watching 18 film clips.

Katsigiannis & Ramzan, "DREAMER: A database for emotion recognition through
EEG and ECG signals from wireless low-cost off-the-shelf devices", IEEE
Journal of Biomedical and Health Informatics 2018.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..utils import logger
from ..utils._checks import check_float, check_option
from ._raw import RawTrial
from ._readers import (
    UV,
    binarize,
    check_array,
    describe_dir,
    layout_error,
    read_mat,
    resample,
)
from .base import BaseEmotionDataset

#: Emotiv EPOC electrodes in the order of ``EEG_Electrodes``.
DREAMER_EEG = tuple("AF3 F7 F3 FC5 T7 P7 O1 O2 P8 T8 FC6 F4 F8 AF4".split())

#: Self-assessment scores kept per trial (1-5).
DREAMER_RATINGS = ("valence", "arousal", "dominance")

_N_TRIALS = 18
_N_SUBJECTS = 23
_FILE = "DREAMER.mat"

_TREE = """\
DREAMER/                (path=...; or path= the file itself)
└── DREAMER.mat         variable 'DREAMER': struct with Data (1x23 cell of subject structs with
                        EEG/ECG.baseline/stimuli (18x1 cells of (n_times, 14) / (n_times, 2)),
                        ScoreValence/ScoreArousal/ScoreDominance (18x1)), EEG_SamplingRate,
                        ECG_SamplingRate, EEG_Electrodes, noOfSubjects, noOfVideoSequences"""


# ---------------------------------------------------------------- struct access
def _unwrap(x):
    """Strip MATLAB's 1x1 wrappers around cells and structs."""
    while isinstance(x, np.ndarray) and x.size == 1 and (x.dtype == object or x.dtype.names):
        x = x.reshape(-1)[0]
    return x


def _field(struct, name, where):
    struct = _unwrap(struct)
    if isinstance(struct, dict):  # pymatreader-style
        names = list(struct)
    elif isinstance(struct, np.void) and struct.dtype.names:
        names = list(struct.dtype.names)
    elif hasattr(struct, "_fieldnames"):  # scipy mat_struct (struct_as_record=False)
        names = list(struct._fieldnames)
    else:
        raise layout_error(
            where[0], f"{where[1]} is a {type(struct).__name__}, expected a MATLAB struct."
        )
    if name not in names:
        raise layout_error(
            where[0], f"{where[1]} has no field {name!r}; its fields are {sorted(names)}."
        )
    if isinstance(struct, dict):
        return struct[name]
    if isinstance(struct, np.void):
        return struct[name]
    return getattr(struct, name)


def _cells(x):
    """Elements of a cell array (or a struct array) as a list.

    A reader that squeezes (``squeeze_me=True``, pymatreader) turns a
    one-element cell into the bare element: it is returned as a list of one.
    """
    if isinstance(x, list | tuple):
        return list(x)
    if isinstance(x, np.ndarray) and (x.dtype == object or x.dtype.names):
        return list(x.ravel())
    return [x]


def _scalar(x, fname, name):
    arr = np.asarray(_unwrap(x))
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        raise layout_error(fname, f"{name!r} should be a number, got {arr!r}.")
    return arr.reshape(-1)[0].item()  # cast: stored as uint8 / uint16


def _text(x):
    x = _unwrap(x)
    if isinstance(x, np.ndarray):
        if x.size == 0:
            return ""
        if x.dtype.kind in "US":
            return "".join(str(v) for v in x.ravel())
        return str(x.ravel()[0].item())
    return str(x)


class DREAMER(BaseEmotionDataset):
    """DREAMER: 23 subjects, one session of 18 film clips, EEG and ECG.

    Reads the single file ``DREAMER.mat`` (classic MAT, nested struct). Each
    trial becomes one :class:`mne.io.Raw` with the 14 Emotiv EEG channels
    (type ``eeg``, recorded at 128 Hz) and the 2 ECG leads (``ECG1``,
    ``ECG2``, type ``ecg``, recorded at 256 Hz), all at the common rate
    ``sfreq``: by default 128 Hz, the ECG being downsampled by polyphase
    filtering (:func:`scipy.signal.resample_poly`, with its anti-aliasing
    filter); if the two signals then differ in length by a few samples, both
    are cut to the shorter. EEG is converted from microvolts to volts; ECG is
    multiplied by ``ecg_scale``.

    The label is ``"high"`` when the selected score (1-5) is above
    ``threshold``, ``"low"`` below it, and ``tie`` when equal. The three
    scores are kept in the ``extras`` of the trial annotation,
    ``{"valence": …, "arousal": …, "dominance": …, "target": …, "clip": k,
    "age": …, "gender": …}`` (read it with
    :func:`mne_m2s.datasets._io.trial_description`).

    Parameters
    ----------
    path : path-like | None
        The folder holding ``DREAMER.mat``, or the file itself. When ``None``:
        ``MNE_DATASETS_DREAMER_PATH`` (environment or MNE config), else
        ``~/mne_data/DREAMER``.
    target : ``"valence"`` | ``"arousal"`` | ``"dominance"``
        The score that gives the label.
    threshold : float
        Split point on the 1-5 scale (default 3).
    tie : ``"low"`` | ``"high"``
        Class of a score equal to ``threshold`` (default ``"low"``: a score
        of 3 is low, as in the DREAMER paper's ``<= 3`` / ``> 3`` split).
    baseline : ``"drop"`` | ``"keep"`` | ``"subtract"``
        Each trial has a separate 61-s baseline recording (a neutral clip).
        ``"drop"`` (default): the Raw holds the stimulus only. ``"keep"``: the
        baseline is placed before the stimulus in the same Raw and the trial
        annotation spans the stimulus part only. ``"subtract"``: the
        per-channel mean of the baseline is subtracted from the stimulus.
    sfreq : float
        Common sampling rate in Hz of the returned Raw objects (default 128,
        the EEG rate; 256 upsamples the EEG instead).
    ecg_scale : float
        Factor turning the stored ECG values into volts. The release does not
        state the unit; the default 1e-6 treats them as microvolts, like the
        EEG.
    cache, cache_dir, force_update
        Optional cache of parsed subjects (see :class:`~mne_m2s.datasets.SEED`).

    Notes
    -----
    The paper's protocol, 3-fold cross-validation over each subject's
    trials, is :func:`mne_m2s.evaluation.splitters.get_protocol` ``("DREAMER")``.
    """

    def __init__(
        self,
        path=None,
        target="valence",
        threshold=3.0,
        tie="low",
        baseline="drop",
        sfreq=128.0,
        ecg_scale=UV,
        cache=False,
        cache_dir=None,
        force_update=False,
    ):
        check_option("target", target, DREAMER_RATINGS)
        check_float("threshold", threshold)
        check_option("tie", tie, ("low", "high"))
        check_option("baseline", baseline, ("drop", "keep", "subtract"))
        sfreq = check_float("sfreq", sfreq, min_value=0, inclusive=False)
        check_float("ecg_scale", ecg_scale)
        super().__init__(
            code="DREAMER",
            subject_list=range(1, _N_SUBJECTS + 1),
            sessions_per_subject=1,
            event_id={"low": 0, "high": 1},
            modalities={"eeg": sfreq, "pps": sfreq},
            level="raw",
            levels=("raw",),
            doi="10.1109/JBHI.2017.2688239",
            licence_url="https://zenodo.org/record/546113",
            folder_name="DREAMER",
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
        self.sfreq = sfreq
        self.ecg_scale = float(ecg_scale)
        self._loaded = None

    # ------------------------------------------------------------------ layout
    def _file(self):
        root = self.data_path()
        if root.is_file():
            return root
        if not root.is_dir():
            raise self._missing_root_error(root, _TREE)
        for cand in (root / _FILE, root / "DREAMER" / _FILE):
            if cand.is_file():
                return cand
        raise layout_error(
            root / _FILE,
            f"missing DREAMER file. {describe_dir(root)}.\nExpected layout:\n{_TREE}",
            f"Point path= (or {self.env_var}) at the folder holding DREAMER.mat.",
        )

    def _check_layout(self):
        self._file()

    # ------------------------------------------------------------------- read
    def get_data(self, subjects=None, cache_config=None, process_pipeline=None, n_jobs=1):
        """Load the data of some subjects (``DREAMER.mat`` is read once per call).

        Parameters
        ----------
        subjects : int | list of int | None
            Subjects to load (default: all 23).
        cache_config, process_pipeline, n_jobs
            See :meth:`mne_m2s.datasets.BaseEmotionDataset.get_data`.

        Returns
        -------
        data : dict
            ``{subject: {"1": {"1": Raw, …, "18": Raw}}}``.
        """
        try:
            return super().get_data(
                subjects,
                cache_config=cache_config,
                process_pipeline=process_pipeline,
                n_jobs=n_jobs,
            )
        finally:
            self._loaded = None

    def _dreamer(self, fname):
        if self._loaded is None:
            mat = read_mat(fname)
            if "DREAMER" not in mat:
                raise layout_error(fname, f"no variable 'DREAMER'; found {sorted(mat)}.", None)
            self._loaded = _unwrap(mat["DREAMER"])
        return self._loaded

    def _parse(self, fname, subject):
        dr = self._dreamer(fname)
        top = (fname, "DREAMER")
        sf_eeg = float(_scalar(_field(dr, "EEG_SamplingRate", top), fname, "EEG_SamplingRate"))
        sf_ecg = float(_scalar(_field(dr, "ECG_SamplingRate", top), fname, "ECG_SamplingRate"))
        electrodes = [_text(e) for e in _cells(_field(dr, "EEG_Electrodes", top))]
        if tuple(electrodes) != DREAMER_EEG:
            raise layout_error(
                fname,
                f"EEG_Electrodes is {electrodes}, expected the 14 Emotiv electrodes "
                f"{list(DREAMER_EEG)}.",
            )
        subjects = _cells(_field(dr, "Data", top))
        if subject > len(subjects):
            raise layout_error(
                fname,
                f"'Data' holds {len(subjects)} subject(s), so subject {subject} is not in it "
                f"(the release has {_N_SUBJECTS}).",
            )
        subj = subjects[subject - 1]
        where = (fname, f"DREAMER.Data{{{subject}}}")
        scores = {}
        for rating in DREAMER_RATINGS:
            key = f"Score{rating.capitalize()}"
            value = check_array(np.ravel(_field(subj, key, where)), (_N_TRIALS,), fname, key)
            scores[rating] = value.astype(np.int64)  # stored as uint8
        signals = {}
        for mod, n_chans in (("EEG", 14), ("ECG", 2)):
            struct = _field(subj, mod, where)
            for part in ("baseline", "stimuli"):
                cells = _cells(_field(struct, part, (fname, f"{where[1]}.{mod}")))
                if len(cells) != _N_TRIALS:
                    raise layout_error(
                        fname,
                        f"{where[1]}.{mod}.{part} holds {len(cells)} trials, expected "
                        f"{_N_TRIALS}.",
                    )
                signals[mod, part] = [
                    check_array(c, (None, n_chans), fname, f"{where[1]}.{mod}.{part}{{{t + 1}}}")
                    for t, c in enumerate(cells)
                ]
        age = _text(_field(subj, "Age", where)) if self._has(subj, "Age") else ""
        gender = _text(_field(subj, "Gender", where)) if self._has(subj, "Gender") else ""
        names = list(DREAMER_EEG) + ["ECG1", "ECG2"]
        types = ["eeg"] * 14 + ["ecg"] * 2
        runs = {}
        for t in range(_N_TRIALS):
            parts = {}
            for part in ("baseline", "stimuli"):
                eeg = resample(signals["EEG", part][t].T * UV, sf_eeg, self.sfreq)
                ecg = resample(signals["ECG", part][t].T * self.ecg_scale, sf_ecg, self.sfreq)
                n = min(eeg.shape[1], ecg.shape[1])
                if eeg.shape[1] != ecg.shape[1]:
                    logger.info(
                        "DREAMER subject %d trial %d %s: EEG %d and ECG %d samples at %g Hz; "
                        "keeping %d.",
                        subject,
                        t + 1,
                        part,
                        eeg.shape[1],
                        ecg.shape[1],
                        self.sfreq,
                        n,
                    )
                parts[part] = np.concatenate([eeg[:, :n], ecg[:, :n]])
            onset = 0.0
            if self.baseline == "drop":
                signal = parts["stimuli"]
            elif self.baseline == "subtract":
                signal = parts["stimuli"] - parts["baseline"].mean(axis=1, keepdims=True)
            else:
                signal = np.concatenate([parts["baseline"], parts["stimuli"]], axis=1)
                onset = parts["baseline"].shape[1] / self.sfreq
            desc = {r: int(scores[r][t]) for r in DREAMER_RATINGS}
            desc.update(target=self.target, clip=t + 1, age=age, gender=gender)
            runs[str(t + 1)] = RawTrial(
                data=np.ascontiguousarray(signal),
                ch_names=names,
                ch_types=types,
                sfreq=self.sfreq,
                label=binarize(desc[self.target], self.threshold, self.tie),
                description=desc,
                onset=onset,
            )
        return {"1": runs}

    @staticmethod
    def _has(struct, name):
        struct = _unwrap(struct)
        if isinstance(struct, dict):
            return name in struct
        if isinstance(struct, np.void):
            return name in (struct.dtype.names or ())
        return name in getattr(struct, "_fieldnames", ())

    def _subject_files(self, subject):
        return [Path(self._file())]

    def _get_single_subject_data(self, subject):
        fname = Path(self._file())
        return self._load_subject(subject, [fname], lambda: self._parse(fname, subject))
