"""The scikit-learn estimator: :class:`M2SClassifier`."""

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import LabelEncoder, StandardScaler
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, check_is_fitted, column_or_1d
from skorch.dataset import Dataset

from ._persistence import PretrainedM2S, load_classifier, save_classifier
from .distributed import check_ranks, data_fingerprint, get_context
from .inputs import read_input, resolve_window
from .modalities import DEFAULT_MODALITY_MAP, ModalitySpec
from .nn.encoders import ClassifierHead
from .nn.m2s import EMBEDDER_KEYS, make_embedder
from .training import (
    FineTuneModule,
    batched_forward,
    make_classifier_net,
    pretrain_network,
    seeded,
)
from .utils._checks import (
    check_float,
    check_int,
    check_option,
    check_random_state_seed,
    check_type,
)
from .utils._logging import set_log_level
from .utils.device import resolve_device

#: Checks of :func:`sklearn.utils.estimator_checks.check_estimator` that cannot
#: pass, with the reason. Empty: every check passes.
EXPECTED_FAILED_CHECKS = {}

#: Attributes set by ``fit`` (cleared by ``pretrain`` and a new ``fit``).
_FITTED = ("classes_", "modality_", "modalities_", "encoders_", "head_", "specs_", "scalers_",
           "history_", "n_features_in_", "extractors_", "config_", "window_", "pretrained_",
           "task_")


def parse_task(task):
    """``"a->b"`` -> ``("a", "b")`` (fine-tune modality, test modality)."""
    parts = task.split("->") if isinstance(task, str) else []
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(
            "task must be None or 'fine_tune_modality->test_modality', e.g. 'eye->eeg'; got "
            f"{task!r}."
        )
    return parts[0].strip(), parts[1].strip()


class M2SClassifier(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Multi-to-Single (M2S) emotion classifier.

    ``pretrain`` learns one encoder per modality on unlabelled paired
    multimodal data so that all modalities share one emotion space (SPEC.md §3);
    ``fit`` fine-tunes a small classifier on a single modality with the
    encoders frozen (SPEC.md §4); ``predict`` works for any pre-trained
    modality, including one never seen with labels (cross-modal). Without
    ``pretrain``, ``fit`` trains the same encoder and classifier end to end
    (the supervised unimodal baseline).

    With ``task="a->b"`` (e.g. ``"eye->eeg"``) the estimator is one classifier
    over *multimodal* input, as MOABB pipelines and
    :func:`~sklearn.model_selection.cross_val_score` need: ``fit(X, y)`` on
    multimodal ``X`` pre-trains on every modality of ``X`` (unless
    ``pretrained`` is set), then fine-tunes on modality ``a``;
    ``predict``/``predict_proba``/``score``/``transform`` on multimodal ``X``
    use modality ``b``. The pre-training of a task-``fit`` is fitted state
    (``pretrained_``), not the ``pretrained`` parameter, so
    :func:`~sklearn.base.clone` does not keep it: every ``fit`` (every fold of a
    cross-validation) pre-trains from scratch on its own training data only.

    Parameters
    ----------
    modality : str
        Name of the modality of plain-array inputs. ``"auto"``: recognised
        from the input (dict keys, Epochs channel types, or the feature count
        of a plain array among the pre-trained / fitted modalities).
    task : str | None
        ``"fine_tune_modality->test_modality"``, e.g. ``"eye->eeg"``: the
        modality ``fit`` fine-tunes on and the modality ``predict`` uses when
        given multimodal input (see above). None: ``fit`` needs a single
        modality and ``predict`` uses the modality of its input.
    embedding_dim : int
        Size ``E`` of the emotion-related embedding (SPEC: 128).
    attention : {"sts", "mha", "none"}
        Attention of the electrode (channels x bands) encoders: STS attention,
        ordinary multi-head self-attention over windows, or none (ablations).
    n_layers, n_heads, head_dim, ffn_dim, dropout :
        Transformer settings of the encoders (SPEC: 4, 4, 64, 1024, 0.1).
    proj_dim : int
        Size of the shared-space feature (contrastive projection; SPEC: 32).
    contrastive_weight, cpc_weight, recon_weight, club_weight : float
        Loss weights (SPEC: 1.0, 1.0, 0.1, 0.3). A zero weight removes the term.
    mi_steps : int
        CLUB estimator updates per pre-training step (SPEC: 3).
    cpc_steps : int
        M2M CPC prediction steps ``N`` (SPEC: 2).
    pretrain_max_epochs, pretrain_batch_size, pretrain_lr, pretrain_weight_decay :
        Pre-training schedule (SPEC: 200, 512, 1e-4, 1e-4; Adam with cosine
        annealing over all steps).
    max_epochs, batch_size, lr, weight_decay :
        Fine-tuning schedule (SPEC: 200 epochs, Adam, cosine annealing).
        ``lr`` defaults to 1e-3, the middle of the reference's grid.
    freeze_encoder : bool
        Keep pre-trained weights frozen while fine-tuning (SPEC). False
        fine-tunes the encoder of the fitted modality too.
    encoder_dropout : bool
        Frozen encoders only. False (default): the frozen encoder runs in
        evaluation mode and its embeddings are computed once and cached, so
        fine-tuning only trains the head. True: the reference behaviour —
        dropout stays active in the frozen encoder, which runs again at every
        batch.
    early_stopping : bool
        Hold out ``validation_fraction`` of the training *groups* (trials),
        stop after ``n_iter_no_change`` epochs without a lower validation
        loss and keep the best epoch. Needs ``groups`` in ``fit`` (or Epochs
        metadata with trial columns): windows of one trial never straddle
        training and validation.
    validation_fraction : float
        Fraction of groups held out when ``early_stopping``.
    n_iter_no_change : int
        Patience of early stopping, in epochs.
    scale : bool
        Standardise each modality with statistics of the training windows
        (fitted in ``pretrain`` for pre-trained modalities, else in ``fit``).
    window : float | None
        Length in seconds of the feature windows. Epochs input: the windows
        every modality's epochs are cut into (one feature vector per window;
        all modalities share them so that they stay paired). None (default)
        uses the window recorded with the data (the paradigm records it in the
        Epochs metadata and on the feature dicts it returns), else 1 s. A value
        that disagrees with the data's recorded window raises a ValueError, as
        does data whose window differs from the one the estimator was trained on.
    modality_map : dict | None
        Epochs input: modality name -> MNE channel types (default
        :data:`~mne_m2s.modalities.DEFAULT_MODALITY_MAP`).
    feature_extractors : dict | None
        Epochs input: modality name -> scikit-learn transformer of Epochs
        (default: differential entropy for EEG, eye-movement and peripheral
        features).
    precision : {"float32", "bf16", "fp16"}
        Arithmetic of pre-training. ``"bf16"``: the forward pass and the
        losses run under CPU/GPU bfloat16 autocast (weights, optimiser state
        and gradients stay float32; faster on CPUs with AVX512-BF16 or AMX).
        ``"fp16"`` (CUDA only): float16 autocast with a gradient scaler
        (:class:`torch.amp.GradScaler`), for GPUs without bfloat16.
        Fine-tuning and prediction always run in float32.
    callbacks, pretrain_callbacks : list | None
        Extra skorch callbacks for fine-tuning / pre-training.
    device : str
        ``"auto"`` (CUDA, then MPS, then CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"`` or ``"mps"``. The device used is ``device_``.
    random_state : int | None
        Seeds every random draw of ``pretrain`` and ``fit`` (local to the
        call: the global random state is left as it was). Same seed, same
        CPU result.
    verbose : int
        0: silent; 1: progress bars; 2: also log every epoch.
    compile : bool
        Compile the ER encoders with :func:`torch.compile` for pre-training
        (opt-in: it has not been measured to pay off yet).
    checkpoint_dir : path-like | None
        Folder of a pre-training checkpoint written every
        ``checkpoint_every`` epochs (atomically; see :mod:`mne_m2s.checkpoint`).
    checkpoint_every : int
        Epochs between checkpoints.
    resume : bool
        Continue pre-training from the checkpoint in ``checkpoint_dir`` when
        there is one (same data, settings and number of processes); the
        result is that of an uninterrupted run (CPU).
    pretrained : PretrainedM2S | None
        Set by :meth:`pretrain` (or :meth:`PretrainedM2S.load`); kept by
        :func:`sklearn.base.clone` so each clone fine-tunes from the same
        pre-trained encoders.

    Attributes
    ----------
    classes_ : ndarray, shape (n_classes,)
        Class labels (event names for Epochs input).
    modality_ : str
        Modality ``fit`` was trained on.
    modalities_ : list of str
        Modalities ``predict`` accepts.
    encoders_ : dict of str -> torch.nn.Module
        Per modality: encoder followed by the projection (on ``device_``).
    head_ : torch.nn.Module
        The classifier head.
    specs_ : dict of str -> ModalitySpec
    scalers_ : dict of str -> StandardScaler | None
    history_ : skorch.History
        Fine-tuning history.
    device_ : torch.device
    n_features_in_ : int
        Features per window of the fitted modality.
    pretrained_ : PretrainedM2S | None
        The pre-trained encoders ``fit`` fine-tuned from (``pretrained``, or
        those a ``task``-fit pre-trained itself).
    window_ : float | None
        Window length (s) of the training data, when known.
    config_ : dict
        Architecture of the encoders in ``encoders_``.

    Examples
    --------
    >>> clf = M2SClassifier(task="eye->eeg")  # doctest: +SKIP
    >>> cross_val_score(clf, epochs_multi, y, groups=trials)  # doctest: +SKIP
    """


    def __init__(
        self,
        modality="auto",
        *,
        task=None,
        embedding_dim=128,
        attention="sts",
        n_layers=4,
        n_heads=4,
        head_dim=64,
        ffn_dim=1024,
        dropout=0.1,
        proj_dim=32,
        contrastive_weight=1.0,
        cpc_weight=1.0,
        recon_weight=0.1,
        club_weight=0.3,
        mi_steps=3,
        cpc_steps=2,
        pretrain_max_epochs=200,
        pretrain_batch_size=512,
        pretrain_lr=1e-4,
        pretrain_weight_decay=1e-4,
        max_epochs=200,
        batch_size=512,
        lr=1e-3,
        weight_decay=1e-4,
        freeze_encoder=True,
        encoder_dropout=False,
        early_stopping=False,
        validation_fraction=0.2,
        n_iter_no_change=20,
        scale=True,
        window=None,
        modality_map=None,
        feature_extractors=None,
        precision="float32",
        callbacks=None,
        pretrain_callbacks=None,
        compile=False,  # noqa: A002 - skorch's name for the same option
        checkpoint_dir=None,
        checkpoint_every=10,
        resume=False,
        device="auto",
        random_state=None,
        verbose=0,
        pretrained=None,
    ):
        self.modality = modality
        self.task = task
        self.embedding_dim = embedding_dim
        self.attention = attention
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.proj_dim = proj_dim
        self.contrastive_weight = contrastive_weight
        self.cpc_weight = cpc_weight
        self.recon_weight = recon_weight
        self.club_weight = club_weight
        self.mi_steps = mi_steps
        self.cpc_steps = cpc_steps
        self.pretrain_max_epochs = pretrain_max_epochs
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_lr = pretrain_lr
        self.pretrain_weight_decay = pretrain_weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.freeze_encoder = freeze_encoder
        self.encoder_dropout = encoder_dropout
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scale = scale
        self.window = window
        self.modality_map = modality_map
        self.feature_extractors = feature_extractors
        self.precision = precision
        self.callbacks = callbacks
        self.pretrain_callbacks = pretrain_callbacks
        self.compile = compile
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.resume = resume
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.pretrained = pretrained

    # ----------------------------------------------------------- validation
    def _check_params(self):
        """Validate the constructor parameters (errors name the parameter)."""
        check_type("modality", self.modality, str)
        if self.task is not None:
            parse_task(self.task)
        for name in ("embedding_dim", "n_layers", "n_heads", "head_dim", "ffn_dim", "proj_dim"):
            check_int(name, getattr(self, name), min_value=1)
        check_option("attention", self.attention, ("sts", "mha", "none"))
        check_float("dropout", self.dropout, 0.0, 1.0, inclusive=True)
        if self.dropout == 1.0:
            raise ValueError("dropout must be < 1, got 1.0.")
        for name in ("contrastive_weight", "cpc_weight", "recon_weight", "club_weight"):
            check_float(name, getattr(self, name), min_value=0.0)
        check_int("mi_steps", self.mi_steps, min_value=0)
        check_int("cpc_steps", self.cpc_steps, min_value=1)
        for name in ("pretrain_max_epochs", "pretrain_batch_size", "max_epochs", "batch_size"):
            check_int(name, getattr(self, name), min_value=1)
        for name in ("pretrain_lr", "lr"):
            check_float(name, getattr(self, name), min_value=0.0, inclusive=False)
        for name in ("pretrain_weight_decay", "weight_decay"):
            check_float(name, getattr(self, name), min_value=0.0)
        for name in ("freeze_encoder", "encoder_dropout", "early_stopping", "scale"):
            check_type(name, getattr(self, name), (bool, np.bool_), "bool")
        check_float("validation_fraction", self.validation_fraction, 0.0, 1.0, inclusive=False)
        check_int("n_iter_no_change", self.n_iter_no_change, min_value=1)
        check_float("window", self.window, 0.0, inclusive=False, allow_none=True)
        check_option("precision", self.precision, ("float32", "bf16", "fp16"))
        check_type("verbose", self.verbose, (int, np.integer), "int")
        check_float("verbose", float(self.verbose), min_value=0.0)
        if self.pretrained is not None:
            check_type("pretrained", self.pretrained, PretrainedM2S)
        for name in ("callbacks", "pretrain_callbacks"):
            check_type(name, getattr(self, name), (list, tuple, type(None)), "list or None")
        for name in ("modality_map", "feature_extractors"):
            check_type(name, getattr(self, name), (dict, type(None)), "dict or None")
        for name in ("compile", "resume"):
            check_type(name, getattr(self, name), (bool, np.bool_), "bool")
        check_int("checkpoint_every", self.checkpoint_every, min_value=1)
        if self.resume and self.checkpoint_dir is None:
            raise ValueError("resume=True needs checkpoint_dir, the folder of the checkpoint to "
                             "continue from.")

    def _config(self):
        return {k: getattr(self, k) for k in EMBEDDER_KEYS}

    def _read(self, X, *, fitting, known=None, extractors=None, window=None):
        """The input layer (:func:`mne_m2s.inputs.read_input`) with this estimator's settings."""
        return read_input(
            X,
            modality=self.modality,
            known=known,
            modality_map=self.modality_map or DEFAULT_MODALITY_MAP,
            extractors=extractors if extractors is not None else self.feature_extractors,
            fit_extractors=fitting,
            window=self.window if window is None else window,
        )

    # ------------------------------------------------------------- pretrain
    def pretrain(self, X, y=None):
        """Pre-train the encoders of every modality in ``X`` (SPEC.md §3).

        Parameters
        ----------
        X : mne.BaseEpochs | dict of str -> ndarray
            Unlabelled paired multimodal data with at least two modalities:
            Epochs with the channels of every modality, or
            ``{modality: (n_samples, n_windows, n_features)}`` (electrode
            modalities may be ``(n_samples, n_windows, n_chans, n_bands)``),
            all with the same ``n_samples`` and ``n_windows``.
        y : None
            Ignored.

        Returns
        -------
        self : M2SClassifier
            With ``pretrained`` set; fitted fine-tuning state is cleared.
        """
        # data-parallel inside a torch.distributed process group (mne_m2s.distributed): an
        # error of one rank is raised on every rank, so that none waits in a collective
        context = get_context()
        try:
            self._check_params()
            inputs = self._read(X, fitting=True)
            self._check_paired(inputs.data)
        except Exception as err:
            if context is None:
                raise
            context.raise_if_any(err)
        if context is not None:
            context.raise_if_any(None)
        self.pretrained = self._pretrain(inputs)
        self._reset_fitted()
        return self

    @staticmethod
    def _check_paired(data):
        if len(data) < 2:
            raise ValueError(
                f"pretrain needs paired data of at least 2 modalities, got {len(data)} "
                f"({', '.join(data) or 'none'}). Pass a dict such as "
                "{'eeg': X_eeg, 'eye': X_eye} or Epochs with channels of several modalities."
            )

    def _pretrain(self, inputs):
        """Pre-train on :class:`~mne_m2s.inputs.InputData`; returns a PretrainedM2S."""
        data = inputs.data
        self._check_paired(data)
        context = get_context()
        run_meta = self._pretrain_settings()  # what every rank and a resumed run must share
        if context is not None:
            check_ranks(context, data, run_meta)
        if context is not None or self.checkpoint_dir is not None:
            run_meta = dict(run_meta, world_size=1 if context is None else context.world_size,
                            data=data_fingerprint(data))
        specs = {m: ModalitySpec.from_array(m, a) for m, a in data.items()}
        scalers = {m: self._fit_scaler(a) for m, a in data.items()}
        data = {m: _apply_scaler(scalers[m], a) for m, a in data.items()}
        device = resolve_device(self.device)
        seed = check_random_state_seed(self.random_state)
        if context is not None:  # random_state=None: rank 0's draw, for every rank
            seed = context.gather_objects(seed)[0]
        config = self._config()
        weights = {
            "contrastive": self.contrastive_weight,
            "cpc": self.cpc_weight,
            "recon": self.recon_weight,
            "club": self.club_weight,
        }
        verbose = self.verbose if context is None or context.is_main else 0  # rank 0 reports
        old_level = set_log_level("INFO" if verbose >= 2 else None)
        try:
            network, history, settings = pretrain_network(
                data,
                config,
                weights=weights,
                cpc_steps=self.cpc_steps,
                mi_steps=self.mi_steps,
                max_epochs=self.pretrain_max_epochs,
                batch_size=self.pretrain_batch_size,
                lr=self.pretrain_lr,
                weight_decay=self.pretrain_weight_decay,
                device=device,
                seed=seed,
                callbacks=list(self.pretrain_callbacks or []),
                progress_bar=bool(verbose),
                # data-parallel / GPU speed / checkpoint options (mne_m2s.distributed, .checkpoint)
                context=context,
                precision=self.precision,
                compile=self.compile,
                checkpoint=(self.checkpoint_dir, self.checkpoint_every, self.resume, run_meta),
            )
        finally:
            set_log_level(old_level)
        self.device_ = device
        n, t = next(iter(data.values())).shape[:2]
        training = {
            "n_samples": int(n),
            "n_windows": int(t),
            "window": inputs.window,
            "scaled": bool(self.scale),
            "loss_weights": settings["weights"],
            "mi_steps": self.mi_steps,
            "max_epochs": self.pretrain_max_epochs,
            "batch_size": settings["batch_size"],
            "lr": self.pretrain_lr,
            "weight_decay": self.pretrain_weight_decay,
            "precision": self.precision,
        }
        return PretrainedM2S(
            network, specs, scalers, dict(config, cpc_steps=network.cpc.n_steps), history,
            extractors=inputs.extractors, training=training,
        )

    def _pretrain_settings(self):
        """Settings that every rank, and a resumed run, must share."""
        names = ("embedding_dim", "attention", "n_layers", "n_heads", "head_dim", "ffn_dim",
                 "dropout", "proj_dim", "contrastive_weight", "cpc_weight", "recon_weight",
                 "club_weight", "mi_steps", "cpc_steps", "pretrain_max_epochs",
                 "pretrain_batch_size", "pretrain_lr", "pretrain_weight_decay", "scale",
                 "window", "random_state", "precision")
        return {k: getattr(self, k) for k in names}

    def _fit_scaler(self, a):
        if not self.scale:
            return None
        return StandardScaler().fit(a.reshape(-1, int(np.prod(a.shape[2:]))))

    def _reset_fitted(self):
        for attr in _FITTED:
            self.__dict__.pop(attr, None)

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, groups=None):
        """Fine-tune on one modality (or train end to end without pre-trained encoders).

        Parameters
        ----------
        X : mne.BaseEpochs | dict | ndarray
            One modality: Epochs, ``{modality: array}`` with a single key, or
            an array ``(n_samples, n_windows, n_features)`` /
            ``(n_samples, n_features)``. With ``task``: multimodal Epochs or
            dict (pre-training uses every modality, fine-tuning the task's first).
        y : array-like, shape (n_samples,) | None
            Labels; None takes them from the Epochs' events (event names).
        groups : array-like, shape (n_samples,) | None
            Trial id of each sample, used for the validation split of
            ``early_stopping`` (taken from Epochs metadata when possible).

        Returns
        -------
        self : M2SClassifier
        """
        self._check_params()
        pre = self.pretrained
        task = parse_task(self.task) if self.task is not None else None
        inputs = self._read(
            X,
            fitting=pre is None or pre.extractors is None,
            known=pre.specs if pre is not None else None,
            extractors=pre.extractors if pre is not None else None,
        )
        if pre is not None and pre.window is not None:
            resolve_window(pre.window, inputs.window, "the data")
        data = inputs.data
        pretrain_here = False
        if task is not None:
            if len(data) > 1 or pre is None:
                missing = [m for m in task if m not in data]
                if missing:
                    raise ValueError(
                        f"task={self.task!r} needs modalities {list(task)} in X, but X has "
                        f"{list(data)} (missing {missing}). Pass multimodal X, or set task to "
                        "modalities X holds."
                    )
                pretrain_here = pre is None
                data = {task[0]: data[task[0]]}
            elif task[0] not in data:
                raise ValueError(
                    f"task={self.task!r} fine-tunes on {task[0]!r}, but X holds only "
                    f"{list(data)}."
                )
        if len(data) != 1:
            raise ValueError(
                f"fit trains on a single modality, got {len(data)}: {', '.join(data)}. "
                "Select one, e.g. fit({'eye': X_eye}, y) or epochs.copy().pick('eeg'), or set "
                "task='eye->eeg' to fit on multimodal input."
            )
        (modality, x), = data.items()
        y = inputs.y if y is None else y
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None. "
                "Pass labels, or Epochs whose events carry them."
            )
        groups = inputs.groups if groups is None else groups
        y = column_or_1d(np.asarray(y), warn=True)
        if y.dtype.kind in "fc":
            _assert_all_finite(y, input_name="y")
        check_classification_targets(y)
        if len(y) != len(x):
            raise ValueError(
                f"X and y have inconsistent numbers of samples: X has {len(x)}, y has {len(y)}."
            )
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, but the "
                f"data contain only one class: {encoder.classes_[0]!r}."
            )
        y_enc = encoder.transform(y).astype(np.int64)
        self._reset_fitted()
        if pretrain_here:  # task-fit: pre-train on every modality of X, from scratch
            pre = self._pretrain(inputs)
        device = resolve_device(self.device)
        seed = check_random_state_seed(self.random_state)
        spec = ModalitySpec.from_array(modality, x)
        if pre is not None:
            if modality not in pre.specs:
                raise ValueError(
                    f"No pre-trained encoder for modality {modality!r}; pre-trained "
                    f"modalities are {pre.modalities}."
                )
            pre.specs[modality].check_compatible(spec, "X")
            specs, scalers, config = dict(pre.specs), dict(pre.scalers), pre.config
        else:
            specs = {modality: spec}
            scalers = {modality: self._fit_scaler(x)}
            config = self._config()

        old_level = set_log_level("INFO" if self.verbose >= 2 else None)
        try:
            with seeded(seed, device):
                embedders = self._build_embedders(specs, config, pre, device)
                trainable = pre is None or not self.freeze_encoder
                for m, emb in embedders.items():
                    emb.requires_grad_(m == modality and trainable)
                head = ClassifierHead(config["proj_dim"], len(encoder.classes_))
                xs = _apply_scaler(scalers[modality], x)
                train_idx, valid_idx = self._validation_split(y_enc, groups, seed)
                history = self._train_head(
                    embedders, modality, head, xs, y_enc, train_idx, valid_idx,
                    trainable_encoder=trainable, device=device,
                )
        finally:
            set_log_level(old_level)
        for emb in embedders.values():
            emb.eval()
        self.classes_ = encoder.classes_
        self.modality_ = modality
        self.modalities_ = list(embedders)
        self.encoders_ = embedders
        self.head_ = head.eval()
        self.specs_ = specs
        self.scalers_ = scalers
        self.history_ = history
        self.device_ = device
        self.n_features_in_ = spec.n_features
        self.config_ = {k: config[k] for k in EMBEDDER_KEYS}
        self.pretrained_ = pre
        self.task_ = task
        self.window_ = inputs.window if inputs.window is not None else (
            pre.window if pre is not None else None)
        if pre is not None and pre.extractors is not None:
            self.extractors_ = pre.extractors
        elif inputs.extractors is not None:
            self.extractors_ = inputs.extractors
        return self

    @staticmethod
    def _build_embedders(specs, config, pre, device):
        """Encoder + projection per modality: the one path (``make_embedder``);
        pre-trained weights are loaded into it when ``pre`` is given."""
        embedders = {}
        for m, s in specs.items():
            emb = make_embedder(s.n_features, s.n_bands, config)
            if pre is not None:
                emb.load_state_dict(pre.network.embedder(m).state_dict())
            embedders[m] = emb.to(device)
        return embedders

    def _validation_split(self, y, groups, seed):
        n = len(y)
        if not self.early_stopping:
            return np.arange(n), None
        if groups is None:
            raise ValueError(
                "early_stopping=True needs groups (the trial of each sample) so that the "
                "validation split holds out whole trials: pass fit(X, y, groups=trial_ids), or "
                "Epochs whose metadata has 'subject', 'session' and 'run' columns."
            )
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries but X has {n} samples.")
        n_groups = len(np.unique(groups))
        n_splits = max(2, round(1.0 / self.validation_fraction))
        if n_groups < n_splits:
            raise ValueError(
                f"early_stopping with validation_fraction={self.validation_fraction} needs at "
                f"least {n_splits} groups (trials), got {n_groups}."
            )
        cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed % 2**32)
        train_idx, valid_idx = next(cv.split(np.zeros(n), y, groups))
        return train_idx, valid_idx

    def _train_head(self, embedders, modality, head, x, y, train_idx, valid_idx, *,
                    trainable_encoder, device):
        cache = not trainable_encoder and not self.encoder_dropout
        if cache:
            # Frozen encoder in evaluation mode: embeddings computed once.
            inputs = batched_forward(embedders[modality], x, device)
            module = head
        else:
            inputs = x
            module = FineTuneModule(embedders[modality], head, frozen=not trainable_encoder)
        valid = None
        if valid_idx is not None:
            valid = Dataset(inputs[valid_idx], y[valid_idx])
        net = make_classifier_net(
            module,
            n_samples=len(train_idx),
            lr=self.lr,
            weight_decay=self.weight_decay,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            device=device,
            valid_dataset=valid,
            patience=self.n_iter_no_change if valid is not None else None,
            callbacks=list(self.callbacks or []),
            progress_bar=bool(self.verbose),
        )
        net.fit(inputs[train_idx], y[train_idx])
        return net.history

    # -------------------------------------------------------------- predict
    def _test_inputs(self, X):
        """Read ``X`` for prediction; multimodal input with ``task`` -> its test modality."""
        check_is_fitted(self, "head_")
        inputs = self._read(
            X, fitting=False, known=self.specs_, extractors=getattr(self, "extractors_", None)
        )
        if self.window_ is not None and inputs.window is not None:
            resolve_window(self.window_, inputs.window, "the data")
        data = inputs.data
        task = getattr(self, "task_", None)
        if task is not None and len(data) > 1:
            if task[1] not in data:
                raise ValueError(
                    f"task={'->'.join(task)!r} predicts from {task[1]!r}, but X holds "
                    f"{list(data)}."
                )
            data = {task[1]: data[task[1]]}
        return data, inputs

    def _embed(self, X, method):
        data, _ = self._test_inputs(X)
        if len(data) != 1:
            raise ValueError(
                f"{method} expects a single modality, got {len(data)}: {', '.join(data)} "
                "(or set task='a->b' to predict from modality b of multimodal input)."
            )
        (modality, x), = data.items()
        if modality not in self.encoders_:
            raise ValueError(
                f"No encoder for modality {modality!r}: this estimator can use "
                f"{self.modalities_}. Pre-train with that modality to predict from it."
            )
        self.specs_[modality].check_compatible(
            ModalitySpec.from_array(modality, x), "X", estimator=type(self).__name__
        )
        x = _apply_scaler(self.scalers_[modality], x)
        return batched_forward(self.encoders_[modality], x, self.device_)

    def transform(self, X):
        """Shared-space features ``ReLU(Linear(E, proj_dim)(mean_t z))``.

        Parameters
        ----------
        X : mne.BaseEpochs | dict | ndarray
            One modality among :attr:`modalities_` (with ``task``: multimodal
            input, of which the test modality is used).

        Returns
        -------
        features : ndarray, shape (n_samples, proj_dim)
        """
        return self._embed(X, "transform")

    def predict_proba(self, X):
        """Class probabilities, columns ordered as :attr:`classes_`.

        Parameters
        ----------
        X : mne.BaseEpochs | dict | ndarray
            One modality among :attr:`modalities_` (cross-modal prediction
            through that modality's encoder); with ``task``: multimodal input,
            of which the test modality is used.

        Returns
        -------
        proba : ndarray, shape (n_samples, n_classes)
        """
        f = self._embed(X, "predict_proba")
        logits = batched_forward(self.head_, f, self.device_)
        logits = logits.astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted labels (original labels, e.g. event names).

        Parameters
        ----------
        X : mne.BaseEpochs | dict | ndarray

        Returns
        -------
        y_pred : ndarray, shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y=None, sample_weight=None):
        """Accuracy on ``X`` (labels from Epochs events when ``y`` is None)."""
        if y is None:
            y = self._test_inputs(X)[1].y if hasattr(self, "head_") else None
            if y is None:
                raise ValueError("score needs y, or Epochs whose events carry the labels.")
        return super().score(X, y, sample_weight=sample_weight)

    # ----------------------------------------------------------- persistence
    def __getstate__(self):
        state = self.__dict__.copy()
        # torch modules may live on a GPU: pickle CPU copies so the estimator
        # loads on any machine; ``device_`` is re-resolved when unpickled.
        for key in ("encoders_", "head_"):
            if key in state:
                state[key] = _modules_to_cpu(state[key])
        state["_saved_device"] = str(state.pop("device_", "cpu"))
        return state

    def __setstate__(self, state):
        saved = state.pop("_saved_device", "cpu")
        self.__dict__.update(state)
        if "head_" in state:
            try:
                self._move_to(resolve_device(saved))
            except ValueError:
                from .utils._logging import logger

                logger.warning("Device %s is not available here; using the CPU.", saved)
                self._move_to(torch.device("cpu"))

    def _move_to(self, device):
        self.device_ = device
        if hasattr(self, "encoders_"):
            self.encoders_ = {m: e.to(device) for m, e in self.encoders_.items()}
            self.head_ = self.head_.to(device)
        return self

    def save(self, path):
        """Save the whole estimator (pre-trained encoders included) to a model file.

        The file holds tensors (safetensors) and JSON only, so loading it runs
        no code from it; it is written atomically (no partial file on failure).
        Callbacks are not saved.

        Parameters
        ----------
        path : path-like
            File to write, e.g. ``"model.m2s"``.
        """
        save_classifier(self, path)

    @classmethod
    def load(cls, path, device="auto"):
        """Load an estimator saved by :meth:`save` (nothing in the file runs).

        Parameters
        ----------
        path : path-like
        device : str
            Device to move the fitted modules to (``"auto"``, ``"cpu"`` …);
            works on CPU-only machines whatever device the model was saved from.

        Returns
        -------
        clf : M2SClassifier
        """
        return load_classifier(cls, path, device)

    def __sklearn_is_fitted__(self):
        return hasattr(self, "head_")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.dict = True
        # transform returns float32 shared-space features whatever the input dtype
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def _modules_to_cpu(obj):
    """Deep copy of a module (or a dict of modules) on the CPU."""
    import copy

    if isinstance(obj, dict):
        return {k: _modules_to_cpu(v) for k, v in obj.items()}
    return copy.deepcopy(obj).to("cpu")


def _apply_scaler(scaler, a):
    if scaler is None:
        return np.ascontiguousarray(a, dtype=np.float32)
    shape = a.shape
    out = scaler.transform(a.reshape(-1, int(np.prod(shape[2:]))))
    return np.ascontiguousarray(out.reshape(shape), dtype=np.float32)


__all__ = ["EXPECTED_FAILED_CHECKS", "M2SClassifier", "NotFittedError", "PretrainedM2S",
           "parse_task"]
