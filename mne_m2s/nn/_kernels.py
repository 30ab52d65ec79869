"""Hand-scheduled CPU kernels: the folded STS attention core and dropout.

Internal module; see :class:`mne_m2s.nn.attention.STSAttention` and
:class:`Dropout`.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

LOG2E = 1.0 / math.log(2.0)
#: Elements of one ``(chunk, C, H * C)`` score buffer (4 MiB in float32): small
#: enough to stay in cache between the passes over it.
CHUNK_ELEMENTS = 1 << 20


def _chunk_size(n_total, n_tokens, n_rows, target=CHUNK_ELEMENTS):
    return max(1, min(n_total, target // (n_tokens * n_rows)))


def _queries(xq, a):
    """``q[n, e, (h, i)] = sum_b a[h, b, e] xq[n, i, b]``, shape (N, B, H * C)."""
    n, c, b = xq.shape
    h = a.shape[0]
    q = torch.matmul(a.permute(2, 0, 1).reshape(b * h, b), xq.transpose(1, 2))
    return q.view(n, b, h * c)


class FoldedSTSCore(torch.autograd.Function):
    """``out_n = sum_h softmax(xq_n A_h xk_n^T) xk_n M_h`` for every ``n``.

    Inputs ``xq, xk`` (N, C, B), ``a, m`` (H, B, B); output (N, C, B). The
    softmax runs over the ``C`` key tokens; the attention scale is part of
    ``a``. This is the STS attention core after folding the projections
    (``A_h = W_q^h W_k^h^T / sqrt(d)``, ``M_h = W_v^h W_o^h``).

    Scores are held transposed, ``S[n, j, (h, i)]`` (key ``j``, head ``h``,
    query ``i``), so that all heads share one product with the keys and every
    contraction is a batched matrix product whose output has ``H * C`` or
    ``C`` columns: never the tiny ``B``-wide products of the textbook layout,
    which run far below the machine's speed. The batch axis ``N`` is processed
    in chunks that fit in cache (``CHUNK_ELEMENTS``). The ``C x C``
    probabilities are recomputed in the backward pass from the saved
    log-sum-exp, so nothing of size ``N x H x C x C`` is ever materialised and
    the backward pass is the usual ``dS = P * (dP - rowsum(O * G))``.

    Under autocast (``precision="bf16"``) the core runs in float32: its
    inputs are cast (``torch.amp.custom_fwd``); it is a small part of the step.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    def forward(ctx, xq, xk, a, m, chunk=None):
        n, c, b = xq.shape
        h = a.shape[0]
        hc = h * c
        xq = xq.contiguous()
        xk = xk.contiguous()
        q = _queries(xq, a)
        x2 = xk * LOG2E  # base-2 scores: exp2 is cheaper than exp
        if chunk is None:
            chunk = _chunk_size(n, c, hc)
        s = q.new_empty((chunk, c, hc))
        y = q.new_empty((n, b, hc))
        neg_lse = q.new_empty((n, hc))
        for n0 in range(0, n, chunk):
            n1 = min(n, n0 + chunk)
            sw = s[: n1 - n0]
            # S[n, j, (h, i)] = log2(e) * scores, then exp2(S - max_j S)
            torch.bmm(x2[n0:n1], q[n0:n1], out=sw)
            shift = sw.amax(1, keepdim=True)
            sw.sub_(shift).exp2_()
            lsum = sw.sum(1)
            yc = y[n0:n1]
            torch.bmm(xk[n0:n1].transpose(1, 2), sw, out=yc)  # (w, B, H C)
            yc.div_(lsum.unsqueeze(1))
            torch.sub(shift.squeeze(1).neg_(), lsum.log2_(), out=neg_lse[n0:n1])
        # out[n, i, c] = sum_{h, b} y[n, b, h, i] m[h, b, c]
        mf = m.permute(1, 0, 2).reshape(b * h, b)
        out = torch.matmul(mf.t(), y.view(n, b * h, c)).transpose(1, 2).contiguous()
        ctx.save_for_backward(xq, xk, a, m, y, neg_lse)
        ctx.chunk = chunk
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad):
        xq, xk, a, m, y, neg_lse = ctx.saved_tensors
        chunk = ctx.chunk
        n, c, b = xk.shape
        h = a.shape[0]
        hc = h * c
        q = _queries(xq, a)
        x2 = xk * LOG2E
        gt = grad.transpose(1, 2)  # (N, B, C)
        mf = m.permute(1, 0, 2).reshape(b * h, b)
        # gh[n, b, (h, i)] = sum_c m[h, b, c] g[n, i, c]  (= G M_h^T, transposed)
        gh = torch.matmul(mf, gt).view(n, b, hc)
        # dm[h, b, c] = sum_{n, i} y[n, b, h, i] g[n, i, c]
        dm = torch.bmm(gt, y.view(n, b * h, c).transpose(1, 2)).sum(0)
        dm = dm.view(b, b, h).permute(2, 1, 0)
        dq = torch.empty_like(q)
        dx = torch.empty_like(xk)
        s = q.new_empty((chunk, c, hc))
        r = q.new_empty((chunk, c, hc))
        for n0 in range(0, n, chunk):
            n1 = min(n, n0 + chunk)
            w = n1 - n0
            sw, rw = s[:w], r[:w]
            qc, ghc, xc = q[n0:n1], gh[n0:n1], xk[n0:n1]
            # D = rowsum(O_h * G) = sum_b y * gh
            neg_d = (y[n0:n1] * ghc).sum(1, keepdim=True).neg_()
            torch.baddbmm(neg_lse[n0:n1].unsqueeze(1), x2[n0:n1], qc, out=sw).exp2_()  # P
            torch.baddbmm(neg_d, xc, ghc, out=rw)  # dP - D, dP[n, j, (h, i)] = (G v_h^T)[i, j]
            rw.mul_(sw)  # dS
            torch.bmm(xc.transpose(1, 2), rw, out=dq[n0:n1])
            dxc = dx[n0:n1]
            torch.bmm(rw, qc.transpose(1, 2), out=dxc)
            dxc.baddbmm_(sw, ghc.transpose(1, 2))
        dqf = dq.view(n, b * h, c)
        # da[h, b, e] = sum_{n, i} dq[n, e, h, i] xq[n, i, b]
        da = torch.bmm(xq.transpose(1, 2), dqf.transpose(1, 2)).sum(0)
        da = da.view(b, b, h).permute(2, 0, 1)
        # dxq[n, i, b] = sum_{e, h} a[h, b, e] dq[n, e, h, i]
        af = a.permute(2, 0, 1).reshape(b * h, b)
        dxq = torch.matmul(af.t(), dqf).transpose(1, 2)
        return dxq, dx, da, dm, None


def folded_sts_core(xq, xk, a, m, chunk=None):
    """Apply :class:`FoldedSTSCore` (see there)."""
    return FoldedSTSCore.apply(xq, xk, a, m, chunk)


#: Random bits per dropout decision: one 64-bit draw decides four elements.
_LANE_BITS = 16
_LANES = 1 << _LANE_BITS


def _threshold(p):
    """``round(p * 2**16)``: the number of the ``2**16`` lane values that drop."""
    return round(p * _LANES)


def fast_dropout_supported(x, p):
    """Whether :func:`keep_mask` honours rate ``p`` for ``x`` (else use torch's dropout).

    CPU floating-point tensors and rates that 16-bit lanes resolve, i.e.
    ``0 < round(p * 2**16) < 2**16``; rates closer than ``2**-17`` to 0 or 1
    are left to :func:`torch.nn.functional.dropout`, which draws them exactly.
    """
    return (x.device.type == "cpu" and x.is_floating_point()
            and 0 < _threshold(p) < _LANES)


def keep_mask(x, p, scale=1.0):
    """Inverted-dropout mask for ``x``: ``0`` with probability ``p``, else ``scale``.

    Same shape and dtype as ``x``. Drawn from the default torch generator (so
    ``torch.manual_seed`` makes it reproducible) as full-range 64-bit random
    words, each split into four 16-bit lanes; a lane drops its element when
    it falls among the lowest ``round(p * 2**16)`` of the ``2**16`` values, so
    the drop probability is ``p`` to within ``2**-17``. The CPU's random
    draws run on one thread: 16 bits per element (instead of the two 32-bit
    draws and a double comparison per element of ``bernoulli_``) make them
    about eight times cheaper. The lanes are compared as float32 (exact for
    16-bit integers), which keeps every pass vectorised.
    """
    n = x.numel()
    words = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device)
    words.random_(-(1 << 63), None)  # all 64 bits uniform
    mask = words.view(torch.int16)[:n].to(torch.float32)
    mask.ge_(-(_LANES // 2) + _threshold(p))  # 1.0 where kept, else 0.0
    mask = mask.to(x.dtype)
    if scale != 1.0:
        mask.mul_(scale)
    return mask.view(x.shape)


def dropout_mask(x, p):
    """Inverted-dropout mask for ``x``: ``0`` with probability ``p``, else ``1 / (1 - p)``.

    See :func:`keep_mask`.
    """
    return keep_mask(x, p, 1.0 / (1.0 - p))


class ReLUMask(torch.autograd.Function):
    """``relu(x) * keep`` for a ``{0, 1}`` dropout mask, saving only its output.

    The output is what the next linear layer saves anyway, and it is all the
    backward pass needs: ``dx = g`` where the output is positive (``x > 0``
    and kept), else 0 (one fused ``threshold_backward`` pass). The caller
    applies the ``1 / (1 - p)`` of inverted dropout elsewhere
    (:class:`~mne_m2s.nn.encoders.FeedForward` scales the next layer's
    weight, a far smaller tensor).
    """

    @staticmethod
    def forward(ctx, x, keep):
        out = torch.relu(x).mul_(keep)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return torch.ops.aten.threshold_backward(grad, out, 0), None


def relu_mask(x, keep):
    """``relu(x) * keep`` (see :class:`ReLUMask`); ``keep`` is a {0, 1} :func:`keep_mask`."""
    return ReLUMask.apply(x, keep)


class Dropout(nn.Dropout):
    """Drop-in :class:`torch.nn.Dropout` with a faster mask on the CPU.

    Same semantics (inverted dropout in training mode, identity in evaluation
    mode, the default torch generator); CPU tensors use :func:`dropout_mask`,
    other devices and rates that 16-bit lanes cannot resolve
    :func:`torch.nn.functional.dropout`.
    """

    def forward(self, x):
        """Apply dropout (identity in evaluation mode or for ``p == 0``)."""
        p = self.p
        if not self.training or p == 0:
            return x
        if not fast_dropout_supported(x, p):
            return F.dropout(x, p, True, self.inplace)
        mask = dropout_mask(x, p)
        return x.mul_(mask) if self.inplace else x * mask
