"""VigilanceNet: outer-product embedding, intra-modality encoders, cross-modal transformer."""

import torch
from torch import nn

from ..utils._checks import check_float, check_int, check_type
from ._common import MultimodalBaseline
from .etf import sinusoidal_positions, transformer


class OuterProductEmbedding(nn.Module):
    """Second-order window embedding ``Linear(k * k, d)(vec(p p^T))``, ``p = Linear(D, k)(x)``.

    Parameters
    ----------
    n_features : int
    rank : int
        ``k``: size of the vector whose outer product is taken.
    d_model : int
    """

    def __init__(self, n_features, rank, d_model):
        super().__init__()
        self.reduce = nn.Linear(n_features, rank)
        self.out = nn.Linear(rank * rank, d_model)

    def forward(self, x):
        """Parameters: x, shape (batch, T, D). Returns (batch, T, d_model)."""
        p = self.reduce(x)
        return self.out((p[..., :, None] * p[..., None, :]).flatten(-2))


class CrossModalBlock(nn.Module):
    """Target tokens attend to source tokens: ``LN(h + MHA(h, s, s))``, then ``LN(h + FFN(h))``."""

    def __init__(self, d_model, n_heads, ffn_dim, dropout):
        super().__init__()
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(d_model)
        self.ffn = nn.Sequential(nn.Linear(d_model, ffn_dim), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(ffn_dim, d_model), nn.Dropout(dropout))
        self.norm2 = nn.LayerNorm(d_model)
        self.drop = nn.Dropout(dropout)

    def forward(self, h, s):
        """Parameters: h (batch, Tt, d), s (batch, Ts, d). Returns (batch, Tt, d)."""
        h = self.norm1(h + self.drop(self.attn(h, s, s, need_weights=False)[0]))
        return self.norm2(h + self.ffn(h))


class VigilanceNetwork(nn.Module):
    """Per-modality embedding (outer product for ``outer_product`` modalities), intra-modality
    transformers, cross-modal transformer blocks for every ordered modality pair, linear head."""

    def __init__(self, n_features, n_classes, outer_product=("eye",), rank=16, d_model=64,
                 n_heads=4, n_layers=1, cross_layers=1, ffn_dim=128, dropout=0.1):
        super().__init__()
        self.names = list(n_features)
        self.embed = nn.ModuleDict({
            m: OuterProductEmbedding(d, rank, d_model) if m in outer_product
            else nn.Linear(d, d_model)
            for m, d in n_features.items()
        })
        self.intra = nn.ModuleDict({m: transformer(d_model, n_heads, n_layers, ffn_dim, dropout)
                                    for m in self.names})
        self.pairs = [(a, b) for a in self.names for b in self.names if a != b]
        self.cross = nn.ModuleDict({
            f"{a}<-{b}": nn.ModuleList([CrossModalBlock(d_model, n_heads, ffn_dim, dropout)
                                        for _ in range(cross_layers)])
            for a, b in self.pairs
        })
        self.head = nn.Linear(d_model * len(self.pairs), n_classes)

    def forward(self, **x):
        """Parameters: ``name=(batch, T, ...)`` per modality. Returns logits (batch, n_classes)."""
        h = {}
        for m in self.names:
            e = self.embed[m](x[m].flatten(2))
            h[m] = self.intra[m](e + sinusoidal_positions(e.shape[1], e.shape[2], e.device))
        pooled = []
        for a, b in self.pairs:
            t = h[a]
            for blk in self.cross[f"{a}<-{b}"]:
                t = blk(t, h[b])
            pooled.append(t.mean(dim=1))
        return self.head(torch.cat(pooled, dim=-1))


class VigilanceNetClassifier(MultimodalBaseline):
    """VigilanceNet as a supervised multimodal emotion classifier.

    Parameters
    ----------
    outer_product : tuple of str
        Modalities embedded by the outer product.
    rank, d_model, n_heads, n_layers, cross_layers, ffn_dim, dropout :
        Architecture settings.
    max_epochs, batch_size, lr, weight_decay :
        Training schedule.
    scale, device, random_state, verbose :
        As :class:`~mne_m2s.baselines.BDAEClassifier`.

    Notes
    -----
    **Fidelity note — source.** Cheng et al., VigilanceNet, IEEE SMC 2022, as cited by the
    M2S paper (the full text was not available here; the design follows its
    published description: outer-product embedding of eye / EOG features,
    intra-modality representation learning, a cross-modal transformer).

    **Implemented.** Every window of an ``outer_product`` modality (eye
    movements by default) is embedded by the outer product of a learned
    low-rank projection with itself (second-order interactions between its
    features, :class:`OuterProductEmbedding`); other modalities by a linear
    layer. Intra-modality learning: a transformer encoder over the windows
    of each modality. Inter-modality learning: cross-modal transformer
    blocks in which each modality's tokens attend to the other's (both
    directions, :class:`CrossModalBlock`); the pooled outputs are
    concatenated and classified linearly.

    **Adapted.** The published model regresses a continuous vigilance
    level; here the output layer gives class logits trained with
    cross-entropy (the M2S paper uses it for emotion classification).
    Widths, depths and the outer-product rank of the paper were not
    available: ``rank=16, d_model=64, n_heads=4, n_layers=1,
    cross_layers=1, ffn_dim=128, dropout=0.1`` are chosen here; the
    schedule is the M2S fine-tuning one (Adam, lr 1e-3, weight decay 1e-4,
    cosine, 200 epochs, batch 512).
    """

    def __init__(self, outer_product=("eye",), rank=16, d_model=64, n_heads=4, n_layers=1,
                 cross_layers=1, ffn_dim=128, dropout=0.1, *, max_epochs=200, batch_size=512,
                 lr=1e-3, weight_decay=1e-4, scale=True, device="auto", random_state=None,
                 verbose=0):
        self.outer_product = outer_product
        self.rank = rank
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.cross_layers = cross_layers
        self.ffn_dim = ffn_dim
        self.dropout = dropout
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.scale = scale
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self):
        self._validate_common()
        check_type("outer_product", self.outer_product, (tuple, list), "tuple of str")
        for name in ("rank", "d_model", "n_heads", "n_layers", "cross_layers", "ffn_dim"):
            check_int(name, getattr(self, name), min_value=1)
        if self.d_model % self.n_heads or self.d_model % 2:
            raise ValueError(f"d_model ({self.d_model}) must be even and a multiple of n_heads "
                             f"({self.n_heads}).")
        check_float("dropout", self.dropout, 0.0, 1.0, inclusive=True)

    def _build_module(self, specs, n_classes):
        unknown = [m for m in self.outer_product if m not in specs]
        if unknown:
            raise ValueError(
                f"outer_product names modalities {unknown} absent from X (modalities "
                f"{list(specs)}); set outer_product to the eye / EOG modality."
            )
        return VigilanceNetwork({m: s.n_features for m, s in specs.items()}, n_classes,
                                tuple(self.outer_product), self.rank, self.d_model,
                                self.n_heads, self.n_layers, self.cross_layers, self.ffn_dim,
                                self.dropout)


__all__ = ["OuterProductEmbedding", "VigilanceNetClassifier", "VigilanceNetwork"]
