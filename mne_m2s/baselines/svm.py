"""The SEED-family classic: a linear SVM on per-window features.

:func:`make_svm` returns a scikit-learn :class:`~sklearn.pipeline.Pipeline`
``WindowFeatures -> StandardScaler -> LinearSVC``. The scaler is a step of the
pipeline, so it is fitted on the training trials only (the evaluation fits the
pipeline on them) and applied unchanged to the test trials.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..utils._checks import check_option


class WindowFeatures(TransformerMixin, BaseEstimator):
    """Per-sample feature vector from a sequence of per-window features.

    Parameters
    ----------
    aggregate : {"mean", "concat"}
        ``"mean"``: the mean of the sample's windows, shape
        ``(n_samples, n_features)`` — a moving average of the per-window
        features, like the SEED-family ``*_movingAve`` features; ``"concat"``:
        the windows side by side, shape ``(n_samples, n_windows * n_features)``.

    Notes
    -----
    ``X`` is a dict holding one modality ``{name: array}`` (what the
    evaluation gives single-modal methods), or an array of shape
    ``(n_samples, n_windows, n_features)``,
    ``(n_samples, n_windows, n_chans, n_bands)`` or ``(n_samples, n_features)``.
    The modality seen in ``fit`` is ``modality_``; ``transform`` refuses
    another one.
    """

    def __init__(self, aggregate="mean"):
        self.aggregate = aggregate

    def _array(self, X, fitting):
        name = None
        if isinstance(X, dict):
            if len(X) != 1:
                raise ValueError(
                    f"WindowFeatures reads one modality, got {len(X)}: {sorted(X)}. Pass "
                    "{name: array} with a single key."
                )
            (name, X), = X.items()
            if not fitting and getattr(self, "modality_", None) not in (None, name):
                raise ValueError(
                    f"This SVM was trained on modality {self.modality_!r}; it cannot predict "
                    f"from {name!r}."
                )
        a = np.asarray(X, dtype=np.float64)
        if a.ndim == 2:
            a = a[:, None, :]
        elif a.ndim == 4:
            a = a.reshape(a.shape[0], a.shape[1], -1)
        elif a.ndim != 3:
            raise ValueError(
                "X must have shape (n_samples, n_windows, n_features), (n_samples, n_windows, "
                f"n_chans, n_bands) or (n_samples, n_features); got shape {a.shape}."
            )
        if not np.all(np.isfinite(a)):
            raise ValueError("X contains NaN or infinity.")
        return name, a

    def fit(self, X, y=None):
        """Record the modality and the window layout.

        Parameters
        ----------
        X : dict | ndarray, shape (n_samples, n_windows, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : WindowFeatures
        """
        check_option("aggregate", self.aggregate, ("mean", "concat"))
        self.modality_, a = self._array(X, fitting=True)
        self.n_windows_, self.n_features_in_ = a.shape[1], a.shape[2]
        return self

    def transform(self, X):
        """Feature vectors.

        Parameters
        ----------
        X : dict | ndarray, shape (n_samples, n_windows, n_features)

        Returns
        -------
        F : ndarray, shape (n_samples, n_features) or (n_samples, n_windows * n_features)
        """
        check_is_fitted(self, "n_features_in_")
        _, a = self._array(X, fitting=False)
        if a.shape[2] != self.n_features_in_:
            raise ValueError(f"X has {a.shape[2]} features per window; the SVM was fitted on "
                             f"{self.n_features_in_}.")
        if self.aggregate == "mean":
            return a.mean(axis=1)
        if a.shape[1] != self.n_windows_:
            raise ValueError(f"X has {a.shape[1]} windows per sample; aggregate='concat' was "
                             f"fitted on {self.n_windows_}.")
        return a.reshape(a.shape[0], -1)


def make_svm(C=1.0, aggregate="mean", max_iter=10000, random_state=None):
    """Linear SVM on per-window features, standardised on the training data.

    Parameters
    ----------
    C : float
        Regularisation of :class:`~sklearn.svm.LinearSVC`.
    aggregate : {"mean", "concat"}
        How a sample's windows become one vector (:class:`WindowFeatures`).
    max_iter : int
        Iterations of the liblinear solver.
    random_state : int | None
        Seed of the solver's coordinate order.

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        ``WindowFeatures -> StandardScaler -> LinearSVC``.
    """
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return Pipeline([
        ("features", WindowFeatures(aggregate=aggregate)),
        ("scale", StandardScaler()),
        ("svm", LinearSVC(C=C, max_iter=max_iter, random_state=random_state)),
    ])


__all__ = ["WindowFeatures", "make_svm"]
