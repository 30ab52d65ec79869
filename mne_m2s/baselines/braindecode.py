"""braindecode models as supervised raw-EEG baselines (scikit-learn classifiers).

:class:`BraindecodeClassifier` trains a model of braindecode's zoo with
braindecode's :class:`braindecode.EEGClassifier` (skorch) on raw EEG samples —
:class:`mne.Epochs` (e.g. from :class:`~mne_m2s.paradigms.EmotionWindowsParadigm`
or :class:`~mne_m2s.paradigms.EmotionParadigm`) or arrays — so it runs in MOABB
evaluations, ``cross_val_score`` and the package's evaluation alike.
"""

from __future__ import annotations

import importlib

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.validation import check_is_fitted

from ..utils import logger
from ..utils._checks import _suggest, check_float, check_int, check_random_state_seed

#: braindecode models offered as baselines: name -> one-line description.
BRAINDECODE_MODELS = {
    "ShallowFBCSPNet": (
        "Shallow ConvNet (Schirrmeister et al. 2017): temporal + spatial convolution, "
        "squaring, mean pooling, log - a learned filter-bank band-power model."
    ),
    "EEGNet": (
        "EEGNet (Lawhern et al. 2018): compact depthwise/separable ConvNet for EEG "
        "(braindecode's current name for EEGNetv4)."
    ),
    "TSception": (
        "TSception (Ding et al. 2022): multi-scale temporal and hemispheric spatial "
        "convolutions, designed for EEG emotion recognition."
    ),
    "EEGConformer": (
        "EEG Conformer (Song et al. 2023): convolutional tokenizer + transformer encoder "
        "for long windows."
    ),
}

_EXTRA_HINT = 'pip install "mne-m2s[braindecode]"'


def _import_braindecode():
    """Import braindecode, or say which extra installs it."""
    try:
        return importlib.import_module("braindecode")
    except ImportError as err:
        raise ImportError(
            f"BraindecodeClassifier needs braindecode (and the torchaudio release that "
            f"matches torch), which are optional: {_EXTRA_HINT}. ({type(err).__name__}: {err})"
        ) from err


class BraindecodeClassifier(ClassifierMixin, BaseEstimator):
    """A braindecode model trained on raw EEG samples, as a scikit-learn classifier.

    Parameters
    ----------
    model : str
        A key of :data:`BRAINDECODE_MODELS` (``"ShallowFBCSPNet"``, ``"EEGNet"``,
        ``"TSception"``, ``"EEGConformer"``).
    model_kwargs : dict | None
        Extra constructor arguments of the model (``n_chans``, ``n_times``,
        ``n_outputs`` and ``sfreq`` are inferred from the data; explicit ones
        win).
    max_epochs : int
        Training epochs.
    batch_size : int
        Mini-batch size.
    lr : float
        Learning rate of AdamW.
    weight_decay : float
        Weight decay of AdamW.
    picks : str | list of str
        Channels used when ``X`` is an :class:`mne.Epochs` (default ``"eeg"``).
    scale : float
        Factor applied to Epochs data (SI volts) before training (default 1e6:
        microvolts, the scale braindecode's models are tuned for). Arrays are
        used as given (MOABB's arrays are already in microvolts).
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"``.
    random_state : int | None
        Seed of initialisation and shuffling (torch's generators are seeded in
        a forked state; the global random state is left untouched).
    verbose : int
        skorch's verbosity (0: silent).

    Attributes
    ----------
    classes_ : ndarray
        The labels seen in ``fit``.
    net_ : braindecode.EEGClassifier
        The fitted network.
    n_chans_, n_times_ : int
        Input shape inferred from the training data.
    sfreq_ : float | None
        Sampling rate of Epochs input (``None`` for arrays).
    device_ : str
        Device used.

    Notes
    -----
    No validation split is carved out of the training data (skorch's default
    random 20 % hold-out would put windows of one trial on both sides): the
    network trains for ``max_epochs`` on everything it is given; select
    hyper-parameters with trial-wise outer splits.
    """

    def __init__(
        self,
        model="ShallowFBCSPNet",
        model_kwargs=None,
        max_epochs=30,
        batch_size=64,
        lr=1e-3,
        weight_decay=0.0,
        picks="eeg",
        scale=1e6,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.model_kwargs = model_kwargs
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.picks = picks
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ input
    def _as_array(self, X, fitting):
        """``(n_samples, n_chans, n_times)`` float32 array and the sampling rate."""
        import mne

        if isinstance(X, mne.BaseEpochs):
            data = X.get_data(picks=self.picks, copy=True) * float(self.scale)
            sfreq = float(X.info["sfreq"])
            if fitting:
                self.ch_names_ = (
                    [X.ch_names[i] for i in mne.pick_types(X.info, eeg=True)]
                    if (self.picks == "eeg")
                    else list(np.atleast_1d(self.picks))
                )
        else:
            if isinstance(X, dict):
                raise TypeError(
                    "BraindecodeClassifier trains on raw signals: pass an mne.Epochs or an "
                    "array of shape (n_samples, n_chans, n_times), not a dict of feature "
                    "sequences (those are M2SClassifier's input)."
                )
            data = np.asarray(X)
            sfreq = None
            if data.dtype.kind not in "biuf":
                raise TypeError(
                    f"X must be numeric, got an array of dtype {data.dtype}; pass an mne.Epochs "
                    "or a float array of shape (n_samples, n_chans, n_times)."
                )
        if data.ndim != 3:
            raise ValueError(
                f"X must have shape (n_samples, n_chans, n_times), got shape {data.shape}."
            )
        if not np.isfinite(data).all():
            raise ValueError("X contains NaN or infinite values; clean or interpolate them first.")
        if not fitting:
            expected = (self.n_chans_, self.n_times_)
            if data.shape[1:] != expected:
                raise ValueError(
                    f"X has {data.shape[1]} channels x {data.shape[2]} samples per sample, but "
                    f"the model was fitted on {expected[0]} x {expected[1]}."
                )
        return data.astype(np.float32), sfreq

    @staticmethod
    def _labels(X, y):
        import mne

        if y is None:
            if not isinstance(X, mne.BaseEpochs):
                raise ValueError("y is required when X is an array (Epochs carry their events).")
            inv = {v: k for k, v in X.event_id.items()}
            return np.array([inv[c] for c in X.events[:, 2]])
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one label per sample ({len(X)}), got shape {y.shape}."
            )
        return y

    # ------------------------------------------------------------------ model
    def _check_params(self):
        if self.model not in BRAINDECODE_MODELS:
            raise ValueError(
                f"model={self.model!r} is not offered; choose one of "
                f"{list(BRAINDECODE_MODELS)}.{_suggest(str(self.model), list(BRAINDECODE_MODELS))}"
            )
        check_int("max_epochs", self.max_epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_float("lr", self.lr, 0.0, inclusive=False)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_float("scale", self.scale, 0.0, inclusive=False)
        if self.model_kwargs is not None and not isinstance(self.model_kwargs, dict):
            raise TypeError(f"model_kwargs must be a dict or None, got {self.model_kwargs!r}.")

    def fit(self, X, y=None):
        """Train the model.

        Parameters
        ----------
        X : mne.Epochs | ndarray, shape (n_samples, n_chans, n_times)
            Raw EEG samples.
        y : array-like, shape (n_samples,) | None
            Labels (any hashable values); ``None`` takes them from the
            Epochs' events.

        Returns
        -------
        self : BraindecodeClassifier
        """
        self._check_params()
        braindecode = _import_braindecode()
        import inspect

        import torch

        from ..training import seeded
        from ..utils.device import resolve_device

        data, sfreq = self._as_array(X, fitting=True)
        labels = self._labels(X, y)
        le = LabelEncoder().fit(labels)
        self.classes_ = le.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"fit needs at least 2 classes, got {list(self.classes_)}.")
        target = le.transform(labels).astype(np.int64)
        self.n_chans_, self.n_times_ = int(data.shape[1]), int(data.shape[2])
        self.sfreq_ = sfreq
        self.device_ = str(resolve_device(self.device))
        model_cls = getattr(importlib.import_module("braindecode.models"), self.model)
        accepted = inspect.signature(model_cls.__init__).parameters
        kwargs = {}
        if sfreq is not None and "sfreq" in accepted:
            kwargs["sfreq"] = sfreq
        kwargs.update(self.model_kwargs or {})
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise ValueError(
                f"model_kwargs {unknown} are not arguments of braindecode's {self.model}; its "
                f"arguments are {sorted(k for k in accepted if k != 'self')}."
            )
        seed = check_random_state_seed(self.random_state)
        with seeded(seed, self.device_):
            self.net_ = braindecode.EEGClassifier(
                self.model,
                criterion=torch.nn.CrossEntropyLoss,
                optimizer=torch.optim.AdamW,
                optimizer__lr=float(self.lr),
                optimizer__weight_decay=float(self.weight_decay),
                train_split=None,
                batch_size=int(self.batch_size),
                max_epochs=int(self.max_epochs),
                iterator_train__shuffle=True,
                iterator_train__drop_last=len(data) > int(self.batch_size),
                classes=list(range(len(self.classes_))),
                device=self.device_,
                verbose=int(self.verbose),
                **{f"module__{k}": v for k, v in kwargs.items()},
            )
            self.net_.fit(data, target)
        logger.info(
            "BraindecodeClassifier(%s): trained %d epochs on %d samples of %d x %d.",
            self.model,
            self.max_epochs,
            len(data),
            self.n_chans_,
            self.n_times_,
        )
        return self

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : mne.Epochs | ndarray, shape (n_samples, n_chans, n_times)

        Returns
        -------
        proba : ndarray, shape (n_samples, n_classes)
        """
        check_is_fitted(self, "net_")
        data, _ = self._as_array(X, fitting=False)
        # skorch applies the softmax of the CrossEntropyLoss criterion ("auto" nonlinearity)
        proba = np.asarray(self.net_.predict_proba(data), dtype=np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels (the labels given to ``fit``).

        Parameters
        ----------
        X : mne.Epochs | ndarray, shape (n_samples, n_chans, n_times)

        Returns
        -------
        y_pred : ndarray, shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
