"""Which CPU kernel computes the STS attention core (a process-wide setting).

Both kernels compute the same function (to float32 rounding); the setting
only decides speed and whether a C compiler is needed. See
:func:`set_sts_kernel`.
"""

import os

from ._checks import check_option

#: Values of the setting.
STS_KERNELS = ("auto", "compiled", "torch")
#: Environment variable read when :func:`set_sts_kernel` was not called.
STS_KERNEL_ENV = "MNE_M2S_STS_KERNEL"

_kind = None


def set_sts_kernel(kind):
    """Choose the CPU kernel of the STS attention core, for the whole process.

    M2S's electrode encoders spend most of a CPU pre-training step in the
    core of STS attention, ``sum_h softmax(x_q A_h x_k^T) x_k M_h`` over the
    electrodes of every window. Two kernels compute it:

    * ``"compiled"`` — a fused C kernel, compiled once per shape
      (electrodes, bands, heads) with the C compiler found on the machine
      (``CC``, else ``cc``, ``gcc`` or ``clang``) and cached under
      :func:`~mne_m2s.utils.default_cache_dir` ``/kernels``. It holds no
      electrode-by-electrode score matrix in memory and runs on torch's
      threads (:func:`torch.set_num_threads`). About three times faster
      than ``"torch"`` for the forward and backward pass at the paper's SEED
      configuration, and it keeps less for the backward pass (see
      :doc:`/performance`). Without a compiler, or for
      inputs it does not handle (not float32 or bfloat16 autocast, not on
      the CPU), using it raises an error that says why.
    * ``"torch"`` — the same computation in PyTorch operations
      (:class:`~mne_m2s.nn._kernels.FoldedSTSCore`); needs nothing else.
    * ``"auto"`` (default) — ``"compiled"`` where it can run, else
      ``"torch"``; the reason is logged once at the INFO level and shown by
      :func:`~mne_m2s.sys_info`.

    The two agree to float32 rounding (about ``1e-6`` relative), not bit for
    bit; each is deterministic for a given number of threads. GPUs always
    use :func:`torch.nn.functional.scaled_dot_product_attention`.

    Parameters
    ----------
    kind : {"auto", "compiled", "torch"} | None
        None restores the default: the environment variable
        ``MNE_M2S_STS_KERNEL`` if set, else ``"auto"``.

    Returns
    -------
    previous : str | None
        The setting before the call (None when it came from the default),
        so that it can be restored.
    """
    global _kind
    if kind is not None:
        check_option("kind", kind, STS_KERNELS)
    previous, _kind = _kind, kind
    return previous


def get_sts_kernel():
    """The current setting of :func:`set_sts_kernel` (``"auto"`` by default).

    Returns
    -------
    kind : {"auto", "compiled", "torch"}
    """
    if _kind is not None:
        return _kind
    value = os.environ.get(STS_KERNEL_ENV, "").strip()
    if not value:
        return "auto"
    if value not in STS_KERNELS:
        allowed = ", ".join(repr(k) for k in STS_KERNELS)
        raise ValueError(
            f"The environment variable {STS_KERNEL_ENV} must be one of {allowed}, "
            f"got {value!r}. Unset it or set it to one of those."
        )
    return value
