"""Result figures: ablation bars, heat maps (e.g. n_windows x cpc_steps), training curves."""

import numpy as np

from ..utils._checks import check_type


def _check_columns(df, **columns):
    import pandas as pd

    check_type("df", df, pd.DataFrame, "pandas.DataFrame")
    if df.empty:
        raise ValueError("df is empty: nothing to plot.")
    for arg, col in columns.items():
        if col is not None and col not in df.columns:
            raise ValueError(
                f"{arg}={col!r} is not a column of df; its columns are {list(df.columns)}."
            )


def plot_heatmap(df, index, columns, values="balanced_accuracy", *, aggfunc="mean",
                 fmt=".2f", cmap="viridis", title=None, cbar_label=None):
    """Heat map of a score over two settings, e.g. ``n_windows`` x ``cpc_steps``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run (e.g. subject x setting), with columns ``index``,
        ``columns`` and ``values``.
    index : str
        Column whose values are the rows of the map (y axis).
    columns : str
        Column whose values are the columns of the map (x axis).
    values : str
        Score column.
    aggfunc : str
        How runs of one cell are combined (:meth:`pandas.DataFrame.pivot_table`).
    fmt : str
        Format of the number written in each cell.
    cmap : str
        Colour map.
    title, cbar_label : str | None
        Figure title and colour-bar label (default: ``values``).

    Returns
    -------
    fig : matplotlib.figure.Figure
        One image axes (its image holds the aggregated table, rows sorted
        ascending) and a colour bar; empty cells (NaN) are left blank.
    """
    from matplotlib.figure import Figure

    _check_columns(df, index=index, columns=columns, values=values)
    table = df.pivot_table(index=index, columns=columns, values=values, aggfunc=aggfunc)
    table = table.sort_index().sort_index(axis=1)
    data = table.to_numpy(dtype=float)
    width = 2.2 + 0.8 * data.shape[1]
    if title:
        width = max(width, 1.0 + 0.08 * len(title))  # keep the title inside the figure
    fig = Figure(figsize=(width, 1.0 + 0.6 * data.shape[0]), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, aspect="auto", origin="lower")
    ax.set_xticks(range(data.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(data.shape[0]), [str(i) for i in table.index])
    ax.set_xlabel(columns)
    ax.set_ylabel(index)
    finite = data[np.isfinite(data)]
    mid = (finite.min() + finite.max()) / 2 if finite.size else 0.0
    for (r, c), v in np.ndenumerate(data):
        if np.isfinite(v):
            ax.text(c, r, format(v, fmt), ha="center", va="center", fontsize="small",
                    color="black" if v > mid else "white")
    fig.colorbar(im, ax=ax, label=cbar_label or values.replace("_", " "))
    if title:
        ax.set_title(title)
    return fig


def plot_ablation(df, x="variant", score="balanced_accuracy", *, hue="task", chance=None,
                  title=None):
    """Grouped bars of an ablation: mean score per variant (and task), s.d. as error bars.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per run, with columns ``x``, ``score`` and ``hue``.
    x : str
        Column of the variants (one bar group each, in order of appearance).
    score : str
        Score column.
    hue : str | None
        Column of the bars within a group (e.g. the task); None: one bar per
        variant.
    chance : float | None
        Draw a dashed line at this level.
    title : str | None

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes whose bar heights are the means (``hue`` groups in order of
        appearance, each a container in ``ax.containers``).
    """
    from matplotlib.figure import Figure

    _check_columns(df, x=x, score=score, hue=hue)
    variants = list(dict.fromkeys(df[x]))
    hues = list(dict.fromkeys(df[hue])) if hue is not None else [None]
    fig = Figure(figsize=(1.5 + 1.1 * len(variants) * max(1, len(hues)) ** 0.5, 3.8),
                 layout="constrained")
    ax = fig.add_subplot()
    width = 0.8 / len(hues)
    pos = np.arange(len(variants))
    for k, h in enumerate(hues):
        sub = df if h is None else df[df[hue] == h]
        grouped = sub.groupby(x, sort=False)[score]
        mean = grouped.mean().reindex(variants).to_numpy(dtype=float)
        std = grouped.std(ddof=1).reindex(variants).to_numpy(dtype=float)
        yerr = None if np.isnan(std).all() else np.nan_to_num(std)  # one run: no spread
        ax.bar(pos + (k - (len(hues) - 1) / 2) * width, mean, width, yerr=yerr, capsize=3,
               label=None if h is None else str(h))
    if chance is not None:
        ax.axhline(chance, color="0.4", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(pos, [str(v) for v in variants], rotation=20 if len(variants) > 4 else 0)
    ax.set_xlabel(x.replace("_", " "))
    ax.set_ylabel(score.replace("_", " "))
    if hue is not None or chance is not None:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    return fig


def plot_pretrain_history(history, terms=None, *, title=None):
    """Pre-training loss components per epoch.

    Parameters
    ----------
    history : M2SClassifier | PretrainedM2S | skorch.History | list of dict
        A pre-trained estimator (its ``pretrained.history``), a
        :class:`~mne_m2s.classifier.PretrainedM2S`, or the history itself
        (one dict per epoch).
    terms : list of str | None
        Keys to plot (default: ``train_loss`` and the loss components present:
        ``contrastive``, ``cpc``, ``recon``, ``club``).
    title : str | None

    Returns
    -------
    fig : matplotlib.figure.Figure
        One axes, one line per term (``ax.lines`` in the order of ``terms``).
    """
    from matplotlib.figure import Figure

    if hasattr(history, "pretrained"):
        if history.pretrained is None:
            raise ValueError("The estimator is not pre-trained: call pretrain first.")
        history = history.pretrained.history
    elif hasattr(history, "history") and hasattr(history, "network"):
        history = history.history
    rows = list(history)
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise TypeError("history must hold one dict per epoch (a skorch History).")
    if terms is None:
        terms = [t for t in ("train_loss", "contrastive", "cpc", "recon", "club") if t in rows[0]]
    missing = [t for t in terms if t not in rows[0]]
    if missing:
        raise ValueError(f"history has no {missing}; it has {sorted(rows[0])}.")
    fig = Figure(figsize=(5.5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    epochs = np.arange(1, len(rows) + 1)
    for t in terms:
        ax.plot(epochs, [r.get(t, np.nan) for r in rows], label=t)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return fig
