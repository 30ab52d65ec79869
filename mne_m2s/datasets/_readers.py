"""Readers of the published file formats and the checks that guard them.

Safe readers for classic MAT files, Python-2 and Python-3 pickles and ``.npz``
archives holding pickled dictionaries, which turn every reading failure into a
:class:`~mne_m2s.datasets.DatasetLayoutError` naming the file, what was
expected and how to fix it; shape / key checks; the small parsing helpers
shared by the adapters (prefixed SEED trial keys, NaN policies, window-count
alignment, binary targets, resampling).
"""

from __future__ import annotations

import codecs
import collections
import importlib
import pickle
import re
import struct
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..utils import logger
from .base import DatasetLayoutError

#: Frequency bands of the published differential-entropy features, in axis order.
BANDS = ("delta", "theta", "alpha", "beta", "gamma")

#: Microvolts -> volts.
UV = 1e-6


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
