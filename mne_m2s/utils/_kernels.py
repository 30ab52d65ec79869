"""Whether the compiled CPU kernels run (a process-wide setting).

The compiled kernels (STS attention core, dropout, CLUB log-likelihood) and their PyTorch
counterparts compute the same functions; the setting only decides speed,
memory and whether a C compiler is needed. See :func:`set_cpu_kernels`.
"""

import os

from ._checks import check_option

#: Values of the setting.
CPU_KERNELS = ("auto", "compiled", "torch")
#: Environment variable read when :func:`set_cpu_kernels` was not called.
CPU_KERNELS_ENV = "MNE_M2S_CPU_KERNELS"

_kind = None


def set_cpu_kernels(kind):
    """Choose between the compiled CPU kernels and PyTorch's, for the whole process.

    Three parts of a CPU training step have a fused C kernel, compiled on
    first use with the C compiler found on the machine (``CC``, else ``cc``,
    ``gcc`` or ``clang``) for its CPU (with AVX-512 instructions where it
    has them) and cached under :func:`~mne_m2s.utils.default_cache_dir`
    ``/kernels``; all run on torch's threads (:func:`torch.set_num_threads`):

    * the core of STS attention, ``sum_h softmax(x_q A_h x_k^T) x_k M_h``
      over the electrodes of every window (compiled once per shape:
      electrodes, bands, heads). It holds no electrode-by-electrode score
      matrix in memory and is about three times faster than the PyTorch
      kernel (:class:`~mne_m2s.nn._kernels.FoldedSTSCore`) at the paper's
      SEED configuration;
    * dropout, whose mask comes from a counter-based generator (Philox)
      keyed by one draw of torch's generator per call: the mask is made on
      the fly and regenerated in the backward pass, so neither random words
      nor masks are stored;
    * the log-likelihood of the CLUB estimators (tanh, exponential and the
      sums after their heads' last layers, one pass over the inputs each
      way), which the estimators' updates evaluate six times per step.

    The same setting governs two more things that speed CPU pre-training up:
    float32 linear layers on oneDNN's product (instead of the BLAS that
    :func:`torch.nn.functional.linear` calls), and a caching allocator for
    the large CPU blocks of pre-training steps (C++ built against torch's
    ``libc10`` with the C++ compiler, ``CXX``, else ``c++``, ``g++`` or
    ``clang++``). The allocator keeps the blocks whole and reuses them from
    step to step, where glibc's ``malloc`` lets its heap grow about 170 MB
    beyond the bytes in use and faults pages back; it is not used under
    ``"auto"`` when tcmalloc, jemalloc or mimalloc provides ``malloc``
    (:func:`~mne_m2s.utils.memory_allocator`), and its cache is unmapped
    when pre-training ends.

    See :doc:`/performance` for the figures. The values:

    * ``"compiled"`` — use them (and the caching allocator, whatever the
      ``malloc``); without a compiler, or for inputs they do not handle (for
      example float64), raise an error that says why;
    * ``"torch"`` — PyTorch operations only; needs nothing else;
    * ``"auto"`` (default) — the compiled kernels where they can run, else
      PyTorch; the reason is logged once at the INFO level and shown by
      :func:`~mne_m2s.sys_info`.

    The STS and CLUB kernels agree with PyTorch's to float32 rounding (about
    ``1e-6`` relative), not bit for bit; the two dropouts draw different
    masks from the same seed (same rate, same semantics), so seeded results
    differ between settings. Each is deterministic for a given number of
    threads (the compiled dropout and CLUB kernels for any number). GPUs
    always use PyTorch's kernels.

    Parameters
    ----------
    kind : {"auto", "compiled", "torch"} | None
        None restores the default: the environment variable
        ``MNE_M2S_CPU_KERNELS`` if set, else ``"auto"``.

    Returns
    -------
    previous : str | None
        The setting before the call (None when it came from the default),
        so that it can be restored.
    """
    global _kind
    if kind is not None:
        check_option("kind", kind, CPU_KERNELS)
    previous, _kind = _kind, kind
    return previous


def get_cpu_kernels():
    """The current setting of :func:`set_cpu_kernels` (``"auto"`` by default).

    Returns
    -------
    kind : {"auto", "compiled", "torch"}
    """
    if _kind is not None:
        return _kind
    value = os.environ.get(CPU_KERNELS_ENV, "").strip()
    if not value:
        return "auto"
    if value not in CPU_KERNELS:
        allowed = ", ".join(repr(k) for k in CPU_KERNELS)
        raise ValueError(
            f"The environment variable {CPU_KERNELS_ENV} must be one of {allowed}, "
            f"got {value!r}. Unset it or set it to one of those."
        )
    return value
