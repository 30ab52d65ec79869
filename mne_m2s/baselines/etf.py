"""ETF: emotion transformer fusion of EEG and eye movements (Wang, Jiang, Lu, BIBM 2021)."""

import math

import torch
from torch import nn

from ..utils._checks import check_float, check_int
from ._common import MultimodalBaseline


def sinusoidal_positions(n, dim, device):
    """Sinusoidal position encodings, shape (n, dim)."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32)
                     * (-math.log(10000.0) / dim))
    pe = torch.zeros(n, dim, device=device)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, : dim // 2]
    return pe


def transformer(d_model, n_heads, n_layers, ffn_dim, dropout):
    """Post-norm transformer encoder (batch first)."""
    layer = nn.TransformerEncoderLayer(d_model, n_heads, ffn_dim, dropout, batch_first=True)
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)


class ETFNetwork(nn.Module):
    """Per-modality temporal transformers, a fusion transformer over all tokens, a linear head.

    Parameters
    ----------
    n_features : dict of str -> int
    n_classes : int
    d_model, n_heads, n_layers, fusion_layers, ffn_dim, dropout :
        Transformer settings.
    """

    def __init__(self, n_features, n_classes, d_model=64, n_heads=4, n_layers=2, fusion_layers=2,
                 ffn_dim=128, dropout=0.1):
        super().__init__()
        self.names = list(n_features)
        self.embed = nn.ModuleDict({m: nn.Linear(d, d_model) for m, d in n_features.items()})
        self.type_embed = nn.ParameterDict({m: nn.Parameter(torch.zeros(d_model))
                                            for m in self.names})
        self.encoders = nn.ModuleDict({m: transformer(d_model, n_heads, n_layers, ffn_dim,
                                                      dropout) for m in self.names})
        self.fusion = transformer(d_model, n_heads, fusion_layers, ffn_dim, dropout)
        self.head = nn.Linear(d_model, n_classes)

    def forward(self, **x):
        """Parameters: ``name=(batch, T, ...)`` per modality. Returns logits (batch, n_classes)."""
        tokens = []
        for m in self.names:
            h = self.embed[m](x[m].flatten(2))
            h = h + sinusoidal_positions(h.shape[1], h.shape[2], h.device)
            tokens.append(self.encoders[m](h) + self.type_embed[m])
        fused = self.fusion(torch.cat(tokens, dim=1))
        return self.head(fused.mean(dim=1))


class ETFClassifier(MultimodalBaseline):
    """Emotion transformer fusion (ETF) as a supervised multimodal system.

    Parameters
    ----------
    d_model, n_heads, n_layers, fusion_layers, ffn_dim, dropout :
        Transformer settings.
    max_epochs, batch_size, lr, weight_decay :
        Training schedule.
    scale, device, random_state, verbose :
        As :class:`~mne_m2s.baselines.BDAEClassifier`.

    Notes
    -----
    **Fidelity note — source.** Wang, Jiang, Lu, "Emotion transformer
    fusion: complementary representation properties of EEG and eye
    movements on recognizing anger and surprise", IEEE BIBM 2021 (abstract on
    OpenReview; the full text was not available).

    **As published (from the abstract).** A multimodal fusion model "based
    on pure attention mechanism" (transformer, no recurrent or convolutional
    layers) over EEG and eye-movement features, compared with baseline
    fusion models on the authors' anger / surprise / neutral dataset.

    **Implemented (closest documented version).** Every modality: a linear
    token embedding of each window, sinusoidal positions, a post-norm
    transformer encoder over the ``T`` windows (intra-modality attention);
    fusion: the tokens of all modalities, each with a learned modality-type
    embedding, through a second transformer encoder (attention across
    modalities and windows); mean pooling and a linear classifier. Pure
    attention, as the paper states.

    **Not found.** Layer counts, widths and the training schedule of the
    paper; ``d_model=64, n_heads=4, n_layers=2, fusion_layers=2,
    ffn_dim=128, dropout=0.1`` are chosen here; the schedule is the M2S
    fine-tuning one (Adam, lr 1e-3, weight decay 1e-4, cosine, 200 epochs,
    batch 512).
    """

    def __init__(self, d_model=64, n_heads=4, n_layers=2, fusion_layers=2, ffn_dim=128,
                 dropout=0.1, *, max_epochs=200, batch_size=512, lr=1e-3, weight_decay=1e-4,
                 scale=True, device="auto", random_state=None, verbose=0):
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.fusion_layers = fusion_layers
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
        for name in ("d_model", "n_heads", "n_layers", "fusion_layers", "ffn_dim"):
            check_int(name, getattr(self, name), min_value=1)
        if self.d_model % self.n_heads or self.d_model % 2:
            raise ValueError(f"d_model ({self.d_model}) must be even and a multiple of n_heads "
                             f"({self.n_heads}).")
        check_float("dropout", self.dropout, 0.0, 1.0, inclusive=True)

    def _build_module(self, specs, n_classes):
        return ETFNetwork({m: s.n_features for m, s in specs.items()}, n_classes, self.d_model,
                          self.n_heads, self.n_layers, self.fusion_layers, self.ffn_dim,
                          self.dropout)


__all__ = ["ETFClassifier", "ETFNetwork"]
