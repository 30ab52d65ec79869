"""Linear layers whose CPU float32 products run on oneDNN.

Internal module. On the CPU, :func:`torch.nn.functional.linear` in float32
calls the BLAS torch was built with (MKL in the Linux and Windows wheels).
MKL picks its code path by CPU vendor: on AMD processors it runs well below
the machine's speed (about 120-140 GFLOP/s on two Zen 4 cores, against about
175-195 for oneDNN, which dispatches on instruction sets). torch bundles
oneDNN but routes float32 products to it only when reduced precision is
allowed. :class:`Linear` and :func:`linear` send the forward product and
the input gradient of CPU float32 layers to oneDNN's float32 product
(``torch.ops.mkldnn._linear_pointwise``, full float32 precision; the input
gradient reads the weight's transpose as a strided view, where a
contiguous copy of it cost about 10 ms of a SEED-sized step) and keep
the weight gradient, whose transposed operands oneDNN would first reorder,
on :func:`torch.mm`.

Used when :func:`mne_m2s.utils.set_cpu_kernels` is not ``"torch"``, the
tensors are float32 on the CPU outside autocast, the product is large enough
(``MIN_MACS``) and a one-off check on first use finds the operator present
and equal to :func:`torch.nn.functional.linear` (to float32 rounding); the
result of that check is logged once. Anything else runs
:func:`torch.nn.functional.linear`. The two agree to float32 rounding, not
bit for bit; each is deterministic.
"""

import torch
import torch.nn.functional as F
from torch import nn

from ..utils._kernels import get_cpu_kernels
from ..utils._logging import logger

#: Multiply-adds below which the product stays on F.linear (no gain below).
MIN_MACS = 1 << 22

_state = {}


def _check_operator():
    """Whether oneDNN's float32 linear operator is present and right (checked once)."""
    if "ok" in _state:
        return _state["ok"]
    reason = None
    if not torch.backends.mkldnn.is_available():
        reason = "torch was built without oneDNN (MKL-DNN)"
    else:
        try:
            op = torch.ops.mkldnn._linear_pointwise
            gen = torch.Generator().manual_seed(0)
            x = torch.randn(64, 48, generator=gen)
            w = torch.randn(40, 48, generator=gen)
            b = torch.randn(40, generator=gen)
            with torch.no_grad():
                got = op(x, w, b, "none", [], "")
                want = F.linear(x, w, b)
                # the input gradient's product: the weight's transpose, a strided view
                got_t = op(want, w.t(), None, "none", [], "")
                want_t = want @ w
            if got.shape != want.shape or not torch.allclose(got, want, rtol=1e-4, atol=1e-4):
                reason = "its result differs from F.linear's"
            elif got_t.shape != want_t.shape or not torch.allclose(got_t, want_t, rtol=1e-4,
                                                                   atol=1e-3):
                reason = "its result for a transposed weight differs from torch.mm's"
        except (AttributeError, RuntimeError) as err:
            reason = f"the operator torch.ops.mkldnn._linear_pointwise is unusable ({err})"
    _state["ok"] = reason is None
    if reason is None:
        _state["op"] = op
        logger.info("CPU float32 linear layers use oneDNN's product")
    else:
        logger.info("CPU float32 linear layers use F.linear: %s", reason)
    return _state["ok"]


def linear_status():
    """One line for :func:`mne_m2s.sys_info`: which product CPU float32 linear layers use."""
    if get_cpu_kernels() == "torch":
        return "torch (set_cpu_kernels('torch'))"
    if not torch._C._get_mkldnn_enabled():
        return "torch (torch.backends.mkldnn.enabled is False)"
    return "oneDNN" if _check_operator() else "torch (oneDNN's float32 product unavailable)"


def onednn_operator():
    """oneDNN's float32 linear operator (after :func:`use_onednn` returned True)."""
    return _state["op"]


def linear_backward(grad, x, weight, needs_input_grad, has_bias):
    """Gradients of ``x W^T + b`` for 2-D ``x`` and ``grad``: ``dx`` on oneDNN, ``dW`` on mm."""
    grad = grad.contiguous()
    dx = dw = db = None
    if needs_input_grad[0]:  # oneDNN reads the transposed weight through its strides
        dx = _state["op"](grad, weight.t(), None, "none", [], "")
    if needs_input_grad[1]:
        dw = torch.mm(grad.t(), x)
    if has_bias and needs_input_grad[2]:
        db = grad.sum(0)
    return dx, dw, db


def use_onednn(x, weight):
    """Whether ``linear(x, weight)`` runs on oneDNN (see the module's notes)."""
    return (x.device.type == "cpu" and x.dtype == torch.float32
            and weight.dtype == torch.float32 and x.dim() >= 2
            and x.numel() // max(x.shape[-1], 1) * weight.shape[0] * weight.shape[1] >= MIN_MACS
            and not torch.is_autocast_enabled("cpu")
            and torch._C._get_mkldnn_enabled()
            and get_cpu_kernels() != "torch"
            and _check_operator())


class _OneDNNLinear(torch.autograd.Function):
    """``x W^T + b`` for 2-D ``x``: oneDNN products, weight gradient on torch.mm."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        op = _state["op"]
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return op(x, weight, bias, "none", [], "")

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return linear_backward(grad, x, weight, ctx.needs_input_grad, ctx.has_bias)


def apply_2d(function, x, weight, *args):
    """``function.apply(x2, weight, *args)`` on ``x`` as contiguous rows, shaped back.

    ``x`` of shape (..., in_features); ``function`` maps (rows, in_features)
    to (rows, out_features).
    """
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    out = function.apply(x2, weight.contiguous(), *args)
    return out.view(*x.shape[:-1], weight.shape[0])


def linear(x, weight, bias=None):
    """:func:`torch.nn.functional.linear`, on oneDNN where that is faster (see the module)."""
    if not use_onednn(x, weight):
        return F.linear(x, weight, bias)
    return apply_2d(_OneDNNLinear, x, weight, bias)


class Linear(nn.Linear):
    """:class:`torch.nn.Linear` whose CPU float32 products run on oneDNN (see :func:`linear`).

    Same parameters, state dict and function (to float32 rounding).
    """

    def forward(self, x):
        """Parameters: x, shape (..., in_features). Returns (..., out_features)."""
        return linear(x, self.weight, self.bias)
