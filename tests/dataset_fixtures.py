"""Writers of small synthetic dataset files in the exact published layouts.

Each writer follows ``datasets.md`` section 6: real key names, nesting, axis
order and dtypes, fixed axes kept (62 channels, 5 bands, 31/33 eye features,
310 DE values, 40 DEAP channels, 14 + 2 DREAMER channels), short time axes.
Pickles are written the way the real files were: NumPy 1.x class names
(``numpy.core.multiarray``) and, for DEAP, Python-2 byte strings.

Every writer returns what it wrote, so tests can check exact round trips.
"""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import scipy.io as sio

SEED_SUBJECTS = {
    # subject: (key prefix, dates of sessions 1, 2, 3)
    1: ("djc", ("20131027", "20131030", "20131107")),
    7: ("phl", ("20131027", "20131030", "20131106")),  # shares dates with subject 1
    10: ("ww", ("20131130", "20131204", "20131211")),  # two-digit id
}
SEED_LABEL = np.array([[1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]], dtype=np.int8)
SEED_CLIP_SECONDS = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)
SEED_FEATURES = (
    "de_movingAve de_LDS psd_movingAve psd_LDS dasm_movingAve dasm_LDS rasm_movingAve "
    "rasm_LDS asm_movingAve asm_LDS dcau_movingAve dcau_LDS"
).split()
SEED_FEATURE_ROWS = (62, 62, 62, 62, 27, 27, 27, 27, 54, 54, 23, 23)
BANDS = ("delta", "theta", "alpha", "beta", "gamma")

SEED_IV_SUBJECTS = {
    1: ("cz", ("20160518", "20161125", "20161126")),
    10: ("tyc", ("20151014", "20151021", "20151023")),
}
SEED_IV_LABELS = {
    1: (1, 2, 3, 0, 2, 0, 0, 1, 0, 1, 2, 1, 1, 1, 2, 3, 2, 2, 3, 3, 0, 3, 0, 3),
    2: (2, 1, 3, 0, 0, 2, 0, 2, 3, 3, 2, 3, 2, 0, 1, 1, 2, 1, 0, 3, 0, 1, 3, 1),
    3: (1, 2, 2, 1, 3, 3, 3, 1, 1, 2, 1, 0, 2, 3, 3, 0, 2, 3, 0, 0, 2, 0, 1, 0),
}
SEED_V_LABELS = {
    1: (4, 1, 3, 2, 0, 4, 1, 3, 2, 0, 4, 1, 3, 2, 0),
    2: (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
    3: (2, 1, 3, 0, 4, 4, 0, 3, 2, 1, 3, 4, 1, 2, 0),
}
DREAMER_ELECTRODES = (
    "AF3",
    "F7",
    "F3",
    "FC5",
    "T7",
    "P7",
    "O1",
    "O2",
    "P8",
    "T8",
    "FC6",
    "F4",
    "F8",
    "AF4",
)


# -------------------------------------------------------------------- pickles
def _numpy1_names(data):
    """Rewrite NumPy 2 global names as NumPy 1.x wrote them (GLOBAL opcodes only)."""
    return data.replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n")


def py3_pickle(obj, protocol=3):
    """Pickle as Python 3 with NumPy 1.x did (protocol 3, ``numpy.core`` names)."""
    return _numpy1_names(pickle.dumps(obj, protocol=protocol))


class _Py2Pickler(pickle._Pickler):
    """Writes ``bytes`` as Python 2 ``str`` (SHORT_BINSTRING / BINSTRING opcodes)."""

    dispatch = pickle._Pickler.dispatch.copy()

    def _save_py2_str(self, obj):
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)
        self.memoize(obj)

    dispatch[bytes] = _save_py2_str


def py2_pickle(obj):
    """Pickle like Python 2's ``cPickle.dump(obj, f, 2)`` with NumPy 1.x.

    Byte strings (dict keys given as ``bytes`` and the raw buffers of arrays)
    become Python 2 ``str``: ``pickle.load`` then fails, ``encoding='latin1'``
    works and ``encoding='bytes'`` gives ``b'data'`` keys, as with DEAP.
    """
    import io

    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return _numpy1_names(buf.getvalue())


def _rng(seed):
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------- SEED
def seed_trial_samples(k, seconds=None):
    """Samples of SEED trial ``k`` (1-based) in the fixtures: 200 * n + 1."""
    n = seconds[k - 1] if seconds is not None else 1 + (k % 3)
    return 200 * n + 1


def write_seed_raw(root, subjects=(1, 7, 10), layout="nested", seconds=None, seed=0, readme=True):
    """``SEED_EEG/Preprocessed_EEG`` (``layout="nested"``) or ``Preprocessed_EEG`` (``"flat"``).

    Returns
    -------
    written : dict
        ``{subject: {session: [15 arrays (62, n_times) float64]}}`` (microvolts).
    """
    root = Path(root)
    folder = root / ("SEED_EEG/Preprocessed_EEG" if layout == "nested" else "Preprocessed_EEG")
    folder.mkdir(parents=True, exist_ok=True)
    sio.savemat(folder / "label.mat", {"label": SEED_LABEL})
    if readme:
        (folder / "readme.txt").write_text("eeg_1 ... eeg_15 and labels (the readme is wrong)\n")
    rng = _rng(seed)
    written = {}
    for subject in subjects:
        prefix, dates = SEED_SUBJECTS[subject]
        written[subject] = {}
        # write sessions in reverse order: the loader must sort by date, not by listing
        for session in (3, 1, 2):
            trials = [
                rng.standard_normal((62, seed_trial_samples(k, seconds))) * 20.0
                for k in range(1, 16)
            ]
            sio.savemat(
                folder / f"{subject}_{dates[session - 1]}.mat",
                {f"{prefix}_eeg{k}": a for k, a in enumerate(trials, start=1)},
            )
            written[subject][session] = trials
    return written


def seed_window_counts(window):
    """Per-clip window counts of SEED_Multimodal for a window length in seconds."""
    return [s // window for s in SEED_CLIP_SECONDS]


def write_seed_multimodal(root, subjects=(1,), windows=(4, 1), seed=0, nan=True):
    """``SEED_Multimodal/Chinese``: ``eeg_used_{w}s/{s}_{n}.npz`` + eye pickles.

    Returns
    -------
    written : dict
        ``{(window, subject, session): {"eeg": (N, 62, 5), "labels": (N,), "eye": (N, 33)}}``
        with train then test rows (eye only for 4-s windows).
    """
    base = Path(root) / "SEED_Multimodal" / "Chinese"
    eye_dir = base / "04-Eye-tracking-feature" / "eye_tracking_feature"
    eye_dir.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    written = {}
    for window in windows:
        folder = base / "02-EEG-DE-feature" / f"eeg_used_{window}s"
        folder.mkdir(parents=True, exist_ok=True)
        counts = seed_window_counts(window)
        labels = np.repeat(SEED_LABEL.ravel().astype(np.int64) + 1, counts)
        for subject in subjects:
            for session in (1, 2, 3):
                n = labels.size
                eeg = rng.standard_normal((n, 62, 5))
                n_train = sum(counts[:9])
                parts = {}
                for part, sl in (("train", slice(0, n_train)), ("test", slice(n_train, n))):
                    bands = {b: np.ascontiguousarray(eeg[sl, :, i]) for i, b in enumerate(BANDS)}
                    parts[f"{part}_data"] = py3_pickle(bands)
                    parts[f"{part}_label"] = labels[sl]
                np.savez(folder / f"{subject}_{session}.npz", **parts)
                entry = {"eeg": eeg, "labels": labels}
                if window == 4:
                    eye = rng.standard_normal((n, 33))
                    if nan:
                        eye[5, 3] = np.nan
                    obj = {"train_data_eye": eye[:n_train], "test_data_eye": eye[n_train:]}
                    (eye_dir / f"{subject}_{session}").write_bytes(py3_pickle(obj))
                    entry["eye"] = eye
                written[window, subject, session] = entry
    return written


# -------------------------------------------------------------------- SEED-IV
def seed_iv_windows(session, k):
    """Window count of SEED-IV trial ``k`` in the fixtures."""
    return 1 + (k + session) % 4


def seed_iv_raw_eye_windows(session, k):
    """Window count of SEED-IV trial ``k`` in fixtures whose raw EEG the eye features tile."""
    return 2 if k in (1, 2) else 1


#: Samples of one 4-s SEED-IV feature window at 200 Hz.
SEED_IV_WINDOW_SAMPLES = 800


def write_seed_iv(root, subjects=(1, 10), levels=("features", "raw"), seed=0, nan=True,
                  raw_eye=False):
    """``eeg_feature_smooth``, ``eye_feature_smooth`` and/or ``eeg_raw_data`` trees.

    With ``raw_eye=True`` the raw trials are long enough for their eye features
    (``T_k = 800 n_k + 7 k`` samples, ``n_k`` = :func:`seed_iv_raw_eye_windows`,
    as in the release where ``n_k = floor(T_k / 800)``) and ``eye_feature_smooth``
    is written with these ``n_k`` even without the ``"features"`` level; otherwise
    raw trials are short (``100 + 7 k`` samples) and ``n_k`` = :func:`seed_iv_windows`.

    Returns
    -------
    written : dict
        ``{(subject, session): {"<family>": [24 arrays (62, n_k, 5)], "eye": [24 (31, n_k)],
        "raw": [24 (62, n_times)]}}``.
    """
    root = Path(root)
    rng = _rng(seed)
    written = {}
    families = ("de_movingAve", "de_LDS", "psd_movingAve", "psd_LDS")
    windows = seed_iv_raw_eye_windows if raw_eye else seed_iv_windows
    if raw_eye and "raw" not in levels:
        raise ValueError("raw_eye=True writes raw trials: include 'raw' in levels.")
    for subject in subjects:
        prefix, dates = SEED_IV_SUBJECTS[subject]
        for session in (1, 2, 3):
            name = f"{subject}_{dates[session - 1]}.mat"
            entry = written.setdefault((subject, session), {})
            trees = {}
            if "features" in levels:
                eeg_vars = {}
                for k in range(1, 25):
                    n = windows(session, k)
                    for fam in families:
                        arr = rng.standard_normal((62, n, 5))
                        eeg_vars[f"{fam}{k}"] = arr
                        entry.setdefault(fam, []).append(arr)
                trees["eeg_feature_smooth"] = eeg_vars
            if "features" in levels or raw_eye:
                eye_vars = {}
                for k in range(1, 25):
                    eye = rng.standard_normal((31, windows(session, k)))
                    if nan and k == 2:
                        eye[4, 0] = np.nan
                    eye_vars[f"eye_{k}"] = eye
                    entry.setdefault("eye", []).append(eye)
                trees["eye_feature_smooth"] = eye_vars
            for tree, variables in trees.items():
                folder = root / tree / str(session)
                folder.mkdir(parents=True, exist_ok=True)
                sio.savemat(folder / name, variables)
            if "raw" in levels:
                folder = root / "eeg_raw_data" / str(session)
                folder.mkdir(parents=True, exist_ok=True)
                lengths = [
                    SEED_IV_WINDOW_SAMPLES * windows(session, k) + 7 * k if raw_eye
                    else 100 + 7 * k
                    for k in range(1, 25)
                ]
                trials = [rng.standard_normal((62, n)) * 30.0 for n in lengths]
                sio.savemat(
                    folder / name, {f"{prefix}_eeg{k}": a for k, a in enumerate(trials, 1)}
                )
                entry["raw"] = trials
    return written


# --------------------------------------------------------------------- SEED-V
def seed_v_windows(t):
    """Window count of SEED-V trial key ``t`` (0..44) in the fixtures."""
    return 2 + t % 3


def write_seed_v(root, subjects=(1, 16), seed=0, nan=True):
    """``EEG_DE_features/{s}_123.npz`` and ``Eye_movement_features/{s}_123.npz``.

    Returns
    -------
    written : dict
        ``{subject: {"eeg": {t: (n_t, 310)}, "eye": {t: (n_t, 33)}, "label": {t: (n_t,)}}}``.
    """
    root = Path(root)
    rng = _rng(seed)
    written = {}
    for folder in ("EEG_DE_features", "Eye_movement_features"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for subject in subjects:
        eeg, eye, label = {}, {}, {}
        for t in range(45):
            n = seed_v_windows(t)
            code = SEED_V_LABELS[t // 15 + 1][t % 15]
            eeg[t] = rng.standard_normal((n, 310))
            eye[t] = rng.standard_normal((n, 33))
            label[t] = np.full(n, code, dtype=np.int64)
        if nan:
            eye[1][0, 2] = np.nan
            eye[3][-1, 0] = np.inf
        np.savez(
            root / "EEG_DE_features" / f"{subject}_123.npz",
            data=py3_pickle(eeg),
            label=py3_pickle(label),
        )
        eye_label = {t: v.astype(np.float64) for t, v in label.items()}
        np.savez(
            root / "Eye_movement_features" / f"{subject}_123.npz",
            data=py3_pickle(eye),
            label=py3_pickle(eye_label),
        )
        written[subject] = {"eeg": eeg, "eye": eye, "label": label}
    return written


# ----------------------------------------------------------------------- DEAP
def write_deap(root, subjects=(1, 2), n_seconds=2, seed=0):
    """``data_preprocessed_python/sNN.dat`` Python-2 pickles (L = 384 + 128 * n_seconds).

    Returns
    -------
    written : dict
        ``{subject: {"data": (40, 40, L), "labels": (40, 4)}}``.
    """
    folder = Path(root) / "data_preprocessed_python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    written = {}
    for subject in subjects:
        data = rng.standard_normal((40, 40, 384 + 128 * n_seconds)) * 10.0
        labels = rng.uniform(1.0, 9.0, size=(40, 4))
        labels[0, 0] = 5.0  # exactly on the threshold (tie rule)
        labels[1, 0] = 5.01
        labels[2, 0] = 4.99
        (folder / f"s{subject:02d}.dat").write_bytes(
            py2_pickle({b"labels": labels, b"data": data})
        )
        written[subject] = {"data": data, "labels": labels}
    return written


# -------------------------------------------------------------------- DREAMER
def _cell(items, shape):
    arr = np.empty(shape, dtype=object)
    for i, item in enumerate(items):
        arr.flat[i] = item
    return arr


def dreamer_samples(t):
    """EEG samples of DREAMER stimulus ``t`` (0-based) in the fixtures (a multiple of 128)."""
    return 128 * (1 + t % 3)


def write_dreamer(fname, n_subjects=2, baseline_seconds=2, seed=0, drop_fields=()):
    """``DREAMER.mat`` with the published nesting (written by :func:`scipy.io.savemat`).

    ``drop_fields`` leaves fields out of the subject structs (to test errors).

    Returns
    -------
    written : list of dict
        Per subject: ``{"EEG": {"baseline": [18 (T, 14)], "stimuli": [...]}, "ECG": {...},
        "ScoreValence": (18,), "ScoreArousal": (18,), "ScoreDominance": (18,)}``.
    """
    fname = Path(fname)
    fname.parent.mkdir(parents=True, exist_ok=True)
    rng = _rng(seed)
    written, structs = [], []
    for s in range(n_subjects):
        subj = {"Age": str(20 + s), "Gender": "male" if s % 2 else "female"}
        for mod, n_ch, factor in (("EEG", 14, 1), ("ECG", 2, 2)):
            baseline = [
                4200.0 + rng.standard_normal((128 * baseline_seconds * factor, n_ch))
                for _ in range(18)
            ]
            stimuli = [
                4200.0 + rng.standard_normal((dreamer_samples(t) * factor, n_ch))
                for t in range(18)
            ]
            subj[mod] = {"baseline": baseline, "stimuli": stimuli}
        for key in ("ScoreValence", "ScoreArousal", "ScoreDominance"):
            subj[key] = rng.integers(1, 6, size=18).astype(np.uint8)
        subj["ScoreValence"][:5] = [3, 4, 2, 5, 1]  # ties on 3 and both classes
        written.append(subj)
        fields = {
            "Age": subj["Age"],
            "Gender": subj["Gender"],
            "EEG": {p: _cell(subj["EEG"][p], (18, 1)) for p in ("baseline", "stimuli")},
            "ECG": {p: _cell(subj["ECG"][p], (18, 1)) for p in ("baseline", "stimuli")},
            **{
                k: subj[k].reshape(18, 1)
                for k in ("ScoreValence", "ScoreArousal", "ScoreDominance")
            },
        }
        structs.append({k: v for k, v in fields.items() if k not in drop_fields})
    dreamer = {
        "Data": _cell(structs, (1, n_subjects)),
        "EEG_SamplingRate": np.uint8(128),
        "ECG_SamplingRate": np.uint16(256),
        "EEG_Electrodes": _cell(DREAMER_ELECTRODES, (1, 14)),
        "noOfSubjects": np.uint8(n_subjects),
        "noOfVideoSequences": np.uint8(18),
        "Disclaimer": "synthetic test file",
        "Provider": "mne-m2s tests",
        "Version": "1.0.2",
        "Acknowledgement": "none",
    }
    sio.savemat(fname, {"DREAMER": dreamer})
    return written


# ------------------------------------------------------------- file damage
def truncate(fname, keep=0.5):
    """Cut a file to a fraction of its size (an interrupted copy)."""
    fname = Path(fname)
    data = fname.read_bytes()
    fname.write_bytes(data[: int(len(data) * keep)])


def add_mat_variables(fname, **variables):
    """Rewrite a MAT file with extra (or replaced) variables."""
    mat = {k: v for k, v in sio.loadmat(fname).items() if not k.startswith("__")}
    mat.update(variables)
    sio.savemat(fname, mat)


def drop_mat_variables(fname, *names):
    """Rewrite a MAT file without some variables."""
    mat = {
        k: v for k, v in sio.loadmat(fname).items() if not k.startswith("__") and k not in names
    }
    sio.savemat(fname, mat)


class Evil:
    """A pickled object whose loading would call a function (must be refused)."""

    def __reduce__(self):
        import os

        return (os.getcwd, ())
