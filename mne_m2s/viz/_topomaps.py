"""Scalp maps: a grid of topomaps with colour bars, and differential entropy per band."""

import numbers

import numpy as np

from ..utils._checks import check_option, check_type
from ..utils._logging import logger

_VLIM_MODES = ("joint", "rows", "cols")


def _check_info(info, n_chans, argname="info"):
    """Return ``info`` restricted to the ``n_chans`` channels the data describe."""
    import mne

    check_type(argname, info, mne.Info, "mne.Info")
    if len(info["ch_names"]) != n_chans:
        picks = mne.pick_types(info, eeg=True, exclude=())
        if len(picks) != n_chans:
            raise ValueError(
                f"The data have {n_chans} channels but {argname} has "
                f"{len(info['ch_names'])} channels ({len(picks)} EEG). Pass the info of the "
                "plotted channels, e.g. epochs.copy().pick('eeg').info."
            )
        info = mne.pick_info(info, picks)
    if info.get_montage() is None:
        raise ValueError(
            f"{argname} has no channel positions, so no scalp map can be drawn. Set a montage "
            "first, e.g. raw.set_montage('standard_1005') or, for the 62 SEED channels, "
            "raw.set_montage(mne_m2s.datasets.synthetic.make_seed_montage())."
        )
    return info


def _vlim(values, symmetric):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return -1.0, 1.0
    if symmetric:
        m = float(np.abs(finite).max()) or 1.0
        return -m, m
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def plot_topomaps(
    data,
    info,
    *,
    titles=None,
    row_names=None,
    vlim="joint",
    symmetric=False,
    cmap=None,
    cbar_label=None,
    sensors=True,
    contours=4,
    size=1.7,
):
    """Draw a grid of scalp maps with colour bars.

    Parameters
    ----------
    data : array-like, shape (n_chans,), (n_maps, n_chans) or (n_rows, n_cols, n_chans)
        One value per channel and map.
    info : mne.Info
        Channel positions, in the order of the last axis of ``data`` (an info
        with more channels is reduced to its EEG channels when their count
        matches).
    titles : list of str | None
        Column titles (``n_cols`` entries).
    row_names : list of str | None
        Row labels (``n_rows`` entries), written left of each row.
    vlim : "joint" | "rows" | "cols" | tuple of float
        Colour limits: one scale (and colour bar) for all maps, one per row,
        one per column, or fixed ``(vmin, vmax)``.
    symmetric : bool
        Make each colour scale symmetric around zero (for contrasts).
    cmap : str | None
        Colour map (default ``"RdBu_r"`` when ``symmetric`` else ``"viridis"``).
    cbar_label : str | None
        Label of the colour bar(s).
    sensors : bool
        Mark the electrodes.
    contours : int
        Number of contour lines.
    size : float
        Side of one map, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        ``n_rows * n_cols`` map axes plus one colour-bar axes per scale.
    """
    import mne
    from matplotlib.figure import Figure

    values = np.asarray(data, dtype=float)
    if values.ndim == 1:
        values = values[np.newaxis, np.newaxis]
    elif values.ndim == 2:
        values = values[np.newaxis]
    if values.ndim != 3 or 0 in values.shape:
        raise ValueError(
            "data must have shape (n_chans,), (n_maps, n_chans) or (n_rows, n_cols, n_chans), "
            f"got shape {np.shape(data)}."
        )
    n_rows, n_cols, n_chans = values.shape
    info = _check_info(info, n_chans)
    for name, labels, n in (("titles", titles, n_cols), ("row_names", row_names, n_rows)):
        if labels is not None and len(labels) != n:
            raise ValueError(f"{name} must have {n} entries, got {len(labels)}.")
    fixed = None
    if isinstance(vlim, tuple):
        if len(vlim) != 2 or not all(isinstance(v, numbers.Real) for v in vlim):
            raise ValueError(f"vlim must be a (vmin, vmax) pair of numbers, got {vlim!r}.")
        fixed = (float(vlim[0]), float(vlim[1]))
    else:
        check_option("vlim", vlim, _VLIM_MODES)
    if cmap is None:
        cmap = "RdBu_r" if symmetric else "viridis"

    fig = Figure(figsize=(size * n_cols + 1.2, size * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    images = np.empty((n_rows, n_cols), dtype=object)
    for r in range(n_rows):
        for c in range(n_cols):
            if fixed is not None:
                lims = fixed
            elif vlim == "joint":
                lims = _vlim(values, symmetric)
            elif vlim == "rows":
                lims = _vlim(values[r], symmetric)
            else:
                lims = _vlim(values[:, c], symmetric)
            im, _ = mne.viz.plot_topomap(
                values[r, c], info, axes=axes[r, c], show=False, cmap=cmap, vlim=lims,
                sensors=sensors, contours=contours,
            )
            images[r, c] = im
            if titles is not None and r == 0:
                axes[r, c].set_title(str(titles[c]))
        if row_names is not None:
            axes[r, 0].text(-0.08, 0.5, str(row_names[r]), rotation=90, va="center",
                            ha="right", transform=axes[r, 0].transAxes)
    kw = {"label": cbar_label} if cbar_label else {}
    if fixed is not None or vlim == "joint":
        fig.colorbar(images[0, 0], ax=axes, shrink=0.8, **kw)
    elif vlim == "rows":
        for r in range(n_rows):
            fig.colorbar(images[r, 0], ax=axes[r, :], shrink=0.8, **kw)
    else:
        for c in range(n_cols):
            fig.colorbar(images[0, c], ax=axes[:, c], orientation="horizontal", shrink=0.9,
                         **kw)
    return fig


def _band_names(bands, n_bands):
    if bands is None:
        from ..features import DEFAULT_BANDS

        if n_bands == len(DEFAULT_BANDS):
            return list(DEFAULT_BANDS)
        return [f"band {k + 1}" for k in range(n_bands)]
    names = list(bands)
    if len(names) != n_bands:
        raise ValueError(f"bands names {len(names)} bands but the data have {n_bands}.")
    return [str(b) for b in names]


def plot_de_topomaps(X, info=None, *, y=None, bands=None, window=1.0, contrast="mean", **kwargs):
    """Scalp maps of differential entropy (DE) per frequency band.

    Without ``y``: one map per band of the mean DE over samples and windows
    (one colour scale per band: bands differ by orders of magnitude in power).
    With ``y``: one row per class (sorted) of the class mean minus the mean over all
    samples (``contrast="mean"``), on one symmetric colour scale, i.e. where
    each band is stronger or weaker for that class.

    Parameters
    ----------
    X : mne.BaseEpochs | array-like
        EEG epochs (DE is computed with
        :class:`~mne_m2s.features.DifferentialEntropy` over windows of
        ``window`` seconds, for the ``bands`` given), or DE features of shape
        ``(n_samples, n_windows, n_chans, n_bands)``, ``(n_samples, n_chans,
        n_bands)`` or ``(n_chans, n_bands)``; a channel-major flat array
        ``(n_samples, n_windows, n_chans * n_bands)`` needs ``bands``.
    info : mne.Info | None
        Channel positions of array input (ignored for Epochs, whose own info
        is used).
    y : array-like, shape (n_samples,) | None
        Class of each sample (for Epochs: None takes the event names).
    bands : dict | list of str | None
        Frequency bands: for Epochs, ``{name: (low, high)}`` passed to
        :class:`~mne_m2s.features.DifferentialEntropy` (default: the five SEED
        bands); for arrays, the band names (default: the SEED names when there
        are five bands).
    window : float
        Epochs only: window length in seconds.
    contrast : "mean"
        With ``y``: what each class map shows (the class mean minus the mean
        over all samples).
    **kwargs
        Passed to :func:`plot_topomaps` (``cmap``, ``vlim``, ``size`` ...).

    Returns
    -------
    fig : matplotlib.figure.Figure
    """
    import mne

    check_option("contrast", contrast, ("mean",))
    if isinstance(X, mne.BaseEpochs):
        from ..features import DifferentialEntropy

        epochs = X.copy().pick("eeg")
        de = DifferentialEntropy(window=window, bands=bands).fit(epochs)
        values = de.transform(epochs).reshape(len(epochs), -1, de.n_chans_, de.n_bands_)
        info = epochs.info
        names = list(de.bands_) if hasattr(de, "bands_") else _band_names(bands, de.n_bands_)
        if y is None:
            inv = {v: k for k, v in epochs.event_id.items()}
            y = np.array([inv[code] for code in epochs.events[:, 2]])
    else:
        if info is None:
            raise ValueError("info is required with array input: it holds the channel positions.")
        values = np.asarray(X, dtype=float)
        if values.ndim == 3 and bands is not None and values.shape[-1] != len(bands):
            n_bands = len(bands)
            if values.shape[-1] % n_bands:
                raise ValueError(
                    f"X has {values.shape[-1]} features per window, not a multiple of the "
                    f"{n_bands} bands."
                )
            values = values.reshape(*values.shape[:2], -1, n_bands)
        if values.ndim == 2:
            values = values[np.newaxis, np.newaxis]
        elif values.ndim == 3:
            values = values[:, np.newaxis]
        if values.ndim != 4:
            raise ValueError(
                "X must be Epochs or DE of shape (n_samples, n_windows, n_chans, n_bands), "
                "(n_samples, n_chans, n_bands) or (n_chans, n_bands); got shape "
                f"{np.shape(X)}."
            )
        names = _band_names(bands, values.shape[-1])
    if not np.isfinite(values).all():
        raise ValueError("X holds non-finite values (NaN or inf); remove them before plotting.")
    per_sample = values.mean(axis=1)  # (n_samples, n_chans, n_bands)
    if y is None:
        maps = per_sample.mean(axis=0).T[np.newaxis]  # (1, n_bands, n_chans)
        kwargs.setdefault("vlim", "cols")
        kwargs.setdefault("cbar_label", "DE (nats)")
        return plot_topomaps(maps, info, titles=names, **kwargs)
    y = np.asarray(y)
    if len(y) != len(per_sample):
        raise ValueError(f"y has {len(y)} entries but X has {len(per_sample)} samples.")
    classes = np.unique(y).tolist()
    grand = per_sample.mean(axis=0)
    maps = np.stack([(per_sample[y == k].mean(axis=0) - grand).T for k in classes])
    logger.info("DE contrasts of %d classes over %d samples", len(classes), len(y))
    kwargs.setdefault("vlim", "joint")
    kwargs.setdefault("symmetric", True)
    kwargs.setdefault("cbar_label", "DE, class - mean (nats)")
    return plot_topomaps(maps, info, titles=names, row_names=[str(k) for k in classes], **kwargs)
