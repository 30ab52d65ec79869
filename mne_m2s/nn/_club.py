"""Compiled CPU kernel of the CLUB estimator's log-likelihood.

Internal module. :func:`club_log_likelihood` computes what
:meth:`mne_m2s.nn.losses.CLUB.log_likelihood` computed with PyTorch
operations, ``mean over rows of sum over dims of [-(mu - u)**2 / exp(lv) -
lv] / 2`` with ``lv = tanh(a)``, with the fused C kernel of
``_club_kernel.c`` when the setting of :func:`mne_m2s.utils.set_cpu_kernels`
allows it and it can run here (CPU, float32), else with those PyTorch
operations. The estimators are updated ``mi_steps`` (3) times per
pre-training step on every modality, so this function runs six times per
step of a two-modality model; on two CPU threads the kernel saves about
12 ms of a SEED-sized step (one pass over the inputs each way, where
PyTorch's operations make about twenty, and ``torch.tanh``, which takes
about 0.7 ms per call at that size here).

The forward pass sums in double precision, per chunk of 4096 elements,
chunks added in order: the result does not depend on the number of
threads. The two paths agree to float32 rounding.
"""

import ctypes
from pathlib import Path

import torch

from . import _native

SOURCE = Path(__file__).with_name("_club_kernel.c")
#: Elements per chunk of the kernel (its unit of work and of the partial sums).
CHUNK = 4096
#: Elements below which one thread does the work.
MIN_PARALLEL = 1 << 15
_KEY = "club"


_PTR, _I64, _I32, _F32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_int, ctypes.c_float


class _ClubLibrary(_native.KernelLibrary):
    """The loaded CLUB library."""

    SIGNATURES = {
        "club_forward_range": [_I64, _I64, _I64, _PTR, _PTR, _PTR, _PTR],
        "club_backward_range": [_I64, _I64, _I64, _PTR, _PTR, _PTR, _F32, _F32, _PTR, _PTR],
        "club_tanh": [_I64, _PTR, _PTR],
        "club_forward_parallel": [_I64, _I32, _PTR, _PTR, _PTR, _PTR],
        "club_backward_parallel": [_I64, _I32, _PTR, _PTR, _PTR, _F32, _F32, _PTR, _PTR],
    }

    def _run(self, name, n, args, parts=()):
        threads = max(1, min(torch.get_num_threads(), n // MIN_PARALLEL))
        if self.openmp:
            getattr(self.lib, f"{name}_parallel")(n, threads, *args)
        else:
            _native._split_run(getattr(self.lib, f"{name}_range"), -(-n // CHUNK), threads,
                               (n, *args), parts)

    def forward_sum(self, mu, a, u):
        """``sum [(mu - u)**2 exp(-tanh(a)) + tanh(a)]`` (float64 scalar tensor)."""
        n = mu.numel()
        sums = torch.empty(-(-n // CHUNK), dtype=torch.float64)
        self._run("club_forward", n, [t.data_ptr() for t in (mu, a, u, sums)])
        return sums.sum()

    def backward(self, mu, a, u, gmu, ga):
        """``gmu (mu - u) exp(-lv)`` and ``ga ((mu - u)**2 exp(-lv) - 1) (1 - lv**2)``."""
        dmu, da = torch.empty_like(mu), torch.empty_like(a)
        self._run("club_backward", mu.numel(),
                  [*(t.data_ptr() for t in (mu, a, u)), gmu, ga, dmu.data_ptr(), da.data_ptr()])
        return dmu, da

    def tanh(self, x):
        """``tanh(x)`` of a contiguous float32 tensor (one thread; for the tests)."""
        out = torch.empty_like(x)
        self.lib.club_tanh(x.numel(), x.data_ptr(), out.data_ptr())
        return out


def load_club_kernel():
    """The compiled CLUB kernel (built and cached on first use).

    Raises
    ------
    KernelUnavailable
        When it cannot be built or loaded here (the message says why).
    """
    return _native.cached_library(_KEY, lambda: _native._open_library(
        SOURCE, "club", (), "the CLUB log-likelihood kernel", _ClubLibrary))


def club_kernel_for(*tensors):
    """The compiled CLUB kernel for these tensors under the current setting, or None.

    None means PyTorch operations (see :func:`mne_m2s.nn._native.choose_kernel`).
    """
    if any(t.device.type != "cpu" for t in tensors):
        return None
    reason = None
    if len({t.shape for t in tensors}) > 1 or tensors[0].numel() == 0:
        reason = (f"it takes non-empty tensors of one shape, got "
                  f"{', '.join(str(tuple(t.shape)) for t in tensors)}")
    dtypes = {t.dtype for t in tensors}
    if dtypes - {torch.float32, torch.bfloat16, torch.float16} or (
            dtypes != {torch.float32} and not torch.is_autocast_enabled("cpu")):
        reason = (f"it computes in float32 (also under CPU autocast), the inputs are "
                  f"{sorted(map(str, dtypes))}")
    return _native.choose_kernel("the CLUB log-likelihood", load_club_kernel, reason)


def club_status():
    """One line for :func:`mne_m2s.sys_info`: the CPU CLUB log-likelihood that runs."""
    return _native.kernel_line(load_club_kernel)


class _ClubLogLikelihood(torch.autograd.Function):
    @staticmethod
    def forward(ctx, kernel, mu, a, u):
        rows = mu.numel() // mu.shape[-1]
        ctx.kernel, ctx.rows = kernel, rows
        ctx.save_for_backward(mu, a, u)
        return (kernel.forward_sum(mu, a, u) / (-2.0 * rows)).float()

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        mu, a, u = ctx.saved_tensors
        g = float(grad)
        dmu, da = ctx.kernel.backward(mu, a, u, -g / ctx.rows, g / (2.0 * ctx.rows))
        return (None, dmu if ctx.needs_input_grad[1] else None,
                da if ctx.needs_input_grad[2] else None,
                -dmu if ctx.needs_input_grad[3] else None)


def torch_log_likelihood(mu, a, u):
    """The log-likelihood with PyTorch operations (the reference's formula)."""
    logvar = torch.tanh(a)
    return ((-((mu - u) ** 2) / logvar.exp() - logvar).sum(-1) / 2).mean()


def club_log_likelihood(mu, a, u):
    """``mean over rows of sum over the last dimension of [-(mu - u)**2 / exp(lv) - lv] / 2``.

    Parameters
    ----------
    mu : Tensor, shape (..., u_dim)
        The estimator's mean.
    a : Tensor, shape (..., u_dim)
        The log-variance head's output before its tanh (``lv = tanh(a)``).
    u : Tensor, shape (..., u_dim)
        The target.

    Returns
    -------
    loglik : Tensor, scalar
        float32 from the compiled kernel (also under CPU autocast).
    """
    kernel = club_kernel_for(mu, a, u)
    if kernel is None:
        return torch_log_likelihood(mu, a, u)
    if {mu.dtype, a.dtype, u.dtype} != {torch.float32}:  # CPU autocast
        with torch.autocast("cpu", enabled=False):
            mu, a, u = (t.float() for t in (mu, a, u))
    mu, a, u = (t.contiguous() for t in (mu, a, u))
    return _ClubLogLikelihood.apply(kernel, mu, a, u)
