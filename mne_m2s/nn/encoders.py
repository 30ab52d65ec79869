"""Encoders and decoders of M2S (SPEC.md §3.1, §3.3, §3.4).

* :class:`EREncoder` — emotion-related encoder, electrode form (post-norm
  transformer blocks of width ``C * B`` with STS attention, then
  ``Linear(C * B, E)``) or vector form (``Linear(D, E)`` then post-norm
  transformer blocks of width ``E`` with attention over windows).
* :class:`EIEncoder` — emotion-independent encoder, ``Linear(D, 128) -> ReLU``.
* :class:`Decoder` — reconstruction from ``z`` and ``u``.
* :class:`Projection` — ``ReLU(Linear(E, 32)(mean_t z))``: the contrastive
  projection (without its L2 normalisation), which is also the fine-tuning
  feature (SPEC.md §4).
"""

import torch
from torch import nn

from ._dropout import Dropout, linear_relu_keep
from ._kernels import fast_dropout_supported
from ._linear import Linear, linear
from .attention import STSAttention, WindowAttention


class FeedForward(nn.Sequential):
    """``Linear(width, hidden) -> ReLU -> Dropout -> Linear(hidden, width) -> Dropout``.

    In training mode on the CPU, the first linear layer, ReLU and the first
    dropout run as one step that saves only the layer's input and the
    step's output (:func:`~mne_m2s.nn._dropout.linear_relu_keep`: oneDNN's
    product and the compiled dropout kernel applied in place on it, else
    :class:`~mne_m2s.nn._kernels.ReLUMask`), and
    the ``1 / (1 - p)`` of inverted dropout scales the second linear layer's
    weight instead of the hidden activations: the same function (up to
    floating-point rounding) and the same mask draw as the unfused modules,
    with two fewer hidden-sized tensors kept for the backward pass and one
    fewer pass over them in each direction.
    """

    def __init__(self, width, hidden=1024, dropout=0.1):
        super().__init__(
            Linear(width, hidden),
            nn.ReLU(),
            Dropout(dropout),
            Linear(hidden, width),
            Dropout(dropout),
        )

    def forward(self, x):
        """Parameters: x, shape (..., width). Returns the same shape."""
        lin1, relu, drop1, lin2, drop2 = self
        p = drop1.p
        if drop1.training and p > 0 and fast_dropout_supported(x, p):
            # relu and a {0, 1} mask here, the 1 / (1 - p) folded into the weight
            h = linear_relu_keep(x, lin1.weight, lin1.bias, p)
            out = linear(h, lin2.weight * (1.0 / (1.0 - p)), lin2.bias)
        else:
            out = lin2(drop1(relu(lin1(x))))
        return drop2(out)


class PostNormBlock(nn.Module):
    """Post-norm transformer block.

    ``h = LN(h + Dropout(attn(h)))`` (skipped when ``attention`` is None), then
    ``h = LN(h + FFN(h))``.

    Parameters
    ----------
    width : int
    attention : nn.Module | None
        Maps ``(batch, T, width)`` to the same shape.
    ffn_dim : int
    dropout : float
    """

    def __init__(self, width, attention, ffn_dim=1024, dropout=0.1):
        super().__init__()
        self.attention = attention
        if attention is not None:
            self.attn_dropout = Dropout(dropout)
            self.norm1 = nn.LayerNorm(width)
        self.ffn = FeedForward(width, ffn_dim, dropout)
        self.norm2 = nn.LayerNorm(width)

    def forward(self, h):
        """Parameters: h, shape (batch, T, width). Returns the same shape."""
        if self.attention is not None:
            h = self.norm1(h + self.attn_dropout(self.attention(h)))
        return self.norm2(h + self.ffn(h))


def _make_attention(kind, width, n_bands, n_heads, head_dim, dropout):
    if kind == "sts":
        # The block drops the attention output (``h + Dropout(STS(h))``); the
        # reference's STS module has no output dropout of its own, so none here
        # (passing ``dropout`` on would drop about 19 % of the residual, not 10 %).
        return STSAttention(n_bands, n_heads=n_heads, head_dim=head_dim, dropout=0.0)
    if kind == "mha":
        return WindowAttention(width, n_heads=n_heads, head_dim=head_dim, dropout=dropout)
    return None


class EREncoder(nn.Module):
    """Emotion-related encoder of one modality.

    Parameters
    ----------
    n_features : int
        Features per window ``D`` (``C * B`` for an electrode modality).
    embedding_dim : int
        Output size ``E`` (SPEC: 128).
    n_bands : int | None
        Bands per electrode ``B``: an electrode modality, encoded by blocks of
        width ``D`` with ``attention`` across electrodes. None: a vector
        modality, encoded by ``Linear(D, E)`` then blocks of width ``E`` with
        self-attention over windows.
    attention : {"sts", "mha", "none"}
        Electrode modalities only: STS attention, ordinary multi-head
        self-attention over windows (width ``D``, ``n_heads x head_dim``) or
        no attention sub-layer.
    n_layers, n_heads, head_dim, ffn_dim, dropout :
        Transformer settings (SPEC: 4, 4, 64, 1024, 0.1). Vector modalities use
        ``head_dim = E / n_heads`` like a standard transformer layer.

    Notes
    -----
    Dropout sites, each at rate ``dropout`` (those of the reference):

    * every block: the attention output before the residual sum
      (``h + Dropout(attn(h))``) and the feed-forward network's two
      (after the ReLU and after the second linear layer);
    * STS attention (electrode modalities): nothing more — the reference's
      STS module has no output dropout of its own;
    * ordinary multi-head attention over windows (vector modalities and the
      ``"mha"`` ablation): also on the attention weights, the semantics of a
      standard transformer layer (:class:`torch.nn.TransformerEncoderLayer`,
      which the reference uses for these encoders).

    Only the ``n_layers`` blocks are registered (the reference also registered
    the template block it copied, about a million parameters that never
    receive a gradient).
    """

    def __init__(
        self,
        n_features,
        embedding_dim=128,
        n_bands=None,
        attention="sts",
        n_layers=4,
        n_heads=4,
        head_dim=64,
        ffn_dim=1024,
        dropout=0.1,
    ):
        super().__init__()
        self.electrode = n_bands is not None
        if self.electrode:
            self.input_proj = None
            width = n_features
            blocks = [
                PostNormBlock(
                    width,
                    _make_attention(attention, width, n_bands, n_heads, head_dim, dropout),
                    ffn_dim,
                    dropout,
                )
                for _ in range(n_layers)
            ]
            self.output_proj = Linear(width, embedding_dim)
        else:
            self.input_proj = Linear(n_features, embedding_dim)
            width = embedding_dim
            blocks = [
                PostNormBlock(
                    width, WindowAttention(width, n_heads, None, dropout), ffn_dim, dropout
                )
                for _ in range(n_layers)
            ]
            self.output_proj = None
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x):
        """Encode.

        Parameters
        ----------
        x : Tensor, shape (batch, T, D) or (batch, T, C, B)

        Returns
        -------
        z : Tensor, shape (batch, T, E)
        """
        h = x.flatten(2)
        if self.input_proj is not None:
            h = self.input_proj(h)
        h = self.blocks(h)
        if self.output_proj is not None:
            h = self.output_proj(h)
        return h


class EIEncoder(nn.Sequential):
    """Emotion-independent encoder: ``Linear(D, ei_dim) -> ReLU`` per window."""

    def __init__(self, n_features, ei_dim=128):
        super().__init__(Linear(n_features, ei_dim), nn.ReLU())

    def forward(self, x):
        """Parameters: x, shape (batch, T, D...). Returns u, shape (batch, T, ei_dim)."""
        return super().forward(x.flatten(2))


class Decoder(nn.Module):
    """Reconstruction ``Linear(2 * ei_dim, D)(concat(Linear(E, ei_dim)(z), u))``."""

    def __init__(self, n_features, embedding_dim=128, ei_dim=128):
        super().__init__()
        self.z_proj = Linear(embedding_dim, ei_dim)
        self.out = Linear(2 * ei_dim, n_features)

    def forward(self, z, u):
        """Parameters: z (batch, T, E), u (batch, T, ei_dim). Returns (batch, T, D)."""
        return self.out(torch.cat([self.z_proj(z), u], dim=-1))


class Projection(nn.Module):
    """``ReLU(Linear(E, proj_dim)(mean_t z))``: shared-space feature of a sequence."""

    def __init__(self, embedding_dim=128, proj_dim=32):
        super().__init__()
        self.linear = Linear(embedding_dim, proj_dim)

    def forward(self, z):
        """Parameters: z, shape (batch, T, E). Returns (batch, proj_dim)."""
        return self.linear(z.mean(dim=1)).relu()


class ModalityEmbedder(nn.Module):
    """ER encoder followed by the projection: input sequence -> shared-space feature."""

    def __init__(self, encoder, projection):
        super().__init__()
        self.encoder = encoder
        self.projection = projection

    def forward(self, x):
        """Parameters: x, shape (batch, T, D) or (batch, T, C, B). Returns (batch, proj_dim)."""
        return self.projection(self.encoder(x))


class ClassifierHead(nn.Sequential):
    """``Linear(in, hidden) -> ReLU -> BatchNorm1d(hidden) -> Linear(hidden, n_classes)``."""

    def __init__(self, n_inputs, n_classes, hidden=128):
        super().__init__(
            Linear(n_inputs, hidden),
            nn.ReLU(),
            nn.BatchNorm1d(hidden),
            Linear(hidden, n_classes),
        )
