"""Attention modules of the emotion-related encoders.

* :class:`STSAttention` — spatial and temporal-sparse attention (SPEC.md §3.2):
  tokens are electrodes, attention runs across electrodes within each window,
  keys and values of window ``t`` are the mean of windows ``t``, ``0`` and
  ``t - 1``.
* :class:`WindowAttention` — ordinary multi-head self-attention over the
  ``T`` windows (the ``"mha"`` ablation and the non-electrode encoders).

Both map ``(batch, T, width)`` to ``(batch, T, width)``.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from ._dropout import Dropout
from ._linear import Linear
from ._native import sts_core_cpu


def temporal_sparse_mean(x):
    """Temporal-sparse key/value input: ``(x_t + x_0 + x_{t-1}) / 3``.

    With ``x_{-1} := x_0``, so the first window is left unchanged.

    Parameters
    ----------
    x : Tensor, shape (batch, T, ...)

    Returns
    -------
    x_sparse : Tensor, shape (batch, T, ...)
    """
    if x.shape[1] == 0:
        return x.clone()
    return _TemporalSparseMean.apply(x)


class _TemporalSparseMean(torch.autograd.Function):
    """:func:`temporal_sparse_mean` in three passes each way, without the
    shifted copy ``cat([x_0, x_{:-1}])`` that autograd would keep and expand.

    Same additions in the same order as ``(x + x_0 + x_{t-1}) / 3`` (so the
    same values, bit for bit); the backward pass is its adjoint
    ``dx_t = g_t / 3 + g_{t+1} / 3 + [t = 0] (sum_t' g_t' + g_0) / 3``.
    """

    @staticmethod
    def forward(ctx, x):
        out = x + x[:, :1]
        out[:, 1:] += x[:, :-1]
        out[:, :1] += x[:, :1]
        return out.div_(3.0)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        third = grad / 3.0
        dx = third.clone()
        dx[:, :-1] += third[:, 1:]
        dx[:, :1] += third.sum(dim=1, keepdim=True) + third[:, :1]
        return dx


class STSAttention(nn.Module):
    """Spatial and temporal-sparse (STS) multi-head attention.

    For each window ``t`` the ``C`` electrodes are tokens of dimension
    ``B`` (bands). Per head ``h`` with ``W_q, W_k, W_v: B -> d`` (no bias),
    ``softmax(Q_t K~_t^T / sqrt(d)) V~_t``, heads concatenated and projected
    back to ``B`` by ``Linear(H * d, B)``.

    Because ``Q K~^T = x W_q W_k^T x~^T`` and the output of head ``h`` enters the
    projection as ``P_h x~ W_v^h W_o^h``, the products are evaluated through
    the ``B x B`` matrices ``W_q^h (W_k^h)^T / sqrt(d)`` and ``W_v^h W_o^h``
    (``fold=True``, the default). This is exact — same parameters, same
    function, gradients flow to ``W_q, W_k, W_v, W_o`` through autograd — and
    cuts the cost of the ``C x C`` products from ``d`` to ``B`` per head.
    On the CPU the folded core runs as one fused compiled kernel or as one
    autograd function of PyTorch operations
    (:class:`mne_m2s.nn._kernels.FoldedSTSCore`: cache-sized chunks, all heads
    in one product, probabilities recomputed in the backward pass), as
    :func:`mne_m2s.utils.set_cpu_kernels` chooses; on other devices through
    :func:`torch.nn.functional.scaled_dot_product_attention`.
    ``fold=False`` evaluates the textbook form (used to test the equivalence).

    Parameters
    ----------
    n_bands : int
        Token dimension ``B``.
    n_heads : int
        Number of heads ``H`` (SPEC: 4).
    head_dim : int
        Per-head dimension ``d`` (SPEC: 64).
    dropout : float
        Dropout on the output projection. The encoders pass 0: their
        transformer block drops the attention output itself (``h +
        Dropout(STS(h))``), and the reference's STS module has no dropout of
        its own, so a non-zero value there would drop the residual twice.
    temporal_sparse : bool
        If False, keys and values come from window ``t`` only (spatial attention).
    fold : bool
        Evaluate through the folded ``B x B`` products (exact, faster).
    """

    def __init__(
        self, n_bands, n_heads=4, head_dim=64, dropout=0.1, temporal_sparse=True, fold=True
    ):
        super().__init__()
        self.n_bands = n_bands
        self.n_heads = n_heads
        self.head_dim = head_dim
        self.temporal_sparse = temporal_sparse
        self.fold = fold
        inner = n_heads * head_dim
        self.q_proj = nn.Linear(n_bands, inner, bias=False)
        self.k_proj = nn.Linear(n_bands, inner, bias=False)
        self.v_proj = nn.Linear(n_bands, inner, bias=False)
        self.out_proj = nn.Linear(inner, n_bands)
        self.dropout = Dropout(dropout)

    def forward(self, x):
        """Apply STS attention.

        Parameters
        ----------
        x : Tensor, shape (batch, T, C * B) or (batch, T, C, B)

        Returns
        -------
        out : Tensor, same shape as ``x``
        """
        shape = x.shape
        n, t = shape[0], shape[1]
        b = self.n_bands
        x4 = x.reshape(n, t, -1, b)
        xs = temporal_sparse_mean(x4) if self.temporal_sparse else x4
        c = x4.shape[2]
        xq = x4.reshape(n * t, c, b)
        xk = xs.reshape(n * t, c, b)
        h, d = self.n_heads, self.head_dim
        if self.fold:
            wq = self.q_proj.weight.view(h, d, b)
            wk = self.k_proj.weight.view(h, d, b)
            wv = self.v_proj.weight.view(h, d, b)
            wo = self.out_proj.weight.view(b, h, d)
            # A_h = W_q^h (W_k^h)^T / sqrt(d): (H, B, B); M_h = W_v^h W_o^h: (H, B, B)
            a = torch.einsum("hdi,hdj->hij", wq, wk) / math.sqrt(d)
            m = torch.einsum("hdi,jhd->hij", wv, wo)
            if x.device.type == "cpu":
                out = sts_core_cpu(xq, xk, a, m)
            else:
                q = torch.einsum("ncb,hbe->nhce", xq, a)  # (NT, H, C, B)
                v = torch.einsum("ncb,hbe->nhce", xk, m)  # (NT, H, C, B)
                k = xk.unsqueeze(1).expand(-1, h, -1, -1)
                # scale already folded into A
                out = F.scaled_dot_product_attention(q, k, v, scale=1.0).sum(dim=1)
            out = out + self.out_proj.bias
        else:
            q = self.q_proj(xq).view(n * t, c, h, d).transpose(1, 2)
            k = self.k_proj(xk).view(n * t, c, h, d).transpose(1, 2)
            v = self.v_proj(xk).view(n * t, c, h, d).transpose(1, 2)
            scores = q @ k.transpose(-1, -2) / math.sqrt(d)
            heads = torch.softmax(scores, dim=-1) @ v  # (NT, H, C, d)
            out = self.out_proj(heads.transpose(1, 2).reshape(n * t, c, h * d))
        return self.dropout(out).reshape(shape)


class WindowAttention(nn.Module):
    """Multi-head self-attention over the ``T`` windows.

    Queries, keys and values map ``width -> n_heads * head_dim``; the heads are
    projected back to ``width``. Used by the non-electrode encoders (width
    ``E``, head dimension ``E / n_heads`` as in a standard transformer) and by
    the ``attention="mha"`` ablation of electrode encoders.

    Parameters
    ----------
    width : int
    n_heads : int
    head_dim : int | None
        Defaults to ``width // n_heads``.
    dropout : float
        Dropout on the attention weights (as :class:`torch.nn.MultiheadAttention`).
    """

    def __init__(self, width, n_heads=4, head_dim=None, dropout=0.1):
        super().__init__()
        if head_dim is None:
            head_dim = max(width // n_heads, 1)
        self.n_heads = n_heads
        self.head_dim = head_dim
        inner = n_heads * head_dim
        self.qkv = Linear(width, 3 * inner)
        self.out_proj = Linear(inner, width)
        self.attn_dropout = dropout

    def forward(self, x):
        """Parameters: x, shape (batch, T, width). Returns the same shape."""
        n, t, _ = x.shape
        q, k, v = (
            self.qkv(x).view(n, t, 3, self.n_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        )
        p = self.attn_dropout if self.training else 0.0
        heads = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.out_proj(heads.transpose(1, 2).reshape(n, t, -1))
