"""Compiled CPU dropout: a counter-based mask, generated on the fly, never stored.

Internal module. :class:`Dropout` and :func:`relu_keep` compute what
:class:`mne_m2s.nn._kernels.Dropout` and ``relu_mask(h, keep_mask(h, p))``
compute, with the fused C kernel of ``_dropout_kernel.c`` when the setting of
:func:`mne_m2s.utils.set_cpu_kernels` allows it and it can run here, else with
PyTorch operations.

The kernel draws the keep flags from Philox4x32-10 keyed by one 64-bit seed
per call, itself drawn from torch's default generator (so
:func:`torch.manual_seed` and ``random_state`` make every mask reproducible);
the mask is a pure function of the seed and the element's position, the same
for any number of threads. Against the PyTorch path it saves the random
words, the mask tensor and the passes over them (about 4 ms per FFN hidden
tensor of 2.6 million elements on two cores), and the backward pass
regenerates the mask from the seed instead of keeping it: nothing of the
input's size is saved for dropout. The drop probability is
``round(p * 2**16) / 2**16`` (the same 16-bit resolution as
:func:`~mne_m2s.nn._kernels.keep_mask`).
"""

import ctypes
from pathlib import Path

import torch

from . import _linear, _native
from ._kernels import Dropout as _TorchDropout
from ._kernels import (
    ReLUMask,
    _threshold,
    fast_dropout_supported,
    keep_mask,
    relu_mask,
)

SOURCE = Path(__file__).with_name("_dropout_kernel.c")
#: Elements per Philox chunk (the kernel's unit of work).
CHUNK = 64
#: Elements below which one thread does the work (the fork costs more).
MIN_PARALLEL = 1 << 16
_KEY = "dropout"


_PTR, _I64, _I32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
_TAIL = [ctypes.c_uint64, ctypes.c_uint32, ctypes.c_float, _I32, _I32]


class _DropoutLibrary(_native.KernelLibrary):
    """The loaded dropout library."""

    SIGNATURES = {
        "dropout_apply": [_I64, _I64, _I64, _PTR, _PTR, *_TAIL],
        "philox4x32_10": [_PTR, _PTR, _PTR],
        "dropout_apply_parallel": [_I64, _I32, _PTR, _PTR, *_TAIL],
    }

    def apply(self, x, out, seed, threshold, scale, relu):
        """``out = keep ? f(x) * scale : 0`` (``f`` ReLU or identity); ``out`` may be ``x``."""
        n = x.numel()
        threads = max(1, min(torch.get_num_threads(), n // MIN_PARALLEL))
        args = (x.data_ptr(), out.data_ptr(), seed, threshold, float(scale), int(relu),
                int(x.dtype == torch.bfloat16))
        if self.openmp:
            self.lib.dropout_apply_parallel(n, threads, *args)
        else:
            _native._split_run(self.lib.dropout_apply, (n + CHUNK - 1) // CHUNK, threads,
                               (n, *args))

    def philox(self, counter, key):
        """One Philox4x32-10 block (4 words) of ``counter`` (4 words) and ``key`` (2 words)."""
        ctr = (ctypes.c_uint32 * 4)(*counter)
        k = (ctypes.c_uint32 * 2)(*key)
        out = (ctypes.c_uint32 * 4)()
        self.lib.philox4x32_10(ctr, k, out)
        return tuple(out)


def load_dropout_kernel():
    """The compiled dropout kernel (built and cached on first use).

    Raises
    ------
    KernelUnavailable
        When it cannot be built or loaded here (the message says why).
    """
    return _native.cached_library(_KEY, lambda: _native._open_library(
        SOURCE, "dropout", (), "the dropout kernel", _DropoutLibrary))


def dropout_kernel_for(x):
    """The compiled dropout kernel for the CPU tensor ``x`` under the current setting, or None.

    None means PyTorch operations (see :func:`mne_m2s.nn._native.choose_kernel`).
    """
    reason = None
    if x.dtype not in (torch.float32, torch.bfloat16):
        reason = f"it computes float32 and bfloat16 tensors, got {x.dtype}"
    return _native.choose_kernel("dropout", load_dropout_kernel, reason)


def dropout_status():
    """One line for :func:`mne_m2s.sys_info`: the CPU dropout that runs."""
    return _native.kernel_line(load_dropout_kernel)


def _seed():
    """A 63-bit key from torch's default CPU generator (one draw per call)."""
    return int(torch.empty((), dtype=torch.int64).random_())


class _CompiledDropout(torch.autograd.Function):
    """Inverted dropout whose backward pass regenerates the mask from the seed."""

    @staticmethod
    def forward(ctx, x, kernel, seed, threshold, scale, inplace):
        if inplace:
            ctx.mark_dirty(x)
            out = x
        else:
            out = torch.empty_like(x, memory_format=torch.contiguous_format)
        kernel.apply(x, out, seed, threshold, scale, relu=False)
        ctx.kernel, ctx.seed, ctx.threshold, ctx.scale = kernel, seed, threshold, scale
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        grad = grad.contiguous()
        out = torch.empty_like(grad)
        ctx.kernel.apply(grad, out, ctx.seed, ctx.threshold, ctx.scale, relu=False)
        return out, None, None, None, None, None


class _CompiledReLUKeep(torch.autograd.Function):
    """``relu(h) * keep``, saving only its output (as ``ReLUMask``)."""

    @staticmethod
    def forward(ctx, h, kernel, seed, threshold):
        out = torch.empty_like(h, memory_format=torch.contiguous_format)
        kernel.apply(h, out, seed, threshold, 1.0, relu=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        dx, _ = ReLUMask.backward(ctx, grad)  # the same saved output, the same gradient
        return dx, None, None, None


class _OneDNNLinearReLUKeep(torch.autograd.Function):
    """``relu(x W^T + b) * keep`` for 2-D ``x``: the product on oneDNN, the mask
    applied in place on it; saves ``x``, ``W`` and the output."""

    @staticmethod
    def forward(ctx, x, weight, bias, kernel, seed, threshold):
        op = _linear.onednn_operator()
        out = op(x, weight, bias, "none", [], "")
        kernel.apply(out, out, seed, threshold, 1.0, relu=True)
        ctx.save_for_backward(x, weight, out)
        ctx.has_bias = bias is not None
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        x, weight, out = ctx.saved_tensors
        dz = torch.ops.aten.threshold_backward(grad, out, 0)
        dx, dw, db = _linear.linear_backward(dz, x, weight, ctx.needs_input_grad, ctx.has_bias)
        return dx, dw, db, None, None, None


def linear_relu_keep(x, weight, bias, p):
    """``relu(linear(x, weight, bias)) * keep``, ``keep`` a {0, 1} dropout mask of rate ``p``.

    On the CPU in float32 with the compiled kernel and oneDNN's product
    (:mod:`mne_m2s.nn._linear`), one autograd step that applies the mask in
    place on the product; otherwise :func:`~mne_m2s.nn._linear.linear` then
    :func:`relu_keep`. Requires :func:`~mne_m2s.nn._kernels.fast_dropout_supported`.
    """
    if _linear.use_onednn(x, weight):
        kernel = dropout_kernel_for(x)
        if kernel is not None:
            return _linear.apply_2d(_OneDNNLinearReLUKeep, x, weight, bias, kernel, _seed(),
                                    _threshold(p))
    return relu_keep(_linear.linear(x, weight, bias), p)


def relu_keep(h, p):
    """``relu(h) * keep`` with ``keep`` a {0, 1} dropout mask of rate ``p``.

    The ``1 / (1 - p)`` of inverted dropout is left to the
    caller (:class:`~mne_m2s.nn.encoders.FeedForward` scales the next
    layer's weight). Requires :func:`~mne_m2s.nn._kernels.fast_dropout_supported`.
    """
    kernel = dropout_kernel_for(h) if h.is_contiguous() else None
    if kernel is None:
        return relu_mask(h, keep_mask(h, p))
    return _CompiledReLUKeep.apply(h, kernel, _seed(), _threshold(p))


class Dropout(_TorchDropout):
    """Drop-in :class:`torch.nn.Dropout` with a compiled CPU kernel.

    Same semantics (inverted dropout in training mode, identity in
    evaluation mode, masks from the default torch generator). Contiguous
    CPU tensors use the compiled kernel where it runs, others the 16-bit
    PyTorch mask of :class:`~mne_m2s.nn._kernels.Dropout`; other devices and rates that
    16-bit lanes cannot resolve use :func:`torch.nn.functional.dropout`.
    """

    def forward(self, x):
        """Apply dropout (identity in evaluation mode or for ``p == 0``)."""
        p = self.p
        kernel = None
        if self.training and p != 0 and fast_dropout_supported(x, p) and x.is_contiguous():
            kernel = dropout_kernel_for(x)
        if kernel is None:  # PyTorch's path (16-bit masks, or F.dropout)
            return super().forward(x)
        return _CompiledDropout.apply(x, kernel, _seed(), _threshold(p), 1.0 / (1.0 - p),
                                      self.inplace)
