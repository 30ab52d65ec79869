"""Shared machinery of the comparison systems (input handling, scaling, training loops).

Two estimator families live on top of this module:

* :class:`CrossModalBaseline` — ``pretrain(X_multimodal)`` learns, without
  labels, one map per modality into a shared feature space; ``fit`` trains the
  M2S fine-tuning head (:class:`~mne_m2s.nn.encoders.ClassifierHead`, Adam,
  cosine schedule; SPEC.md §4) on the frozen features of *one* modality;
  ``predict`` works through the map of any pre-trained modality (cross-modal).
* :class:`MultimodalBaseline` — ``fit(X_multimodal, y)`` trains a supervised
  network on every modality at once; ``predict(X_multimodal)`` needs the same
  modalities.

Both accept what :class:`~mne_m2s.M2SClassifier` accepts (dicts of feature
sequences ``(n_samples, n_windows, n_features)`` or electrode arrays
``(n_samples, n_windows, n_chans, n_bands)``, MNE Epochs, plain arrays for one
modality), standardise every modality with statistics of the training windows
only and return the original labels.
"""

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, check_is_fitted, column_or_1d

from ..inputs import read_input
from ..modalities import DEFAULT_MODALITY_MAP, ModalitySpec
from ..nn.encoders import ClassifierHead, EREncoder, ModalityEmbedder, Projection
from ..training import batched_forward, cosine_schedule, make_classifier_net, seeded
from ..utils._checks import check_float, check_int, check_random_state_seed, check_type
from ..utils._logging import logger, set_log_level
from ..utils.device import resolve_device


# --------------------------------------------------------------------------- helpers
def fit_scaler(a, scale=True):
    """StandardScaler over the windows of ``a`` (features flattened), or None."""
    if not scale:
        return None
    return StandardScaler().fit(a.reshape(-1, int(np.prod(a.shape[2:]))))


def apply_scaler(scaler, a):
    """Standardise ``a`` (any layout) with a fitted scaler; float32, contiguous."""
    if scaler is None:
        return np.ascontiguousarray(a, dtype=np.float32)
    shape = a.shape
    out = scaler.transform(a.reshape(-1, int(np.prod(shape[2:]))))
    return np.ascontiguousarray(out.reshape(shape), dtype=np.float32)


def encode_labels(y, n_samples, estimator):
    """Validate ``y`` and return ``(LabelEncoder, y_encoded int64)``."""
    if y is None:
        raise ValueError(
            f"{estimator} requires y to be passed, but the target y is None. Pass labels, or "
            "Epochs whose events carry them."
        )
    y = column_or_1d(np.asarray(y), warn=True)
    if y.dtype.kind in "fc":
        _assert_all_finite(y, input_name="y")
    check_classification_targets(y)
    if len(y) != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: X has {n_samples}, y has {len(y)}."
        )
    encoder = LabelEncoder().fit(y)
    if len(encoder.classes_) < 2:
        raise ValueError(
            f"{estimator} needs samples of at least 2 classes in the data, but the data contain "
            f"only one class: {encoder.classes_[0]!r}."
        )
    return encoder, encoder.transform(y).astype(np.int64)


def windows_of(a):
    """``(n, T, ...)`` -> ``(n * T, D)``: every window as one feature vector."""
    return a.reshape(a.shape[0] * a.shape[1], -1)


def train_loop(step, n_samples, *, max_epochs, batch_size, device, desc, verbose=0,
               drop_singleton=True):
    """Mini-batch loop over ``n_samples`` indices, shuffled every epoch.

    Parameters
    ----------
    step : callable
        ``step(idx)`` with ``idx`` a LongTensor of batch indices on ``device``;
        runs one optimisation step and returns a dict of float losses.
    n_samples : int
    max_epochs, batch_size : int
    device : torch.device
    desc : str
        Label of the progress bar / log lines.
    verbose : int
        1: a progress bar over epochs; 2: also log every epoch.
    drop_singleton : bool
        Drop a last batch of one sample (BatchNorm cannot train on it).

    Returns
    -------
    history : list of dict
        Mean of every loss over the batches of each epoch.

    Notes
    -----
    Shuffling draws from torch's default generator: call inside
    :func:`~mne_m2s.training.seeded` so that ``random_state`` fixes it and the
    caller's global state is left untouched.
    """
    from tqdm.auto import tqdm

    bs = max(1, min(batch_size, n_samples))
    history = []
    bar = tqdm(total=max_epochs, desc=desc, leave=False, dynamic_ncols=True) if verbose else None
    try:
        for epoch in range(max_epochs):
            order = torch.randperm(n_samples).to(device)
            sums, count = {}, 0
            for start in range(0, n_samples, bs):
                idx = order[start:start + bs]
                if drop_singleton and len(idx) == 1 and n_samples > 1:
                    continue
                losses = step(idx)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v)
                count += 1
            row = {"epoch": epoch + 1, **{k: v / max(count, 1) for k, v in sums.items()}}
            history.append(row)
            if verbose >= 2:
                logger.info("%s epoch %d: %s", desc, epoch + 1,
                            ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "epoch"))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return history


def adam_with_cosine(params, lr, weight_decay, n_steps, betas=(0.9, 0.999)):
    """Adam and a cosine-annealing schedule over ``n_steps`` optimiser steps."""
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=betas)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(int(n_steps), 1))
    return optimizer, scheduler


def steps_per_epoch(n_samples, batch_size):
    """Optimiser steps of one epoch of :func:`train_loop`."""
    bs = max(1, min(batch_size, n_samples))
    full, rest = divmod(n_samples, bs)
    return full + (1 if rest > 1 else 0)


def count_parameters(module):
    """Number of parameters of a torch module."""
    return sum(p.numel() for p in module.parameters())


def m2s_embedder(spec, n_outputs, est):
    """The M2S encoder of one modality followed by ``ReLU(Linear(E, n_outputs)(mean_t z))``.

    :class:`~mne_m2s.nn.encoders.EREncoder` (STS attention for electrode
    layouts, self-attention over windows otherwise) and
    :class:`~mne_m2s.nn.encoders.Projection`, built from the estimator's
    ``embedding_dim``, ``attention``, ``n_layers``, ``n_heads``, ``head_dim``,
    ``ffn_dim`` and ``dropout`` (the settings of :class:`~mne_m2s.M2SClassifier`).
    """
    encoder = EREncoder(
        spec.n_features, est.embedding_dim, n_bands=spec.n_bands, attention=est.attention,
        n_layers=est.n_layers, n_heads=est.n_heads, head_dim=est.head_dim,
        ffn_dim=est.ffn_dim, dropout=est.dropout,
    )
    return ModalityEmbedder(encoder, Projection(est.embedding_dim, n_outputs))


def validate_m2s_encoder_params(est):
    """Check the M2S encoder settings of ``est`` (see :func:`m2s_embedder`)."""
    from ..utils._checks import check_option

    for name in ("embedding_dim", "n_layers", "n_heads", "head_dim", "ffn_dim"):
        check_int(name, getattr(est, name), min_value=1)
    check_option("attention", est.attention, ("sts", "mha", "none"))
    check_float("dropout", est.dropout, 0.0, 1.0)
    if est.dropout == 1.0:
        raise ValueError("dropout must be < 1, got 1.0.")


class WindowMLP(torch.nn.Module):
    """Fully connected network applied to every window, then averaged over windows.

    ``(batch, T, ...) -> (batch, out)``; hidden layers use ``activation``.

    Parameters
    ----------
    n_features : int
    hidden : tuple of int
    n_outputs : int
    activation : type
        A torch activation class (e.g. ``torch.nn.LeakyReLU``).
    final : torch.nn.Module | None
        Applied to the output of every window (e.g. a sigmoid).
    """

    def __init__(self, n_features, hidden, n_outputs, activation=torch.nn.LeakyReLU,
                 final=None):
        super().__init__()
        layers, width = [], n_features
        for h in hidden:
            layers += [torch.nn.Linear(width, h), activation()]
            width = h
        layers.append(torch.nn.Linear(width, n_outputs))
        if final is not None:
            layers.append(final)
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x):
        """Parameters: x, shape (batch, T, ...). Returns (batch, n_outputs)."""
        return self.net(x.flatten(2)).mean(dim=1)


# --------------------------------------------------------------------- shared base
class _BaselineBase(ClassifierMixin, BaseEstimator):
    """Input handling shared by every comparison system (not public)."""

    #: Parameters validated as positive ints / positive floats / non-negative floats.
    _int_params = ("max_epochs", "batch_size")
    _pos_float_params = ("lr",)
    _nonneg_float_params = ("weight_decay",)

    def _validate_common(self):
        for name in self._int_params:
            check_int(name, getattr(self, name), min_value=1)
        for name in self._pos_float_params:
            check_float(name, getattr(self, name), min_value=0.0, inclusive=False)
        for name in self._nonneg_float_params:
            check_float(name, getattr(self, name), min_value=0.0)
        check_type("scale", self.scale, (bool, np.bool_), "bool")
        check_type("verbose", self.verbose, (int, np.integer, bool, np.bool_), "int")
        if int(self.verbose) < 0:
            raise ValueError(f"verbose must be >= 0, got {self.verbose}.")

    def _check_params(self):
        self._validate_common()

    def _to_dict(self, X, known=None):
        inputs = read_input(
            X, modality=getattr(self, "modality", "auto"), known=known,
            modality_map=DEFAULT_MODALITY_MAP, extractors=getattr(self, "extractors_", None),
            fit_extractors=not hasattr(self, "extractors_"),
        )
        return inputs.data, inputs.y, inputs.groups

    def _log_level(self):
        return set_log_level("INFO" if int(self.verbose) >= 2 else None)

    def _seed_device(self):
        return check_random_state_seed(self.random_state), resolve_device(self.device)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.dict = True
        tags.non_deterministic = self.random_state is None
        return tags


# ------------------------------------------------------------------ cross-modal base
class PretrainedMaps:
    """What a cross-modal baseline's ``pretrain`` learned (kept by ``clone``).

    Attributes
    ----------
    embedders : dict of str -> torch.nn.Module
        Per modality: ``(batch, T, ...) -> (batch, n_outputs)`` map into the
        shared feature space (CPU, evaluation mode).
    specs : dict of str -> ModalitySpec
    scalers : dict of str -> StandardScaler | None
        Fitted on the pre-training windows.
    history : dict of str -> list of dict
        Per-stage, per-epoch losses.
    method : str
        Name of the estimator class that produced it.
    extra : dict
        Method-specific state (e.g. a codebook).
    """

    def __init__(self, embedders, specs, scalers, history, method, extra=None):
        self.embedders = embedders
        self.specs = specs
        self.scalers = scalers
        self.history = history
        self.method = method
        self.extra = extra or {}

    @property
    def modalities(self):
        """Names of the pre-trained modalities."""
        return list(self.specs)

    def __repr__(self):
        mods = ", ".join(f"{m}: {s.describe()}" for m, s in self.specs.items())
        return f"<PretrainedMaps of {self.method} | {mods}>"


class CrossModalBaseline(_BaselineBase):
    """Base of the cross-modal systems: label-free pre-training, then the M2S head.

    Subclasses implement ``_pretrain_maps(data, specs, device) -> (embedders,
    history, extra)`` and set ``pretrain_max_epochs``, ``pretrain_batch_size``,
    ``pretrain_lr`` and the fine-tuning parameters ``max_epochs``,
    ``batch_size``, ``lr``, ``weight_decay``, ``head_hidden``.
    """

    _int_params = ("max_epochs", "batch_size", "pretrain_max_epochs", "pretrain_batch_size",
                   "head_hidden")
    _pos_float_params = ("lr", "pretrain_lr")

    def _check_pretrained(self):
        if self.pretrained is not None and not isinstance(self.pretrained, PretrainedMaps):
            raise TypeError(
                f"pretrained must be None or the PretrainedMaps set by "
                f"{type(self).__name__}.pretrain, got {type(self.pretrained).__name__}."
            )
        if self.pretrained is not None and self.pretrained.method != type(self).__name__:
            raise ValueError(
                f"pretrained was produced by {self.pretrained.method}, not by "
                f"{type(self).__name__}; pre-train this estimator instead."
            )

    def pretrain(self, X, y=None):
        """Learn, without labels, one map per modality into the shared space.

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs
            Paired multimodal data (>= 2 modalities), e.g.
            ``{"eeg": (n, T, 62, 5), "eye": (n, T, 33)}``.
        y : None
            Ignored (the pre-training is label-free).

        Returns
        -------
        self
        """
        self._check_params()
        data, _, _ = self._to_dict(X)
        if len(data) < 2:
            raise ValueError(
                f"{type(self).__name__}.pretrain needs paired data of at least 2 modalities, got "
                f"{len(data)} ({', '.join(data) or 'none'}). Pass e.g. "
                "{'eeg': X_eeg, 'eye': X_eye}."
            )
        specs = {m: ModalitySpec.from_array(m, a) for m, a in data.items()}
        scalers = {m: fit_scaler(a, self.scale) for m, a in data.items()}
        data = {m: apply_scaler(scalers[m], a) for m, a in data.items()}
        seed, device = self._seed_device()
        old = self._log_level()
        try:
            with seeded(seed, device):
                embedders, history, extra = self._pretrain_maps(data, specs, device)
        finally:
            set_log_level(old)
        embedders = {m: e.to("cpu").eval().requires_grad_(False) for m, e in embedders.items()}
        self.pretrained = PretrainedMaps(embedders, specs, scalers, history,
                                         type(self).__name__, extra)
        self._reset_fitted()
        return self

    def _reset_fitted(self):
        for attr in ("classes_", "modality_", "modalities_", "head_", "history_",
                     "n_features_in_", "device_", "prototypes_"):
            self.__dict__.pop(attr, None)

    def _single(self, X, method):
        pre = self.pretrained
        data, y_ep, groups = self._to_dict(X, known=pre.specs)
        if len(data) != 1:
            raise ValueError(
                f"{method} takes a single modality, got {len(data)}: {', '.join(data)}. Select "
                "one, e.g. {'eye': X_eye}."
            )
        (modality, x), = data.items()
        if modality not in pre.specs:
            raise ValueError(
                f"No pre-trained map for modality {modality!r}: {type(self).__name__} can use "
                f"{pre.modalities}. Pre-train with that modality to use it."
            )
        pre.specs[modality].check_compatible(ModalitySpec.from_array(modality, x), "X",
                                             estimator=type(self).__name__)
        return modality, x, y_ep, groups

    def _features(self, modality, x, device):
        pre = self.pretrained
        x = apply_scaler(pre.scalers[modality], x)
        emb = pre.embedders[modality].to(device)
        try:
            return batched_forward(emb, x, device)
        finally:
            pre.embedders[modality] = emb.to("cpu")

    def fit(self, X, y=None, groups=None):
        """Train the classifier on one modality's (frozen) shared-space features.

        Parameters
        ----------
        X : dict | ndarray | mne.BaseEpochs
            One pre-trained modality, e.g. ``{"eye": (n, T, 33)}``.
        y : array-like, shape (n_samples,)
        groups : array-like | None
            Trial ids (accepted for the evaluation protocol; unused).

        Returns
        -------
        self
        """
        self._check_params()
        if self.pretrained is None:
            raise ValueError(
                f"{type(self).__name__} is a cross-modal system: call pretrain(X_multimodal) on "
                "unlabelled paired data before fit (CrossModalEvaluation does so on the "
                "training trials)."
            )
        self._check_pretrained()
        modality, x, y_ep, _ = self._single(X, "fit")
        encoder, y_enc = encode_labels(y if y is not None else y_ep, len(x), type(self).__name__)
        seed, device = self._seed_device()
        self._reset_fitted()
        feats = self._features(modality, x, device)
        old = self._log_level()
        try:
            with seeded(seed, device):
                self._fit_classifier(feats, y_enc, len(encoder.classes_), device)
        finally:
            set_log_level(old)
        self.classes_ = encoder.classes_
        self.modality_ = modality
        self.modalities_ = self.pretrained.modalities
        self.n_features_in_ = self.pretrained.specs[modality].n_features
        self.device_ = device
        return self

    def _fit_classifier(self, feats, y, n_classes, device):
        """The M2S fine-tuning head (SPEC.md §4) on cached features."""
        head = ClassifierHead(feats.shape[1], n_classes, hidden=self.head_hidden)
        net = make_classifier_net(
            head, n_samples=len(y), lr=self.lr, weight_decay=self.weight_decay,
            max_epochs=self.max_epochs, batch_size=self.batch_size, device=device,
        )
        net.fit(feats, y)
        self.head_ = head.eval()
        self.history_ = net.history

    def transform(self, X):
        """Shared-space features of one pre-trained modality.

        Parameters
        ----------
        X : dict | ndarray | mne.BaseEpochs
            One modality among ``pretrained.modalities``.

        Returns
        -------
        features : ndarray, shape (n_samples, n_features_out)
        """
        if self.pretrained is None:
            raise ValueError(f"{type(self).__name__} is not pre-trained; call pretrain first.")
        modality, x, _, _ = self._single(X, "transform")
        return self._features(modality, x, getattr(self, "device_", torch.device("cpu")))

    def predict_proba(self, X):
        """Class probabilities (columns as :attr:`classes_`) through X's modality map.

        Parameters
        ----------
        X : dict | ndarray | mne.BaseEpochs
            One pre-trained modality (cross-modal when it is not the fitted one).

        Returns
        -------
        proba : ndarray, shape (n_samples, n_classes)
        """
        check_is_fitted(self, "classes_")
        feats = self.transform(X)
        logits = self._logits(feats).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def _logits(self, feats):
        return batched_forward(self.head_, feats, self.device_)

    def predict(self, X):
        """Predicted labels (original labels).

        Parameters
        ----------
        X : dict | ndarray | mne.BaseEpochs

        Returns
        -------
        y_pred : ndarray, shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_is_fitted__(self):
        return hasattr(self, "classes_")


# ------------------------------------------------------------------- multimodal base
class MultimodalBaseline(_BaselineBase):
    """Base of the supervised multimodal systems (all modalities in fit and predict).

    Subclasses implement ``_build_module(specs, n_classes) -> torch.nn.Module``
    whose ``forward(**x)`` takes one tensor per modality (``(batch, T, ...)``)
    and returns logits.
    """

    def _multi(self, X, fitting):
        known = None if fitting else self.specs_
        data, y_ep, groups = self._to_dict(X, known=known)
        if fitting:
            if len(data) < 2:
                raise ValueError(
                    f"{type(self).__name__} is a supervised multimodal system: fit needs at "
                    f"least 2 modalities, got {len(data)} ({', '.join(data)}). Pass e.g. "
                    "{'eeg': X_eeg, 'eye': X_eye}."
                )
            return data, y_ep, groups
        missing = [m for m in self.specs_ if m not in data]
        extra = [m for m in data if m not in self.specs_]
        if missing or extra:
            raise ValueError(
                f"{type(self).__name__} was fitted on modalities {list(self.specs_)} and needs "
                f"exactly those; got {list(data)}."
            )
        for m, a in data.items():
            self.specs_[m].check_compatible(ModalitySpec.from_array(m, a), f"X[{m!r}]",
                                            estimator=type(self).__name__)
        return {m: data[m] for m in self.specs_}, y_ep, groups

    def fit(self, X, y=None, groups=None):
        """Train on every modality of ``X`` with labels.

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs
            ``{modality: (n, T, D) or (n, T, C, B)}``, >= 2 modalities.
        y : array-like, shape (n_samples,)
        groups : array-like | None
            Trial ids (accepted for the evaluation protocol; unused).

        Returns
        -------
        self
        """
        self._check_params()
        data, y_ep, _ = self._multi(X, fitting=True)
        n = len(next(iter(data.values())))
        encoder, y_enc = encode_labels(y if y is not None else y_ep, n, type(self).__name__)
        specs = {m: ModalitySpec.from_array(m, a) for m, a in data.items()}
        scalers = {m: fit_scaler(a, self.scale) for m, a in data.items()}
        data = {m: apply_scaler(scalers[m], a) for m, a in data.items()}
        seed, device = self._seed_device()
        self.__dict__.pop("classes_", None)
        old = self._log_level()
        try:
            with seeded(seed, device):
                self._train(data, y_enc, specs, len(encoder.classes_), device)
        finally:
            set_log_level(old)
        self.classes_ = encoder.classes_
        self.specs_ = specs
        self.scalers_ = scalers
        self.modalities_ = list(specs)
        self.n_features_in_ = sum(s.n_features for s in specs.values())
        self.device_ = device
        return self

    def _train(self, data, y, specs, n_classes, device):
        module = self._build_module(specs, n_classes)
        net = make_classifier_net(
            module, n_samples=len(y), lr=self.lr, weight_decay=self.weight_decay,
            max_epochs=self.max_epochs, batch_size=self.batch_size, device=device,
            progress_bar=bool(self.verbose),
        )
        net.fit(data, y)
        self.module_ = module.eval()
        self.history_ = net.history

    def _scaled(self, X):
        check_is_fitted(self, "classes_")
        data, _, _ = self._multi(X, fitting=False)
        return {m: apply_scaler(self.scalers_[m], a) for m, a in data.items()}

    @torch.no_grad()
    def _forward_dict(self, module, data, batch_size=1024):
        module.eval()
        n = len(next(iter(data.values())))
        out = []
        for i in range(0, n, batch_size):
            batch = {m: torch.as_tensor(a[i:i + batch_size], device=self.device_)
                     for m, a in data.items()}
            out.append(module(**batch).float().cpu().numpy())
        return np.concatenate(out)

    def predict_proba(self, X):
        """Class probabilities, columns as :attr:`classes_`.

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs
            The fitted modalities.

        Returns
        -------
        proba : ndarray, shape (n_samples, n_classes)
        """
        logits = self._forward_dict(self.module_, self._scaled(X)).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels (original labels).

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs

        Returns
        -------
        y_pred : ndarray, shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def __sklearn_is_fitted__(self):
        return hasattr(self, "classes_")


__all__ = [
    "CrossModalBaseline",
    "MultimodalBaseline",
    "PretrainedMaps",
    "WindowMLP",
    "adam_with_cosine",
    "apply_scaler",
    "count_parameters",
    "cosine_schedule",
    "fit_scaler",
    "m2s_embedder",
    "train_loop",
    "validate_m2s_encoder_params",
]
