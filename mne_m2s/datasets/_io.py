"""Shared I/O helpers of the dataset adapters.

* Safe readers for the published file formats (classic MAT files, Python-2
  and Python-3 pickles, ``.npz`` archives holding pickled dictionaries) that
  turn every reading failure into a :class:`~mne_m2s.datasets.DatasetLayoutError`
  naming the file, what was expected and how to fix it.
* :class:`RawTrial`, the plain-array form of one signal-level trial, and
  :func:`build_raw`, which turns it into an :class:`mne.io.Raw`.
* An optional on-disk cache of parsed subjects, keyed by every dataset
  parameter and by the size and modification time of the source files, written
  atomically (temporary file in the same folder, then :func:`os.replace`).
* :func:`trial_description`, which reads the per-trial extras (continuous
  ratings …) from a run, whatever its level.

Per-trial extras live in :attr:`FeatureRun.description` at feature level and,
at signal level, in the ``extras`` of the trial annotation (as in
:class:`~mne_m2s.datasets.SyntheticEmotion`); :func:`trial_description` reads
either.
"""

from __future__ import annotations

import codecs
import collections
import hashlib
import importlib
import json
import os
import pickle
import re
import struct
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..utils import logger
from .base import DatasetLayoutError, FeatureRun

#: Row order of every 62-row array of SEED, SEED-IV and SEED-V, with MNE's
#: capitalisation of the 10-05 names (the releases write them in upper case).
#: CB1 and CB2 (cerebellar) have no position in the standard 10-05 montage.
SEED_CHANNELS = (
    "Fp1 Fpz Fp2 AF3 AF4 F7 F5 F3 F1 Fz F2 F4 F6 F8 FT7 FC5 FC3 FC1 FCz FC2 FC4 FC6 FT8 "
    "T7 C5 C3 C1 Cz C2 C4 C6 T8 TP7 CP5 CP3 CP1 CPz CP2 CP4 CP6 TP8 P7 P5 P3 P1 Pz P2 P4 P6 "
    "P8 PO7 PO5 PO3 POz PO4 PO6 PO8 CB1 O1 Oz O2 CB2"
).split()

#: Frequency bands of the published differential-entropy features, in axis order.
BANDS = ("delta", "theta", "alpha", "beta", "gamma")

#: Microvolts -> volts.
UV = 1e-6

_CACHE_FORMAT = 1


# --------------------------------------------------------------------- errors
def layout_error(fname, problem, fix=None):
    """Build a :class:`DatasetLayoutError` about one file or folder.

    Parameters
    ----------
    fname : path-like
        The file or folder concerned.
    problem : str
        What is wrong (what was expected, what was found).
    fix : str | None
        How to fix it; a generic hint is used when ``None``.

    Returns
    -------
    err : DatasetLayoutError
    """
    if fix is None:
        fix = (
            "The file is not as published: copy it again from the original release "
            "(and check that the download was not interrupted)."
        )
    return DatasetLayoutError(f"{fname}: {problem}\n{fix}")


def describe_dir(path, limit=12):
    """Return a short description of what a folder contains, for error messages."""
    path = Path(path)
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is a file, not a folder"
    names = sorted(p.name + ("/" if p.is_dir() else "") for p in path.iterdir())
    if not names:
        return f"{path} is empty"
    more = f" … ({len(names) - limit} more)" if len(names) > limit else ""
    return f"{path} contains: {', '.join(names[:limit])}{more}"


def require_file(fname, what, fix=None):
    """Raise a :class:`DatasetLayoutError` unless ``fname`` is an existing file."""
    fname = Path(fname)
    if not fname.is_file():
        raise layout_error(
            fname,
            f"missing {what}. {describe_dir(fname.parent)}.",
            fix
            or "Restore the file from the original release, or point path= at the folder "
            "that holds the complete release.",
        )
    return fname


def check_shape(found, shape, fname, key):
    """Raise a :class:`DatasetLayoutError` unless ``found`` matches the template ``shape``.

    Parameters
    ----------
    found : tuple of int
        The shape found.
    shape : tuple of int | None
        Expected shape; ``None`` entries match any size (at least 1).
    fname : path-like
        File the array comes from (for the message).
    key : str
        Name of the variable / key in the file.
    """
    found = tuple(int(n) for n in found)
    ok = len(found) == len(shape) and all(
        (n == s) if s is not None else n >= 1 for n, s in zip(found, shape, strict=True)
    )
    if not ok:
        template = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ")"
        raise layout_error(
            fname,
            f"{key!r} has shape {found}, expected {template} "
            f"({len(shape)}-D with the fixed axes of the published files).",
        )


def check_array(arr, shape, fname, key, *, numeric=True):
    """Check an array's shape against a template and return it as a float64 array.

    Parameters
    ----------
    arr : array-like
        The array read from the file.
    shape : tuple of int | None
        Expected shape; ``None`` entries match any size (at least 1).
    fname : path-like
        File the array comes from (for the message).
    key : str
        Name of the variable / key in the file.
    numeric : bool
        Require a real numeric dtype and return float64.

    Returns
    -------
    arr : ndarray
    """
    arr = np.asarray(arr)
    check_shape(arr.shape, shape, fname, key)
    if numeric:
        if arr.dtype.kind not in "biuf":
            raise layout_error(
                fname, f"{key!r} has dtype {arr.dtype}, expected a real numeric array."
            )
        arr = arr.astype(np.float64, copy=False)
    return arr


def check_keys(found, expected, fname, *, what="keys", allow_extra=False):
    """Raise a :class:`DatasetLayoutError` on missing (or unexpected) keys."""
    found = list(found)
    missing = [k for k in expected if k not in found]
    extra = [] if allow_extra else [k for k in found if k not in set(expected)]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {what} {_short(missing)}")
        if extra:
            parts.append(f"unexpected {what} {_short(extra)}")
        raise layout_error(fname, f"{' and '.join(parts)}; expected {_short(list(expected))}.")


def _short(items, limit=8):
    items = [repr(i) if isinstance(i, str) else str(i) for i in items]
    more = f", … ({len(items) - limit} more)" if len(items) > limit else ""
    return "[" + ", ".join(items[:limit]) + more + "]"


# -------------------------------------------------------------------- readers
def _reading_error(fname, err, kind):
    return layout_error(
        fname,
        f"could not be read as {kind} ({type(err).__name__}: {err}).",
        "The file is truncated, corrupt or of another format: copy it again from the "
        "original release.",
    )


def _check_mat_complete(fname):
    """Walk the top-level data elements of a v5 MAT file; raise if one runs past the end.

    :func:`scipy.io.whosmat` and ``loadmat(variable_names=...)`` silently stop
    at the end of a truncated file, which would read as missing variables.
    """
    size = fname.stat().st_size
    with open(fname, "rb") as fid:
        header = fid.read(128)
        if len(header) < 128:
            raise layout_error(
                fname,
                f"is {size} bytes long, shorter than a MAT-file header (128 bytes).",
                "The file is truncated: copy it again from the original release.",
            )
        endian = {b"IM": "<", b"MI": ">"}.get(header[126:128])
        if endian is None or struct.unpack(endian + "H", header[124:126])[0] != 0x0100:
            return  # not a v5 file: left to scipy (v4, or v7.3 = HDF5)
        pos = 128
        while pos < size:
            fid.seek(pos)
            tag = fid.read(8)
            if len(tag) < 8:
                if not any(tag):
                    break  # zero padding at the end of the file
                end = pos + 8
            else:
                mdtype, nbytes = struct.unpack(endian + "II", tag)
                end = pos + 8 if mdtype >> 16 else pos + 8 + nbytes  # small element: 8 bytes
            if end > size:
                raise layout_error(
                    fname,
                    f"is truncated: a variable stored at byte {pos} ends at byte {end}, but "
                    f"the file has {size} bytes.",
                    "The copy or download was interrupted: copy the file again from the "
                    "original release.",
                )
            pos = end


def mat_variables(fname):
    """List the variables of a classic MAT file without loading them.

    Parameters
    ----------
    fname : path-like
        The ``.mat`` file.

    Returns
    -------
    variables : dict of str -> tuple of int
        ``{name: shape}`` in file order.
    """
    from scipy.io import whosmat

    fname = require_file(fname, "MAT file")
    _check_mat_complete(fname)
    try:
        return {name: tuple(shape) for name, shape, _ in whosmat(str(fname))}
    except MemoryError:
        raise
    except Exception as err:
        raise _reading_error(fname, err, "a MATLAB v5/v7 file") from err


def read_mat(fname, variable_names=None, **kwargs):
    """Load a classic (v5/v7) MAT file with :func:`scipy.io.loadmat`.

    Parameters
    ----------
    fname : path-like
        The ``.mat`` file.
    variable_names : list of str | None
        Load only these variables (all when ``None``).
    **kwargs
        Passed to :func:`scipy.io.loadmat`.

    Returns
    -------
    mat : dict
        Variables by name (``__header__`` and friends removed).
    """
    from scipy.io import loadmat

    fname = require_file(fname, "MAT file")
    _check_mat_complete(fname)
    try:
        mat = loadmat(str(fname), variable_names=variable_names, **kwargs)
    except MemoryError:
        raise
    except NotImplementedError as err:  # MATLAB v7.3 = HDF5
        raise layout_error(
            fname,
            f"is a MATLAB v7.3 (HDF5) file ({err}); the published files are v5/v7.",
            "Use the file from the original release (or re-save it in MATLAB with '-v7').",
        ) from err
    except Exception as err:
        raise _reading_error(fname, err, "a MATLAB v5/v7 file") from err
    return {k: v for k, v in mat.items() if not k.startswith("__")}


def _numpy_core(submodule):
    try:
        return importlib.import_module(f"numpy._core.{submodule}")
    except ImportError:  # pragma: no cover - NumPy < 2
        return importlib.import_module(f"numpy.core.{submodule}")


class _SafeUnpickler(pickle.Unpickler):
    """Unpickler that only builds NumPy arrays and plain containers.

    The published pickles hold dictionaries of arrays; anything else (an
    arbitrary class or function) is refused, so a tampered file cannot run
    code. ``numpy.core`` names written by NumPy 1.x are mapped to NumPy 2's
    ``numpy._core``.
    """

    def find_class(self, module, name):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct",
            "scalar",
        ):
            return getattr(_numpy_core("multiarray"), name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return getattr(_numpy_core("numeric"), name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "numpy.dtypes" and name.endswith("DType"):
            return getattr(importlib.import_module("numpy.dtypes"), name)
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(
            f"the pickle references {module}.{name}, which is not a NumPy array or a plain "
            "container; refusing to load it"
        )


def loads_pickle(data, source):
    """Unpickle bytes with the safe unpickler (``encoding='latin1'``).

    Parameters
    ----------
    data : bytes
        The pickle.
    source : str
        Where the bytes come from (file and key), for the message.

    Returns
    -------
    obj : object
    """
    import io

    try:
        return _SafeUnpickler(io.BytesIO(data), encoding="latin1").load()
    except MemoryError:
        raise
    except Exception as err:
        raise _reading_error(source, err, "a pickle of NumPy arrays") from err


def read_pickle(fname):
    """Load a pickle file (Python 2 or 3) holding NumPy arrays and containers.

    Python-2 pickles (DEAP) need ``encoding='latin1'``, which is harmless for
    Python-3 pickles, so it is always used.

    Parameters
    ----------
    fname : path-like
        The pickle file.

    Returns
    -------
    obj : object
    """
    fname = require_file(fname, "pickle file")
    return loads_pickle(fname.read_bytes(), str(fname))


def read_npz(fname, keys):
    """Read some arrays of an ``.npz`` archive without enabling pickles.

    Parameters
    ----------
    fname : path-like
        The ``.npz`` file.
    keys : list of str
        Keys that must be present (others are ignored).

    Returns
    -------
    arrays : dict of str -> ndarray
    """
    fname = require_file(fname, "npz file")
    try:
        # open the file here: np.load leaks its own handle when the archive is corrupt
        with open(fname, "rb") as fid, np.load(fid, allow_pickle=False) as npz:
            check_keys(npz.files, keys, fname, what="npz keys", allow_extra=True)
            return {k: npz[k] for k in keys}
    except (MemoryError, DatasetLayoutError):
        raise
    except Exception as err:
        raise _reading_error(fname, err, "an npz archive") from err


def unpickle_npz_value(arr, fname, key):
    """Unpickle a 0-d byte-string array stored in an npz (``np.savez(pickle.dumps(obj))``)."""
    arr = np.asarray(arr)
    if arr.ndim != 0 or arr.dtype.kind != "S":
        raise layout_error(
            fname,
            f"{key!r} is an array of dtype {arr.dtype} and shape {arr.shape}; expected a 0-d "
            "byte string holding a pickled dictionary.",
        )
    return loads_pickle(arr.item(), f"{fname} [{key!r}]")


# ------------------------------------------------------------ shared parsing
_TRIAL_KEY = re.compile(r"^(?P<prefix>.+)_eeg(?P<k>\d+)$")


def read_prefixed_trials(fname, n_trials, n_chans=62):
    """Read the per-trial raw EEG of a SEED / SEED-IV session file.

    The keys are ``{prefix}_eeg{k}``, ``k = 1..n_trials``, with a
    subject-specific prefix that is found by pattern, never hard-coded.

    Parameters
    ----------
    fname : path-like
        The session ``.mat`` file.
    n_trials : int
        Number of trials the file must hold.
    n_chans : int
        Number of rows of every array.

    Returns
    -------
    trials : list of ndarray, shape (n_chans, n_times)
        Float64 arrays as stored (microvolts), in trial order.
    """
    variables = mat_variables(fname)
    prefixes = {}
    for name in variables:
        match = _TRIAL_KEY.match(name)
        if match is None:
            raise layout_error(
                fname,
                f"unexpected variable {name!r}; the file must hold only the {n_trials} "
                f"trials '<prefix>_eeg1' … '<prefix>_eeg{n_trials}' (found "
                f"{_short(list(variables))}).",
            )
        prefixes.setdefault(match["prefix"], []).append(int(match["k"]))
    if len(prefixes) != 1:
        raise layout_error(
            fname,
            f"expected one key prefix (e.g. 'djc_eeg1'), found {sorted(prefixes) or 'none'}.",
        )
    ((prefix, ks),) = prefixes.items()
    expected = [f"{prefix}_eeg{k}" for k in range(1, n_trials + 1)]
    check_keys(variables, expected, fname, what="trials")
    for name in expected:
        check_shape(variables[name], (n_chans, None), fname, name)
    mat = read_mat(fname)
    check_keys(mat, expected, fname, what="trials")
    return [check_array(mat[name], (n_chans, None), fname, name) for name in expected]


def clean_nonfinite(arr, policy, where):
    """Apply a NaN / inf policy to a ``(n_windows, n_features)`` array.

    Parameters
    ----------
    arr : ndarray, shape (n_windows, n_features)
        The features of one trial.
    policy : ``"interpolate"`` | ``"zero"`` | ``"raise"``
        ``"interpolate"``: each non-finite value is replaced by linear
        interpolation along the window axis between the nearest finite values
        of the same feature (the nearest finite value at the ends; 0 where the
        feature has no finite value in the trial). ``"zero"``: replaced by 0.
        ``"raise"``: a :class:`ValueError`.
    where : str
        File and key, for messages.

    Returns
    -------
    arr : ndarray
        A cleaned copy (or the input itself when all values are finite).
    """
    finite = np.isfinite(arr)
    if finite.all():
        return arr
    n_bad = int((~finite).sum())
    if policy == "raise":
        raise ValueError(
            f"{where}: {n_bad} non-finite value(s) (NaN/inf) in the eye-movement features. "
            "Pass eye_nan='interpolate' or eye_nan='zero' to replace them."
        )
    out = np.where(finite, arr, 0.0)
    if policy == "interpolate":
        idx = np.arange(arr.shape[0])
        for j in np.flatnonzero(~finite.all(axis=0)):
            ok = finite[:, j]
            if ok.any():
                out[:, j] = np.interp(idx, idx[ok], arr[ok, j])
    logger.info("%s: replaced %d non-finite value(s) (eye_nan=%r).", where, n_bad, policy)
    return out


def align_lengths(arrays, policy, where):
    """Make per-modality window counts equal.

    Parameters
    ----------
    arrays : dict of str -> ndarray
        Per-modality arrays, windows on the first axis.
    policy : ``"truncate"`` | ``"raise"``
        ``"truncate"`` keeps the first ``min(n_windows)`` windows of every
        modality (windows are aligned at the trial start) and logs a warning;
        ``"raise"`` raises a :class:`DatasetLayoutError`.
    where : str
        File and trial, for messages.

    Returns
    -------
    arrays : dict of str -> ndarray
    """
    lengths = {m: int(a.shape[0]) for m, a in arrays.items()}
    if len(set(lengths.values())) <= 1:
        return arrays
    if policy == "raise":
        raise layout_error(
            where,
            f"the modalities have different window counts {lengths}.",
            "Pass length_mismatch='truncate' to keep the windows common to all modalities.",
        )
    n = min(lengths.values())
    logger.warning("%s: window counts differ %s; keeping the first %d.", where, lengths, n)
    return {m: a[:n] for m, a in arrays.items()}


def binarize(rating, threshold, tie):
    """Binary target of a continuous rating.

    ``"high"`` when ``rating > threshold``, ``"low"`` when ``rating <
    threshold``; a rating equal to the threshold goes to ``tie``.
    """
    rating = float(rating)
    if rating == threshold:
        return tie
    return "high" if rating > threshold else "low"


def resample(data, sfreq_from, sfreq_to):
    """Polyphase resampling along the last axis (:func:`scipy.signal.resample_poly`)."""
    if sfreq_from == sfreq_to:
        return data
    from scipy.signal import resample_poly

    ratio = Fraction(float(sfreq_to) / float(sfreq_from)).limit_denominator(1000)
    return resample_poly(data, ratio.numerator, ratio.denominator, axis=-1)


def find_dir(root, candidates, marker):
    """Return the first ``root / candidate`` that contains ``marker`` (or ``None``)."""
    root = Path(root)
    for cand in candidates:
        folder = root / cand if cand else root
        if (folder / marker).exists():
            return folder
    return None


# ----------------------------------------------------------------- raw trials
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


@lru_cache(maxsize=1)
def _montage():
    import mne

    # MNE 1.13 renamed 'standard_1005' to 'colin27_1005' (same positions).
    name = (
        "colin27_1005"
        if "colin27_1005" in mne.channels.get_builtin_montages()
        else "standard_1005"
    )
    return mne.channels.make_standard_montage(name)


@lru_cache(maxsize=16)
def _template_info(ch_names, ch_types, sfreq):
    """Measurement info with the montage applied, built once per channel set (copied per use)."""
    import mne

    info = mne.create_info(list(ch_names), sfreq, list(ch_types))
    if "eeg" in ch_types:
        info.set_montage(_montage().copy(), on_missing="ignore", verbose=False)
    return info


@lru_cache(maxsize=1)
def _has_extras():
    import inspect

    import mne

    return "extras" in inspect.signature(mne.Annotations).parameters


def build_raw(trial):
    """Turn a :class:`RawTrial` into an :class:`mne.io.RawArray`.

    EEG channels get the standard 10-05 positions; channels without a
    standard position (SEED's CB1/CB2) are left without one
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


# ---------------------------------------------------------------------- cache
_NOT_KEY = {"path", "cache", "cache_dir", "force_update"}


def _cache_params(dataset):
    params = {
        k: v for k, v in vars(dataset).items() if not k.startswith("_") and k not in _NOT_KEY
    }
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def _fingerprint(files):
    out = []
    for f in sorted(Path(p).resolve() for p in files):
        stat = f.stat()
        out.append([str(f), stat.st_size, stat.st_mtime_ns])
    return out


def default_cache_dir():
    """Cache folder used when ``cache=True`` and ``cache_dir=None``.

    The environment variable / MNE config key ``MNE_M2S_CACHE_DIR``, else
    ``~/mne_data/mne_m2s_cache``.
    """
    value = os.environ.get("MNE_M2S_CACHE_DIR")
    if not value:
        try:
            import mne

            value = mne.get_config("MNE_M2S_CACHE_DIR", use_env=False)
        except Exception:  # pragma: no cover - a broken MNE config file
            value = None
    if value:
        return Path(os.path.expanduser(value))
    return Path.home() / "mne_data" / "mne_m2s_cache"


def cache_file(dataset, subject, files):
    """Path of the cache file of one subject for the dataset's current parameters."""
    key = {
        "format": _CACHE_FORMAT,
        "code": dataset.code,
        "subject": int(subject),
        "params": _cache_params(dataset),
        "files": _fingerprint(files),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(dataset.cache_dir) if dataset.cache_dir is not None else default_cache_dir()
    slug = re.sub(r"[^0-9a-z]+", "", dataset.code.lower())
    return (
        Path(os.path.expanduser(str(folder)))
        / slug
        / (f"sub-{int(subject):02d}_{dataset.level}_{digest}.npz")
    )


def _records_to_arrays(records):
    arrays, meta = {}, []
    for session, runs in records.items():
        for run, rec in runs.items():
            i = len(meta)
            if isinstance(rec, RawTrial):
                arrays[f"{i}.data"] = rec.data
                meta.append(
                    {
                        "kind": "raw",
                        "session": session,
                        "run": run,
                        "ch_names": list(rec.ch_names),
                        "ch_types": list(rec.ch_types),
                        "sfreq": float(rec.sfreq),
                        "label": rec.label,
                        "description": rec.description,
                        "onset": rec.onset,
                        "duration": rec.duration,
                    }
                )
            else:
                for m, a in rec.features.items():
                    arrays[f"{i}.{m}"] = a
                meta.append(
                    {
                        "kind": "features",
                        "session": session,
                        "run": run,
                        "modalities": list(rec.features),
                        "window": rec.window,
                        "label": rec.label,
                        "feature_names": rec.feature_names,
                        "description": rec.description,
                    }
                )
    arrays["__meta__"] = np.array(json.dumps(meta))
    return arrays


def _arrays_to_records(npz):
    meta = json.loads(str(npz["__meta__"][()]))
    records = {}
    for i, m in enumerate(meta):
        if m["kind"] == "raw":
            rec = RawTrial(
                data=npz[f"{i}.data"],
                ch_names=m["ch_names"],
                ch_types=m["ch_types"],
                sfreq=m["sfreq"],
                label=m["label"],
                description=m["description"],
                onset=m["onset"],
                duration=m["duration"],
            )
        else:
            rec = FeatureRun(
                features={mod: npz[f"{i}.{mod}"] for mod in m["modalities"]},
                window=m["window"],
                label=m["label"],
                feature_names=m["feature_names"],
                description=m["description"],
            )
        records.setdefault(m["session"], {})[m["run"]] = rec
    return records


def write_atomic_npz(fname, arrays):
    """Write an ``.npz`` atomically: temporary file in the same folder, then rename.

    Nothing is left behind when writing fails.
    """
    fname = Path(fname)
    fname.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=fname.parent, prefix=f".{fname.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fid:
            np.savez(fid, **arrays)
        os.replace(tmp, fname)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_subject(dataset, subject, files, parse):
    """Parse one subject, through the cache when the dataset asks for it.

    Parameters
    ----------
    dataset : BaseEmotionDataset
        Must have the attributes ``cache``, ``cache_dir`` and ``force_update``.
    subject : int
        The subject.
    files : list of path-like
        Every source file :func:`parse` reads (their size and modification
        time are part of the cache key).
    parse : callable
        ``parse() -> {session: {run: RawTrial | FeatureRun}}``.

    Returns
    -------
    runs : dict
        ``{session: {run: mne.io.Raw | FeatureRun}}``.
    """
    if not dataset.cache:
        return to_runs(parse())
    fname = cache_file(dataset, subject, files)
    if fname.is_file() and not dataset.force_update:
        try:
            with open(fname, "rb") as fid, np.load(fid, allow_pickle=False) as npz:
                records = _arrays_to_records(npz)
            logger.info("%s subject %d: loaded from the cache %s", dataset.code, subject, fname)
            return to_runs(records)
        except MemoryError:
            raise
        except Exception as err:
            logger.warning(
                "Ignoring the unreadable cache file %s (%s); rebuilding it.", fname, err
            )
    records = parse()
    write_atomic_npz(fname, _records_to_arrays(records))
    logger.info("%s subject %d: cached in %s", dataset.code, subject, fname)
    return to_runs(records)
