"""The shared space: a 2-D embedding of every modality's shared-space features."""

import numpy as np

from ..utils._checks import check_option
from ..utils._logging import logger

_MARKERS = ("o", "^", "s", "D", "v", "P")


def _embed_2d(features, method, random_state):
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=random_state).fit_transform(features)
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, max(2.0, (len(features) - 1) / 3.0)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                random_state=random_state).fit_transform(features)


def plot_shared_space(clf, X, y, *, method="pca", titles=None, random_state=0, size=3.6):
    """2-D embedding of the shared-space features of several modalities.

    The features of every modality (``clf.transform``) are stacked and embedded
    together in two dimensions, so that the modalities share one map: colours
    are classes, markers are modalities. In a well-aligned shared space the
    classes separate and each class's modalities overlap.

    Parameters
    ----------
    clf : M2SClassifier | dict of str -> M2SClassifier | None
        A fitted estimator whose :meth:`~mne_m2s.M2SClassifier.transform`
        accepts every modality of ``X``; a dict ``{panel title: estimator}``
        draws one panel per estimator (e.g. before / after pre-training);
        None when ``X`` already holds shared-space features
        ``(n_samples, n_features)``.
    X : dict of str -> array-like
        ``{modality: data}``, the same samples in every modality.
    y : array-like, shape (n_samples,)
        Class of each sample.
    method : "pca" | "tsne"
        :class:`sklearn.decomposition.PCA` or :class:`sklearn.manifold.TSNE`.
    titles : list of str | None
        Panel titles (default: the dict keys, or none).
    random_state : int
        Seed of the embedding (t-SNE).
    size : float
        Side of one panel, in inches.

    Returns
    -------
    fig : matplotlib.figure.Figure
        One scatter axes per estimator; ``ax.collections`` holds one scatter
        per (modality, class), in the order of ``X`` then of the classes.
    """
    from matplotlib.figure import Figure

    check_option("method", method, ("pca", "tsne"))
    if not isinstance(X, dict) or not X:
        raise TypeError(
            "X must be a non-empty dict {modality: data}, e.g. {'eye': X_eye, 'eeg': X_eeg}, "
            f"got {type(X).__name__}."
        )
    y = np.asarray(y)
    for m, a in X.items():
        if len(a) != len(y):
            raise ValueError(f"X[{m!r}] has {len(a)} samples but y has {len(y)}.")
    if isinstance(clf, dict):
        panels = list(clf.items())
    else:
        panels = [(None, clf)]
    if titles is not None:
        if len(titles) != len(panels):
            raise ValueError(f"titles must have {len(panels)} entries, got {len(titles)}.")
        panels = [(t, c) for t, (_, c) in zip(titles, panels, strict=True)]
    classes = list(dict.fromkeys(y.tolist()))
    colors = [f"C{k % 10}" for k in range(len(classes))]

    fig = Figure(figsize=(size * len(panels) + 0.4, size + 0.5), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, est) in zip(axes, panels, strict=True):
        feats = {}
        for m, a in X.items():
            f = np.asarray(a, dtype=float) if est is None else est.transform({m: a})
            if f.ndim != 2:
                raise ValueError(
                    f"Features of {m!r} must have shape (n_samples, n_features), got {f.shape}; "
                    "pass a fitted estimator as clf to compute them."
                )
            feats[m] = f
        widths = {f.shape[1] for f in feats.values()}
        if len(widths) != 1:
            raise ValueError(f"Modalities have different feature sizes {widths}: not one space.")
        stacked = np.concatenate(list(feats.values()))
        xy = _embed_2d(stacked, method, random_state)
        logger.info("shared space: %s of %d x %d features", method, *stacked.shape)
        start = 0
        for k, m in enumerate(feats):
            part = xy[start:start + len(y)]
            start += len(y)
            for label, color in zip(classes, colors, strict=True):
                sel = y == label
                ax.scatter(part[sel, 0], part[sel, 1], s=12, c=color, alpha=0.7,
                           marker=_MARKERS[k % len(_MARKERS)], linewidths=0,
                           label=f"{m}: {label}")
        ax.set_xlabel(f"{method.upper()} 1")
        ax.set_ylabel(f"{method.upper()} 2")
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(str(title))
    axes[-1].legend(fontsize="small", loc="center left", bbox_to_anchor=(1.0, 0.5),
                    frameon=False)
    return fig
