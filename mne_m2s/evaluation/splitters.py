"""Trial-wise cross-validators implementing the papers' protocols.

Samples (windows) are grouped into trials (film clips); every splitter assigns
whole trials to one side, so windows of one trial never appear on both
training and test sides. Trials are handled within each *unit*, a
subject-session: the paper's protocols are within-subject (SEED family:
within-session) and a metadata table holding several units is split in every
unit at once (the folds of all units are merged).

The trial information comes from the paradigm's ``meta`` DataFrame (columns
``subject``, ``session``, ``run``, one row per sample), given as ``meta=`` or,
so the splitters work as ``cv=`` in scikit-learn (which forwards only
``groups``), as ``groups``:

* a DataFrame with those columns (or a 2-D array whose columns are subject,
  session and run, e.g. :func:`trial_groups` ``(meta)``);
* a 1-D array of trial identifiers: one unit, all trials distinct.

Trial positions within a unit: when the run names are all integers (the
datasets' ``"1"``, ``"2"`` … ``"15"``, 1-based), a trial's position is its
number, so the protocols refer to trial *numbers* even when the paradigm
dropped some trials (too short for one sample): SEED trains on trials 1-9
whichever of them yield samples. Otherwise the position is the order of first
appearance in the table (the paradigm lists samples in time order).
"""

from __future__ import annotations

import numbers
from abc import abstractmethod

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from ..datasets.base import normalize_code

_COLUMNS = ("subject", "session", "run")


def trial_groups(meta):
    """Trial identity of every sample, in a form scikit-learn passes through as ``groups``.

    Parameters
    ----------
    meta : pandas.DataFrame
        With columns ``subject``, ``session`` and ``run``.

    Returns
    -------
    groups : ndarray of object, shape (n_samples, 3)
        Columns subject, session, run.
    """
    _check_meta(meta)
    return meta.loc[:, list(_COLUMNS)].to_numpy(dtype=object)


def _check_meta(meta):
    import pandas as pd

    if not isinstance(meta, pd.DataFrame):
        raise TypeError(f"meta must be a pandas DataFrame, got {type(meta).__name__}.")
    missing = [c for c in _COLUMNS if c not in meta.columns]
    if missing:
        raise ValueError(
            f"meta must have the columns {list(_COLUMNS)}; missing {missing} "
            f"(columns: {list(meta.columns)})."
        )


def _as_int(value):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _trial_table(X, groups, meta):
    """Return ``(unit, trial)`` arrays: per sample, its unit id and trial rank in the unit."""
    import pandas as pd

    if meta is None and isinstance(groups, pd.DataFrame):
        meta = groups
    if meta is not None:
        _check_meta(meta)
        units = list(zip(meta["subject"], meta["session"], strict=True))
        runs = list(meta["run"])
    elif groups is not None:
        arr = np.asarray(groups, dtype=object)
        if arr.ndim == 2 and arr.shape[1] == 3:
            units = [(s, e) for s, e in arr[:, :2]]
            runs = list(arr[:, 2])
        elif arr.ndim == 1:
            units = [0] * arr.shape[0]
            runs = list(arr)
        else:
            raise ValueError(
                "groups must be a 1-D array of trial identifiers, a (n_samples, 3) array of "
                f"(subject, session, run) or a DataFrame; got an array of shape {arr.shape}."
            )
    else:
        raise ValueError(
            "The trial of every sample is needed: pass meta=<the paradigm's meta DataFrame> "
            "or groups=trial_groups(meta) (or a 1-D array of trial identifiers)."
        )
    n = len(runs)
    if X is not None and hasattr(X, "__len__") and len(X) != n:
        raise ValueError(f"X has {len(X)} samples but the trial information has {n} rows.")
    unit_ids, unit_index = {}, np.empty(n, dtype=np.int64)
    for i, u in enumerate(units):
        unit_index[i] = unit_ids.setdefault(u, len(unit_ids))
    rank = np.empty(n, dtype=np.int64)
    for u in range(len(unit_ids)):
        idx = np.flatnonzero(unit_index == u)
        seen = list(dict.fromkeys(runs[i] for i in idx))  # first-appearance order
        as_int = [_as_int(r) for r in seen]
        if all(v is not None for v in as_int):
            first = 1 if min(as_int) >= 1 else min(as_int)  # 1-based trial numbers
            order = {r: v - first for r, v in zip(seen, as_int, strict=True)}
        else:
            order = {r: k for k, r in enumerate(seen)}
        rank[idx] = [order[runs[i]] for i in idx]
    units_by_id = {v: k for k, v in unit_ids.items()}
    return unit_index, rank, units_by_id


class _TrialSplitter(BaseCrossValidator):
    """Common ``split`` of the trial-wise splitters (``BaseCrossValidator`` is an ABC)."""

    @abstractmethod
    def _test_trials(self, n_trials, unit):
        """Per split, the test trial ranks of a unit with ``n_trials`` trials."""

    def split(self, X, y=None, groups=None, meta=None):
        """Generate indices splitting the samples into training and test sets.

        Parameters
        ----------
        X : array-like | mne.Epochs | dict | None
            The samples (only their number is used).
        y : array-like | None
            Ignored.
        groups : array-like | pandas.DataFrame | None
            Trial information when ``meta`` is not given (see the module notes).
        meta : pandas.DataFrame | None
            The paradigm's metadata, one row per sample.

        Yields
        ------
        train : ndarray of int
            Training indices (sorted).
        test : ndarray of int
            Test indices (sorted).
        """
        X = None if isinstance(X, dict) else X
        unit_index, rank, units = _trial_table(X, groups, meta)
        n_units = len(units)
        folds = [
            self._test_trials(int(rank[unit_index == u].max()) + 1, units[u])
            for u in range(n_units)
        ]
        for k in range(self.get_n_splits()):
            test = np.zeros(rank.shape[0], dtype=bool)
            for u in range(n_units):
                test |= (unit_index == u) & np.isin(rank, folds[u][k])
            if test.all() or not test.any():
                side = "test" if not test.any() else "training"
                raise ValueError(
                    f"{self!r}: split {k} has an empty {side} side (trial positions per "
                    f"subject-session: up to {int(rank.max()) + 1})."
                )
            yield np.flatnonzero(~test), np.flatnonzero(test)


class TrialHoldoutSplit(_TrialSplitter):
    """First trials of each subject-session train, the remaining trials test.

    The hold-out protocol of the SEED-family papers: SEED 9:6, SEED-IV 16:8,
    SEED-V 10:5 (see :func:`get_protocol`). One split.

    Parameters
    ----------
    n_train_trials : int
        Number of leading trial positions of each subject-session (trial
        numbers ``1 .. n_train_trials`` for integer run names) that go to the
        training side; every later trial is a test trial.

    Examples
    --------
    >>> cv = TrialHoldoutSplit(9)
    >>> train, test = next(cv.split(X, meta=meta))  # doctest: +SKIP
    """

    def __init__(self, n_train_trials=9):
        self.n_train_trials = n_train_trials

    def get_n_splits(self, X=None, y=None, groups=None, meta=None):
        """Number of splits (1).

        Parameters
        ----------
        X, y, groups, meta : object
            Ignored (present for scikit-learn compatibility).

        Returns
        -------
        n_splits : int
        """
        return 1

    def _test_trials(self, n_trials, unit):
        n_train = self.n_train_trials
        if isinstance(n_train, bool) or not isinstance(n_train, numbers.Integral) or n_train < 1:
            raise ValueError(f"n_train_trials must be a positive int, got {n_train!r}.")
        return [np.arange(n_train, max(n_train, n_trials))]


class TrialKFold(_TrialSplitter):
    """K-fold cross-validation over the trials of each subject-session.

    Fold ``k`` tests the ``k``-th block of contiguous trials in trial order
    (blocks of :func:`numpy.array_split`: sizes differ by at most one, larger
    blocks first) and trains on the other trials of the same subject-session.
    DEAP: 4 folds of 10 videos (videos 1-10, 11-20, 21-30, 31-40, in the
    files' video order); DREAMER: 3 folds of 6 clips (1-6, 7-12, 13-18). No
    shuffling, so folds are reproducible and comparable across subjects.

    Parameters
    ----------
    n_splits : int
        Number of folds (at least 2).
    n_trials : int | None
        Number of trials per subject-session the blocks are cut from (DEAP 40,
        DREAMER 18 in :func:`get_protocol`). ``None``: the largest trial
        position present in each subject-session. Fixing it keeps the blocks
        of the protocol when trailing trials yield no sample.
    """

    def __init__(self, n_splits=4, n_trials=None):
        self.n_splits = n_splits
        self.n_trials = n_trials

    def get_n_splits(self, X=None, y=None, groups=None, meta=None):
        """Number of splits (``n_splits``).

        Parameters
        ----------
        X, y, groups, meta : object
            Ignored (present for scikit-learn compatibility).

        Returns
        -------
        n_splits : int
        """
        n = self.n_splits
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
            raise ValueError(f"n_splits must be an int >= 2, got {n!r}.")
        return int(n)

    def _test_trials(self, n_trials, unit):
        n_splits = self.get_n_splits()
        if self.n_trials is not None:
            fixed = self.n_trials
            if isinstance(fixed, bool) or not isinstance(fixed, numbers.Integral) or fixed < 1:
                raise ValueError(f"n_trials must be a positive int or None, got {fixed!r}.")
            if n_trials > fixed:
                raise ValueError(
                    f"Subject-session {unit} has trial positions up to {n_trials}, more than "
                    f"n_trials={fixed}."
                )
            n_trials = int(fixed)
        if n_trials < n_splits:
            raise ValueError(
                f"Subject-session {unit} has {n_trials} trial(s), fewer than n_splits={n_splits}."
            )
        return np.array_split(np.arange(n_trials), n_splits)


#: The papers' protocols: dataset code -> (splitter class, keyword arguments).
PROTOCOLS = {
    "SEED": (TrialHoldoutSplit, {"n_train_trials": 9}),
    "SEED-IV": (TrialHoldoutSplit, {"n_train_trials": 16}),
    "SEED-V": (TrialHoldoutSplit, {"n_train_trials": 10}),
    "DEAP": (TrialKFold, {"n_splits": 4, "n_trials": 40}),
    "DREAMER": (TrialKFold, {"n_splits": 3, "n_trials": 18}),
}


def get_protocol(code):
    """The cross-validator of a dataset's published evaluation protocol.

    ================  ==========================================================
    SEED              :class:`TrialHoldoutSplit` ``(9)``: trials 1-9 / 10-15
    SEED-IV           :class:`TrialHoldoutSplit` ``(16)``: trials 1-16 / 17-24
    SEED-V            :class:`TrialHoldoutSplit` ``(10)``: trials 1-10 / 11-15
    DEAP              :class:`TrialKFold` ``(4, n_trials=40)``: blocks of 10 videos
    DREAMER           :class:`TrialKFold` ``(3, n_trials=18)``: blocks of 6 clips
    ================  ==========================================================

    Parameters
    ----------
    code : str | BaseEmotionDataset
        A dataset code (case and separators ignored: ``"seed_iv"`` works) or a
        dataset instance.

    Returns
    -------
    cv : TrialHoldoutSplit | TrialKFold
    """
    code = getattr(code, "code", code)
    by_norm = {normalize_code(c): c for c in PROTOCOLS}
    key = by_norm.get(normalize_code(code))
    if key is None:
        raise ValueError(
            f"No published protocol for dataset {code!r}; protocols exist for "
            f"{', '.join(PROTOCOLS)}. Use TrialHoldoutSplit or TrialKFold directly."
        )
    cls, kwargs = PROTOCOLS[key]
    return cls(**kwargs)
