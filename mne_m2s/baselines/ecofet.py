"""ECO-FET: EEG-assisted contrastive learning with a functional emotion transformer."""

import numpy as np
import torch
from torch import nn

from ..nn.encoders import ModalityEmbedder, Projection
from ..nn.losses import ContrastiveLoss
from ..utils._checks import check_float, check_int, check_option, check_type
from ._common import (
    CrossModalBaseline,
    adam_with_cosine,
    m2s_embedder,
    steps_per_epoch,
    train_loop,
    validate_m2s_encoder_params,
)


def functional_connectivity(x, eps=1e-6):
    """Absolute Pearson correlation between electrodes, row-normalised.

    Parameters
    ----------
    x : Tensor, shape (batch, T, C, B)
        Band features of every electrode and window.

    Returns
    -------
    adjacency : Tensor, shape (batch, C, C)
        ``|corr(c, c')|`` over the ``T * B`` values of each electrode, every
        row divided by its sum.
    """
    v = x.permute(0, 2, 1, 3).flatten(2)  # (batch, C, T * B)
    v = v - v.mean(dim=-1, keepdim=True)
    v = v / (v.norm(dim=-1, keepdim=True) + eps)
    a = (v @ v.transpose(1, 2)).abs()
    return a / (a.sum(dim=-1, keepdim=True) + eps)


class FunctionalEmotionEncoder(nn.Module):
    """ECO-FET EEG encoder: spectral-spatial-temporal transformer + connectivity graph.

    ``z = ER(x) + Linear(g, E)(mean_c ReLU(A x_t W))`` per window, with ``ER``
    the M2S emotion-related encoder (STS attention: electrodes attend to each
    other within a window, keys/values sparse over time) and ``A`` the
    sample's functional connectivity (:func:`functional_connectivity`).

    Parameters
    ----------
    er_encoder : EREncoder
        Electrode-form M2S encoder (``n_bands`` set).
    n_bands : int
    embedding_dim : int
    graph_dim : int
        Width of the graph branch.
    """

    def __init__(self, er_encoder, n_bands, embedding_dim, graph_dim=32):
        super().__init__()
        self.er = er_encoder
        self.n_bands = n_bands
        self.graph_in = nn.Linear(n_bands, graph_dim)
        self.graph_out = nn.Linear(graph_dim, embedding_dim)

    def forward(self, x):
        """Parameters: x, shape (batch, T, C, B) or (batch, T, C * B). Returns (batch, T, E)."""
        n, t = x.shape[:2]
        xe = x.reshape(n, t, -1, self.n_bands)
        adjacency = functional_connectivity(xe)  # (batch, C, C)
        g = torch.einsum("ncd,ntdg->ntcg", adjacency, self.graph_in(xe)).relu()
        return self.er(x) + self.graph_out(g.mean(dim=2))


class ECOFET(CrossModalBaseline):
    """ECO-FET: contrastive EEG-eye pre-training, classification from few labelled samples.

    Parameters
    ----------
    classifier : {"prototype", "head"}
        Prototype (few-label test phase) or trained M2S head.
    connectivity_modality : str
        Modality encoded by the functional emotion transformer (``"eeg"``).
    graph_dim : int
        Width of the functional-connectivity graph branch.
    require_connectivity : bool
        Raise if ``connectivity_modality`` has no electrode layout
        ``(n, T, C, B)`` (else it is encoded without the graph branch and a
        warning is logged).
    prototype_scale : float
        Inverse temperature of the prototype classifier.
    proj_dim : int
        Size of the shared space (SPEC: 32).
    embedding_dim, attention, n_layers, n_heads, head_dim, ffn_dim, dropout :
        M2S encoder settings.
    pretrain_max_epochs, pretrain_batch_size, pretrain_lr, pretrain_weight_decay :
        Contrastive pre-training schedule (Adam, cosine).
    max_epochs, batch_size, lr, weight_decay, head_hidden :
        Fine-tuning of the head (``classifier="head"``).
    scale, device, random_state, verbose, pretrained :
        As :class:`~mne_m2s.baselines.BDAERegressor`.

    Attributes
    ----------
    prototypes_ : ndarray, shape (n_classes, proj_dim)
        ``classifier="prototype"``: unit-norm class prototypes.

    Notes
    -----
    **Fidelity note — source.** W.-B. Jiang, Z. Li, W.-L. Zheng, B.-L. Lu, "Functional emotion
    transformer for EEG-assisted cross-modal emotion recognition", ICASSP
    2024 (doi:10.1109/ICASSP48485.2024.10446937).

    **As published (from the abstract; the full text was not available).**
    Pre-training on unlabelled paired EEG and eye movements that contrasts
    the two modalities' emotional latent representations; an EEG encoder (the
    functional emotion transformer, FET) using both the functional brain
    connectivity and the spectral-spatial-temporal domain of EEG; a test phase
    in which eye movements are classified with the help of a few labelled EEG
    samples; an optional fine-tuning phase.

    **Implemented (closest documented version).** EEG encoder: the M2S
    emotion-related encoder (STS attention across electrodes within a window,
    temporally sparse keys/values: the spectral-spatial-temporal part) plus a
    functional-connectivity graph branch (per-sample ``|Pearson|``
    correlation between electrodes as the adjacency of one graph
    convolution), summed per window (:class:`FunctionalEmotionEncoder`); any
    other modality: the M2S encoder. Projection ``ReLU(Linear(E, proj_dim)(mean_t
    z))`` and the symmetric InfoNCE of the M2S CLIP baseline
    (:class:`~mne_m2s.nn.losses.ContrastiveLoss`, learnable temperature).
    ``classifier="prototype"`` (default) is the test phase with few labelled
    samples: the labelled samples of the fine-tune modality give one
    prototype per class (mean of L2-normalised features) and a sample of any
    modality is classified by cosine similarity to the prototypes (softmax
    over ``prototype_scale * cos``); ``classifier="head"`` is the fine-tuning
    phase as the M2S paper runs its baselines (frozen encoders, M2S head).

    **Adapted / not found.** The FET's exact layer layout, the way the
    connectivity enters the attention, and the paper's hyper-parameters
    were not available; the graph branch, its width ``graph_dim=32`` and
    ``prototype_scale=10`` are this implementation's choices. Without an
    electrode layout (3-D EEG input) the graph branch is omitted (and a
    ``ValueError`` says so if ``connectivity=True`` is required by
    ``require_connectivity``). Encoder settings and schedules default to the
    M2S values (SPEC.md §3-4), the M2S paper's fairness rule.
    """

    def __init__(self, classifier="prototype", connectivity_modality="eeg", graph_dim=32,
                 require_connectivity=False, prototype_scale=10.0, proj_dim=32, *,
                 embedding_dim=128, attention="sts", n_layers=4, n_heads=4, head_dim=64,
                 ffn_dim=1024, dropout=0.1, pretrain_max_epochs=200, pretrain_batch_size=512,
                 pretrain_lr=1e-4, pretrain_weight_decay=1e-4, max_epochs=200, batch_size=512,
                 lr=1e-3, weight_decay=1e-4, head_hidden=128, scale=True, device="auto",
                 random_state=None, verbose=0, pretrained=None):
        self.classifier = classifier
        self.connectivity_modality = connectivity_modality
        self.graph_dim = graph_dim
        self.require_connectivity = require_connectivity
        self.prototype_scale = prototype_scale
        self.proj_dim = proj_dim
        self.embedding_dim = embedding_dim
        self.attention = attention
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.pretrain_max_epochs = pretrain_max_epochs
        self.pretrain_batch_size = pretrain_batch_size
        self.pretrain_lr = pretrain_lr
        self.pretrain_weight_decay = pretrain_weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.head_hidden = head_hidden
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.pretrained = pretrained

    def _check_params(self):
        self._validate_common()
        check_option("classifier", self.classifier, ("prototype", "head"))
        check_type("connectivity_modality", self.connectivity_modality, str)
        check_int("graph_dim", self.graph_dim, min_value=1)
        check_int("proj_dim", self.proj_dim, min_value=1)
        check_type("require_connectivity", self.require_connectivity, (bool, np.bool_), "bool")
        check_float("prototype_scale", self.prototype_scale, min_value=0.0, inclusive=False)
        check_float("pretrain_weight_decay", self.pretrain_weight_decay, min_value=0.0)
        validate_m2s_encoder_params(self)
        self._check_pretrained()

    def _make_embedder(self, spec):
        base = m2s_embedder(spec, self.proj_dim, self)
        if spec.name != self.connectivity_modality:
            return base
        if not spec.electrode:
            msg = (f"ECOFET: modality {spec.name!r} has no electrode layout (give it as "
                   "(n_samples, n_windows, n_chans, n_bands)); it is encoded without the "
                   "functional-connectivity branch.")
            if self.require_connectivity:
                raise ValueError(msg)
            from ..utils._logging import logger

            logger.warning(msg)
            return base
        fet = FunctionalEmotionEncoder(base.encoder, spec.n_bands, self.embedding_dim,
                                       self.graph_dim)
        return ModalityEmbedder(fet, Projection(self.embedding_dim, self.proj_dim))

    def _pretrain_maps(self, data, specs, device):
        names = list(data)
        embedders = nn.ModuleDict({m: self._make_embedder(specs[m]) for m in names})
        loss_fn = ContrastiveLoss(0.07)
        model = nn.ModuleDict({"embedders": embedders, "loss": loss_fn}).to(device)
        tensors = {m: torch.as_tensor(a, device=device) for m, a in data.items()}
        n = len(next(iter(tensors.values())))
        n_steps = self.pretrain_max_epochs * steps_per_epoch(n, self.pretrain_batch_size)
        opt, sched = adam_with_cosine(model.parameters(), self.pretrain_lr,
                                      self.pretrain_weight_decay, n_steps)

        def step(idx):
            loss = loss_fn([embedders[m](tensors[m][idx]) for m in names])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            return {"contrastive": loss.item()}

        model.train()
        history = train_loop(step, n, max_epochs=self.pretrain_max_epochs,
                             batch_size=self.pretrain_batch_size, device=device,
                             desc="ECO-FET contrastive", verbose=int(self.verbose))
        return dict(embedders.items()), {"contrastive": history}, {}

    def _fit_classifier(self, feats, y, n_classes, device):
        if self.classifier == "head":
            return super()._fit_classifier(feats, y, n_classes, device)
        e = feats / (np.linalg.norm(feats, axis=1, keepdims=True) + 1e-8)
        protos = np.stack([e[y == k].mean(axis=0) for k in range(n_classes)])
        self.prototypes_ = protos / (np.linalg.norm(protos, axis=1, keepdims=True) + 1e-8)
        self.history_ = []

    def _logits(self, feats):
        if self.classifier == "head":
            return super()._logits(feats)
        e = feats / (np.linalg.norm(feats, axis=1, keepdims=True) + 1e-8)
        return self.prototype_scale * e @ self.prototypes_.T


__all__ = ["ECOFET", "FunctionalEmotionEncoder", "functional_connectivity"]
