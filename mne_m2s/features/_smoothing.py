"""Smoothing of feature sequences along windows, within one trial at a time.

The published SEED features come as ``de_movingAve`` and ``de_LDS``: the DE
sequence of each trial smoothed along its windows by a moving average or by a
linear dynamical system (Kalman) smoother. :func:`lds_smooth` implements the
latter for any array; :func:`_smooth_by_trial` applies a smoother to the windows
of a set of epochs, one trial at a time, so no trial ever sees another.
"""

import numbers

import numpy as np

from ..utils._checks import check_option

#: Default parameters of the LDS smoother, those of the SEED reference code
#: (Shi & Lu 2010): random walk ``s_t = s_{t-1} + w_t``, ``w_t ~ N(0, process_var)``,
#: observed as ``x_t = s_t + v_t``, ``v_t ~ N(0, obs_var)``, prior ``s_0 ~ N(m0, init_var)``.
LDS_DEFAULTS = {"process_var": 1e-4, "obs_var": 1.0, "init_var": 0.01}


def _check_positive(name, value):
    arr = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"{name} must be finite and > 0, got {value!r}.")
    return arr


def lds_smooth(x, *, process_var=1e-4, obs_var=1.0, init_var=0.01, init_mean="auto",
               causal=False, axis=0):
    """Smooth sequences with a linear dynamical system (Kalman filter + RTS smoother).

    Each feature is modelled independently as a local-level model (the model of
    the SEED ``de_LDS`` features)::

        s_t = s_{t-1} + w_t,   w_t ~ N(0, process_var)      (hidden state)
        x_t = s_t + v_t,       v_t ~ N(0, obs_var)          (observation)
        s_0 ~ N(init_mean, init_var)

    ``causal=False`` returns the Rauch-Tung-Striebel smoothed means
    ``E[s_t | x_0..x_{n-1}]``; ``causal=True`` returns the Kalman-filtered means
    ``E[s_t | x_0..x_t]``, which use no future step. The gains depend only on the
    ratios ``process_var / obs_var`` and ``init_var / obs_var``, not on the data,
    so they are computed once and the recursion is vectorised over features.

    Parameters
    ----------
    x : array_like, shape (..., n_steps, ...)
        The sequences; ``axis`` is the time axis, every other axis is an
        independent sequence.
    process_var : float | array_like
        Variance of the state increments (``1e-4`` in the SEED code). An array
        broadcasts against ``x`` without its time axis (per-feature values).
    obs_var : float | array_like
        Variance of the observation noise (``1.0`` in the SEED code).
    init_var : float | array_like
        Variance of the prior on the first state (``0.01`` in the SEED code).
    init_mean : "auto" | "mean" | "first" | array_like
        Mean of the prior on the first state. ``"mean"``: the mean of each
        sequence over time (the SEED code; uses the whole sequence);
        ``"first"``: its first value (causal); an array broadcasting against ``x``
        without its time axis. ``"auto"`` is ``"first"`` when ``causal`` and
        ``"mean"`` otherwise.
    causal : bool
        Forward (filtering) pass only.
    axis : int
        The time axis of ``x``.

    Returns
    -------
    smoothed : ndarray, same shape as ``x``
        The smoothed (or filtered) sequences, float64.

    Notes
    -----
    The reference SEED implementation sets the first prior mean to the mean of
    the trial's sequence, and with ``process_var / obs_var = 1e-4`` the
    steady-state gain is about 0.01, i.e. a time constant of about 100 windows:
    very strong smoothing.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    if x.shape[0] == 0:
        return np.moveaxis(x.copy(), 0, axis)
    q = _check_positive("process_var", process_var)
    r = _check_positive("obs_var", obs_var)
    v0 = _check_positive("init_var", init_var)
    if isinstance(init_mean, str):
        check_option("init_mean", init_mean, ("auto", "mean", "first"))
        mode = ("first" if causal else "mean") if init_mean == "auto" else init_mean
        m0 = x.mean(axis=0) if mode == "mean" else x[0]
    else:
        m0 = np.broadcast_to(np.asarray(init_mean, dtype=float), x.shape[1:])
    n = x.shape[0]
    # Data-independent gains: loop over time on the (broadcast) parameter shape only.
    shape = np.broadcast_shapes(q.shape, r.shape, v0.shape)
    gain = np.empty((n, *shape))
    var_f = np.empty((n, *shape))  # filtered variance V_t
    var_p = np.empty((n, *shape))  # predicted variance P_t = V_t + Q (for step t + 1)
    gain[0] = v0 / (v0 + r)
    var_f[0] = (1.0 - gain[0]) * v0
    for t in range(1, n):
        var_p[t - 1] = var_f[t - 1] + q
        gain[t] = var_p[t - 1] / (var_p[t - 1] + r)
        var_f[t] = (1.0 - gain[t]) * var_p[t - 1]
    var_p[n - 1] = var_f[n - 1] + q
    out = np.empty_like(x)
    prev = m0
    for t in range(n):
        prev = prev + gain[t] * (x[t] - prev)
        out[t] = prev
    if not causal:
        smooth_gain = var_f / var_p
        for t in range(n - 2, -1, -1):
            out[t] += smooth_gain[t] * (out[t + 1] - out[t])
    return np.moveaxis(out, 0, axis)


def _moving_average(x, size, causal=False, axis=0):
    """Mean over ``size`` neighbouring steps, truncated at the sequence ends.

    Centred (``(size - 1) // 2`` steps before the current one and the rest after it)
    or, with ``causal``, the current and ``size - 1`` previous steps.
    """
    x = np.moveaxis(np.asarray(x, dtype=float), axis, 0)
    n = x.shape[0]
    csum = np.concatenate([np.zeros((1, *x.shape[1:])), np.cumsum(x, axis=0)])
    t = np.arange(n)
    if causal:
        lo, hi = t - size + 1, t
    else:
        before = (size - 1) // 2
        lo, hi = t - before, t + (size - 1 - before)
    lo = np.clip(lo, 0, n - 1)
    hi = np.clip(hi, 0, n - 1)
    count = (hi - lo + 1).reshape(-1, *([1] * (x.ndim - 1)))
    out = (csum[hi + 1] - csum[lo]) / count
    return np.moveaxis(out, 0, axis)


def _estimate_lds_noise(segments, init_var_ratio, max_lag=10):
    """Noise variances of the local-level model from its variogram, per feature.

    For ``x_t = s_t + v_t`` with a random-walk ``s``, the lag-``k`` differences have
    ``E[(x_{t+k} - x_t)^2] = k * Q + 2 * R``. The mean squared differences for lags
    1..``max_lag`` (pooled over the trials, never across two) are fitted by weighted
    least squares: the slope is ``Q`` (``process_var``) and half the intercept ``R``
    (``obs_var``), each floored at 1e-6 times the lag-1 value.

    Parameters
    ----------
    segments : list of ndarray, shape (n_steps_i, n_features)
        Training sequences, one per trial.
    init_var_ratio : float
        ``init_var / obs_var`` of the prior, kept from the defaults.
    max_lag : int
        Largest lag of the variogram.

    Returns
    -------
    params : dict
        ``process_var``, ``obs_var`` and ``init_var``, arrays of shape (n_features,).
    """
    n_feat = segments[0].shape[1]
    lags, msd, weight = [], [], []
    for lag in range(1, max_lag + 1):
        total = np.zeros(n_feat)
        count = 0
        for seg in segments:
            if seg.shape[0] > lag:
                total += ((seg[lag:] - seg[:-lag]) ** 2).sum(axis=0)
                count += seg.shape[0] - lag
        if count:
            lags.append(lag)
            msd.append(total / count)
            weight.append(count)
    if len(lags) < 2:
        raise ValueError(
            "Estimating the LDS noise (smoothing_params={'fit_noise': True}) needs trials of "
            "at least 3 consecutive windows in the training epochs; none were found. Check "
            "trial_col and the epochs' metadata, or use fixed noise variances."
        )
    k = np.asarray(lags, dtype=float)
    v = np.asarray(msd)  # (n_lags, n_features)
    w = np.asarray(weight, dtype=float)
    k_mean = np.sum(w * k) / w.sum()
    v_mean = (w[:, None] * v).sum(axis=0) / w.sum()
    slope = (w[:, None] * (k - k_mean)[:, None] * (v - v_mean)).sum(axis=0) / np.sum(
        w * (k - k_mean) ** 2)
    intercept = v_mean - slope * k_mean
    scale = np.where(v[0] > 0, v[0], 1.0)
    proc = np.maximum(slope, 1e-6 * scale)
    obs = np.maximum(intercept / 2.0, 1e-6 * scale)
    return {"process_var": proc, "obs_var": obs, "init_var": init_var_ratio * obs}


def _trial_codes(epochs, trial_col):
    """Integer trial code per epoch from ``epochs.metadata``.

    ``trial_col="auto"`` uses whichever of ``("subject", "session", "run")`` the
    metadata has; ``None``, or no metadata, makes each epoch its own trial.
    """
    n = len(epochs.events)
    md = epochs.metadata
    if trial_col is None:
        return np.arange(n)
    if isinstance(trial_col, str) and trial_col == "auto":
        if md is None:
            return np.arange(n)
        cols = [c for c in ("subject", "session", "run") if c in md.columns]
        if not cols:
            return np.arange(n)
    else:
        cols = [trial_col] if isinstance(trial_col, str) else list(trial_col)
        if md is None:
            raise ValueError(
                f"trial_col={trial_col!r} names metadata columns, but the epochs have no "
                "metadata. Set epochs.metadata, or use trial_col='auto' or None."
            )
        missing = [c for c in cols if c not in md.columns]
        if missing:
            raise ValueError(
                f"trial_col={trial_col!r}: the column(s) {missing} are not in the epochs' "
                f"metadata, which has the columns {list(md.columns)}."
            )
    return md[cols].groupby(cols, sort=False, dropna=False).ngroup().to_numpy()


def _check_trial_col(trial_col):
    if trial_col is None or isinstance(trial_col, str):
        return trial_col
    if isinstance(trial_col, (list, tuple)) and all(isinstance(c, str) for c in trial_col):
        return trial_col
    raise TypeError(
        "trial_col must be 'auto', None, a metadata column name or a list of column names, "
        f"got {trial_col!r}."
    )


def _timeline(epochs, trial_col, n_windows, n_samp, raw_sfreq):
    """Map every (epoch, window) to a point of its trial's timeline.

    Windows are ordered in time within a trial by their start time
    (``events[:, 0] / raw_sfreq + tmin + w * window``); windows of overlapping
    epochs that start at the same sample are the same timeline point.

    Returns
    -------
    inverse : ndarray of int, shape (n_epochs * n_windows,)
        Timeline point of each (epoch, window), row-major.
    segments : ndarray of int, shape (n_trials, 2)
        ``[start, stop)`` of each trial on the timeline.
    """
    sfreq = float(epochs.info["sfreq"])
    codes = _trial_codes(epochs, trial_col)
    t0 = epochs.events[:, 0] / raw_sfreq + epochs.tmin
    starts = t0[:, None] + (np.arange(n_windows) * n_samp / sfreq)[None, :]
    keys = np.round(starts * sfreq).astype(np.int64).ravel()
    trial = np.repeat(codes, n_windows)
    pairs = np.stack([trial, keys], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    bounds = np.flatnonzero(np.diff(uniq[:, 0])) + 1
    edges = np.concatenate([[0], bounds, [len(uniq)]])
    segments = np.stack([edges[:-1], edges[1:]], axis=1)
    return inverse, segments


def _collapse(values, inverse, n_points):
    """Mean of the items falling on each timeline point; values (n_items, n_features)."""
    if n_points == len(inverse):
        out = np.empty_like(values)
        out[inverse] = values
        return out
    out = np.zeros((n_points, values.shape[1]))
    np.add.at(out, inverse, values)
    counts = np.bincount(inverse, minlength=n_points)
    return out / counts[:, None]


def _smooth_by_trial(features, inverse, segments, smoother):
    """Apply ``smoother`` to each trial's timeline; features (n_epochs, n_windows, n_feat).

    ``smoother(batch)`` receives an array (n_trials_of_this_length, n_steps, n_features)
    and smooths along axis 1. Trials of equal length are processed together.
    """
    n_epochs, n_windows, n_feat = features.shape
    flat = features.reshape(-1, n_feat)
    timeline = _collapse(flat, inverse, int(segments[-1, 1]))
    out = np.empty_like(timeline)
    lengths = segments[:, 1] - segments[:, 0]
    for length in np.unique(lengths):
        segs = segments[lengths == length]
        idx = segs[:, :1] + np.arange(length)[None, :]
        out[idx] = smoother(timeline[idx])
    return out[inverse].reshape(n_epochs, n_windows, n_feat)


def _timeline_segments(features, inverse, segments):
    """The per-trial timeline sequences (list of (n_steps, n_features)) for fitting."""
    flat = features.reshape(-1, features.shape[-1])
    timeline = _collapse(flat, inverse, int(segments[-1, 1]))
    return [timeline[a:b] for a, b in segments]


def _check_smoothing_params(smoothing, params):
    """Merge ``params`` with the defaults of ``smoothing``; unknown keys raise."""
    if params is not None and not isinstance(params, dict):
        raise TypeError(
            f"smoothing_params must be None or a dict, got {type(params).__name__} instead."
        )
    params = {} if params is None else dict(params)
    if smoothing == "moving_average":
        defaults = {"size": 5}
    elif smoothing == "lds":
        defaults = {**LDS_DEFAULTS, "init_mean": "auto", "fit_noise": False}
    else:
        defaults = {}
    unknown = [k for k in params if k not in defaults]
    if unknown:
        allowed = ", ".join(repr(k) for k in defaults) or "none (smoothing=None)"
        raise ValueError(
            f"smoothing_params has unknown key(s) {unknown} for smoothing={smoothing!r}; "
            f"allowed keys: {allowed}."
        )
    merged = {**defaults, **params}
    if smoothing == "moving_average":
        size = merged["size"]
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(
                f"smoothing_params['size'] must be an int >= 1, got {size!r}."
            )
    if smoothing == "lds":
        for key in ("process_var", "obs_var", "init_var"):
            _check_positive(f"smoothing_params[{key!r}]", merged[key])
        if isinstance(merged["init_mean"], str):
            check_option("smoothing_params['init_mean']", merged["init_mean"],
                         ("auto", "mean", "first"))
        if not isinstance(merged["fit_noise"], bool):
            raise TypeError(
                f"smoothing_params['fit_noise'] must be a bool, got {merged['fit_noise']!r}."
            )
    return merged
