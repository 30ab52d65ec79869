"""Supervised multimodal reference: every modality's encoder trained end to end with labels.

:class:`FusionClassifier` is the "multimodal performance" a single modality
is compared against in the M2S paper (SPEC.md §5): one M2S emotion-related
encoder and projection per modality (:class:`~mne_m2s.nn.encoders.EREncoder`,
:class:`~mne_m2s.nn.encoders.Projection`), the projections of all modalities
concatenated and classified by the M2S head
(:class:`~mne_m2s.nn.encoders.ClassifierHead`), everything trained jointly
with cross-entropy on skorch (Adam, cosine annealing over all steps). It is
trained and tested with all modalities: ``fit(X_multimodal, y)``,
``predict(X_multimodal)``.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..utils._checks import (
    check_float,
    check_int,
    check_option,
    check_random_state_seed,
    check_type,
)


def _fusion_module(specs, config, n_classes):
    import torch
    from torch import nn

    from ..nn.encoders import ClassifierHead, EREncoder, ModalityEmbedder, Projection

    cfg = dict(config)
    proj_dim = cfg.pop("proj_dim")
    embedding_dim = cfg["embedding_dim"]

    class FusionModule(nn.Module):
        """Per-modality embedders, concatenated shared-space features, one head."""

        def __init__(self):
            super().__init__()
            self.order = list(specs)
            self.embedders = nn.ModuleDict({
                m: ModalityEmbedder(EREncoder(s.n_features, n_bands=s.n_bands, **cfg),
                                    Projection(embedding_dim, proj_dim))
                for m, s in specs.items()
            })
            self.head = ClassifierHead(proj_dim * len(specs), n_classes)

        def forward(self, **X):
            feats = [self.embedders[m](X[m]) for m in self.order]
            return self.head(torch.cat(feats, dim=1))

    return FusionModule()


class FusionClassifier(ClassifierMixin, BaseEstimator):
    """Supervised multimodal classifier built from the M2S encoders.

    Parameters
    ----------
    embedding_dim, attention, n_layers, n_heads, head_dim, ffn_dim, dropout, proj_dim :
        Encoder settings, as in :class:`~mne_m2s.M2SClassifier` (SPEC: 128,
        "sts", 4, 4, 64, 1024, 0.1, 32).
    max_epochs, batch_size, lr, weight_decay :
        Schedule: Adam with cosine annealing over all steps (SPEC.md §4).
    early_stopping : bool
        Hold out ``validation_fraction`` of the training *groups* (trials,
        passed as ``fit(..., groups=)``), stop after ``n_iter_no_change``
        epochs without a lower validation loss and keep the best epoch.
    validation_fraction : float
    n_iter_no_change : int
    scale : bool
        Standardise each modality with statistics of the training windows.
    window, modality_map, feature_extractors :
        Epochs input, as in :class:`~mne_m2s.M2SClassifier`.
    callbacks : list | None
        Extra skorch callbacks.
    device : str
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    random_state : int | None
        Seeds every draw of ``fit`` (local generators).
    verbose : int
        0: silent; 2: log every epoch.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
    modalities_ : list of str
        The modalities trained on (and required by ``predict``).
    module_ : torch.nn.Module
    history_ : skorch.History
    specs_ : dict of str -> ModalitySpec
    scalers_ : dict of str -> StandardScaler | None
    device_ : torch.device
    """

    def __init__(
        self,
        *,
        embedding_dim=128,
        attention="sts",
        n_layers=4,
        n_heads=4,
        head_dim=64,
        ffn_dim=1024,
        dropout=0.1,
        proj_dim=32,
        max_epochs=200,
        batch_size=512,
        lr=1e-3,
        weight_decay=1e-4,
        early_stopping=False,
        validation_fraction=0.2,
        n_iter_no_change=20,
        scale=True,
        window=1.0,
        modality_map=None,
        feature_extractors=None,
        callbacks=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.embedding_dim = embedding_dim
        self.attention = attention
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.proj_dim = proj_dim
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scale = scale
        self.window = window
        self.modality_map = modality_map
        self.feature_extractors = feature_extractors
        self.callbacks = callbacks
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        for name in ("embedding_dim", "n_layers", "n_heads", "head_dim", "ffn_dim", "proj_dim",
                     "max_epochs", "batch_size", "n_iter_no_change"):
            check_int(name, getattr(self, name), min_value=1)
        check_option("attention", self.attention, ("sts", "mha", "none"))
        check_float("dropout", self.dropout, 0.0, 1.0, inclusive=True)
        check_float("lr", self.lr, 0.0, inclusive=False)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_float("validation_fraction", self.validation_fraction, 0.0, 1.0, inclusive=False)
        for name in ("early_stopping", "scale"):
            check_type(name, getattr(self, name), (bool, np.bool_), "bool")
        check_type("callbacks", self.callbacks, (list, tuple, type(None)), "list or None")
        check_type("verbose", self.verbose, (int, np.integer), "int")

    def _to_dict(self, X, fitting):
        from ..inputs import read_input
        from ..modalities import DEFAULT_MODALITY_MAP

        inputs = read_input(
            X, modality="auto", known=getattr(self, "specs_", None),
            modality_map=self.modality_map or DEFAULT_MODALITY_MAP,
            extractors=self.feature_extractors if fitting else getattr(self, "extractors_", None),
            fit_extractors=fitting, window=self.window,
        )
        return inputs.data, inputs.y, inputs.groups, inputs.extractors

    def _scaled(self, data):
        out = {}
        for m in self.modalities_:
            a = data[m]
            scaler = self.scalers_[m]
            if scaler is not None:
                a = scaler.transform(a.reshape(-1, int(np.prod(a.shape[2:])))).reshape(a.shape)
            out[m] = np.ascontiguousarray(a, dtype=np.float32)
        return out

    def fit(self, X, y=None, groups=None):
        """Train every modality's encoder and the head end to end.

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs
            All modalities, ``{modality: (n_samples, n_windows, n_features)}``
            (electrode modalities may be ``(n_samples, n_windows, n_chans,
            n_bands)``), or Epochs with the channels of every modality.
        y : array-like, shape (n_samples,) | None
            Labels (None: from the Epochs' events).
        groups : array-like, shape (n_samples,) | None
            Trial of each sample (for ``early_stopping``).

        Returns
        -------
        self : FusionClassifier
        """
        import torch
        from skorch import NeuralNetClassifier
        from skorch.callbacks import EarlyStopping, LRScheduler
        from skorch.dataset import Dataset
        from skorch.helper import predefined_split

        from ..modalities import ModalitySpec
        from ..training import seeded
        from ..utils._logging import logger
        from ..utils.device import resolve_device

        self._check_params()
        for attr in ("specs_", "extractors_"):
            self.__dict__.pop(attr, None)
        data, y_epochs, groups_epochs, extractors = self._to_dict(X, fitting=True)
        y = y_epochs if y is None else y
        groups = groups_epochs if groups is None else groups
        if y is None:
            raise ValueError("FusionClassifier requires y (or Epochs whose events carry labels).")
        y = column_or_1d(np.asarray(y))
        check_classification_targets(y)
        n = len(next(iter(data.values())))
        if len(y) != n:
            raise ValueError(f"X has {n} samples but y has {len(y)}.")
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(f"FusionClassifier needs at least 2 classes, got only "
                             f"{encoder.classes_[0]!r}.")
        y_enc = encoder.transform(y).astype(np.int64)
        self.specs_ = {m: ModalitySpec.from_array(m, a) for m, a in data.items()}
        self.modalities_ = list(data)
        self.scalers_ = {
            m: (StandardScaler().fit(a.reshape(-1, int(np.prod(a.shape[2:])))) if self.scale
                else None)
            for m, a in data.items()
        }
        if extractors is not None:
            self.extractors_ = extractors
        xs = self._scaled(data)
        device = resolve_device(self.device)
        seed = check_random_state_seed(self.random_state)
        train_idx, valid_idx = np.arange(n), None
        if self.early_stopping:
            from sklearn.model_selection import StratifiedGroupKFold

            if groups is None:
                raise ValueError("early_stopping=True needs groups (the trial of each sample) so "
                                 "that validation holds out whole trials: fit(X, y, groups=...).")
            n_splits = max(2, round(1.0 / self.validation_fraction))
            cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed % 2**32)
            train_idx, valid_idx = next(cv.split(np.zeros(n), y_enc, np.asarray(groups)))
        bs = min(self.batch_size, len(train_idx))
        drop_last = len(train_idx) % bs == 1  # BatchNorm cannot take a batch of one
        steps = self.max_epochs * (len(train_idx) // bs if drop_last
                                   else -(-len(train_idx) // bs))
        callbacks = [("cosine", LRScheduler(policy=torch.optim.lr_scheduler.CosineAnnealingLR,
                                            T_max=max(steps, 1), step_every="batch"))]
        valid = None
        if valid_idx is not None:
            valid = Dataset({m: a[valid_idx] for m, a in xs.items()}, y_enc[valid_idx])
            callbacks.append(("early_stopping",
                              EarlyStopping(monitor="valid_loss", patience=self.n_iter_no_change,
                                            load_best=True, sink=logger.info)))
        callbacks.extend(self.callbacks or [])
        with seeded(seed, device):
            module = _fusion_module(
                self.specs_,
                dict(embedding_dim=self.embedding_dim, attention=self.attention,
                     n_layers=self.n_layers, n_heads=self.n_heads, head_dim=self.head_dim,
                     ffn_dim=self.ffn_dim, dropout=self.dropout, proj_dim=self.proj_dim),
                len(encoder.classes_),
            )
            net = NeuralNetClassifier(
                module,
                criterion=torch.nn.CrossEntropyLoss,
                optimizer=torch.optim.Adam,
                optimizer__weight_decay=self.weight_decay,
                lr=self.lr,
                max_epochs=self.max_epochs,
                batch_size=bs,
                iterator_train__shuffle=True,
                iterator_train__drop_last=drop_last,
                train_split=predefined_split(valid) if valid is not None else None,
                callbacks=callbacks,
                device=str(device),
                verbose=int(self.verbose >= 2),
                callbacks__print_log__sink=logger.info,
            )
            net.fit({m: a[train_idx] for m, a in xs.items()}, y_enc[train_idx])
        self.module_ = net.module_.eval()
        self.history_ = net.history
        self.classes_ = encoder.classes_
        self.device_ = device
        return self

    def predict_proba(self, X):
        """Class probabilities from all modalities.

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs
            The modalities of ``fit``.

        Returns
        -------
        proba : ndarray, shape (n_samples, n_classes)
        """
        import torch

        from ..modalities import ModalitySpec

        check_is_fitted(self, "module_")
        data, _, _, _ = self._to_dict(X, fitting=False)
        missing = [m for m in self.modalities_ if m not in data]
        if missing:
            raise ValueError(f"FusionClassifier was trained on {self.modalities_}; X lacks "
                             f"{missing} (it has {sorted(data)}).")
        for m in self.modalities_:
            self.specs_[m].check_compatible(ModalitySpec.from_array(m, data[m]), "X",
                                            estimator=type(self).__name__)
        xs = self._scaled(data)
        n = len(next(iter(xs.values())))
        outs = []
        with torch.no_grad():
            for i in range(0, n, 1024):
                batch = {m: torch.as_tensor(a[i:i + 1024], device=self.device_)
                         for m, a in xs.items()}
                outs.append(torch.softmax(self.module_(**batch).double(), dim=1).cpu().numpy())
        return np.concatenate(outs) if outs else np.zeros((0, len(self.classes_)))

    def predict(self, X):
        """Predicted labels from all modalities.

        Parameters
        ----------
        X : dict of str -> ndarray | mne.BaseEpochs

        Returns
        -------
        y_pred : ndarray, shape (n_samples,)
        """
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


__all__ = ["FusionClassifier"]
