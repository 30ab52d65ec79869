"""A caching allocator for torch's large CPU blocks during pre-training.

Internal module. :func:`caching_allocator` is the context of a pre-training
step (:meth:`mne_m2s.training.M2SPretrainer.train_step`): inside it, CPU
blocks of at least :data:`THRESHOLD` bytes come from the cache of
``_cpu_allocator.cpp`` instead of ``malloc``; smaller ones, and every
allocation outside the context, go to torch's own allocator.

Why: a step frees and takes again a few hundred megabytes of tensors of the
same sizes. With glibc's ``malloc`` (the default on Linux), blocks under its
dynamic mmap threshold come from one heap, where torch's many small
allocations split the freed large blocks: at the paper's SEED configuration
the heap grows about 170 MB beyond the bytes in use, and blocks above the
threshold go back to the system and come back as page faults. The cache
keeps large blocks whole and reuses them (a block serves requests of at
least half its size), and keeps the mapped bytes within the high-water mark
of the bytes in use plus a slack (``max(32 MiB, mark / 8)``), unmapping its
oldest blocks first. tcmalloc, jemalloc and mimalloc (``LD_PRELOAD``) keep
large blocks themselves: under ``"auto"`` the cache is not used when one of
them provides the process's ``malloc`` (:func:`mne_m2s.utils.memory_allocator`;
with tcmalloc it added about 20 MB and saved no time).

The C++ source is compiled on first use against this process's torch (its
headers and ``libc10``), cached like the compiled kernels
(:mod:`mne_m2s.nn._native`), under the setting of
:func:`mne_m2s.utils.set_cpu_kernels`: ``"torch"`` never uses it,
``"compiled"`` raises when it cannot run, ``"auto"`` logs once and runs on
torch's allocator. Once activated, it stays torch's CPU allocator for the
rest of the process (torch's oneDNN glue frees raw buffers through whichever
allocator is current), passing every request to the allocator it replaced
while no step runs. :func:`release_cached_memory` unmaps the cache (called at
the end of :meth:`~mne_m2s.training.M2SPretrainer.fit`).
"""

import contextlib
import ctypes
import threading
from pathlib import Path

from ..utils._kernels import get_cpu_kernels
from ..utils._malloc import _ALLOCATORS, memory_allocator
from . import _native

SOURCE = Path(__file__).with_name("_cpu_allocator.cpp")
#: Smallest block (bytes) taken from the cache; smaller ones go to torch's allocator.
THRESHOLD = 1 << 20
#: Fields of :func:`allocator_stats`, in the order the library writes them.
STATS = ("mapped", "cached", "in_use", "high_water", "peak_mapped", "hits", "misses",
         "evictions", "failures", "active", "installed")
#: ``malloc`` implementations that keep large blocks themselves (no cache under "auto"):
#: the preloadable ones :func:`~mne_m2s.utils.memory_allocator` recognises.
CACHING_MALLOCS = tuple(name for name, _ in _ALLOCATORS)
_lock = threading.Lock()
_malloc = []  # the process's malloc, looked up once
#: The loaded library, or why it cannot run (one per process: a second copy
#: loaded from another cache folder would replace the first as torch's allocator).
_library = None
_REFUSED = {
    -1: "torch keeps a CPU allocator of higher priority",
    -2: "another CPU allocator replaced it after it was installed",
}


class _AllocatorLibrary:
    """The loaded allocator library."""

    def __init__(self, path, compiler):
        lib = ctypes.CDLL(str(path))
        lib.m2s_allocator_activate.argtypes = [ctypes.c_size_t]
        lib.m2s_allocator_activate.restype = ctypes.c_int
        lib.m2s_allocator_deactivate.argtypes = []
        lib.m2s_allocator_deactivate.restype = None
        lib.m2s_allocator_release.argtypes = []
        lib.m2s_allocator_release.restype = None
        lib.m2s_allocator_stats.argtypes = [ctypes.c_void_p]
        lib.m2s_allocator_stats.restype = None
        self.lib = lib
        self.path = path
        self.compiler = compiler

    def activate(self, threshold=THRESHOLD):
        """Activate (nested calls count); None, or why it was refused."""
        code = self.lib.m2s_allocator_activate(int(threshold))
        return None if code == 0 else _REFUSED.get(code, f"error code {code}")

    def deactivate(self):
        self.lib.m2s_allocator_deactivate()

    def release(self):
        self.lib.m2s_allocator_release()

    def stats(self):
        out = (ctypes.c_uint64 * len(STATS))()
        self.lib.m2s_allocator_stats(out)
        return dict(zip(STATS, (int(v) for v in out), strict=True))


def load_allocator():
    """The compiled allocator library (built and cached on first use).

    Raises
    ------
    KernelUnavailable
        When it cannot be built or loaded here (the message says why).
    """
    global _library
    with _lock:
        if _library is None:
            try:
                _library = _native._open_library(SOURCE, "cpu_allocator", (),
                                                 "the caching CPU allocator", _AllocatorLibrary,
                                                 language="c++")
            except _native.KernelUnavailable as err:
                _library = err
        library = _library
    if isinstance(library, _native.KernelUnavailable):
        raise library
    return library


def _unavailable(reason):
    """Raise under ``"compiled"``; log once under ``"auto"``."""
    if get_cpu_kernels() == "compiled":
        raise _native.KernelUnavailable(
            f"set_cpu_kernels('compiled') (or MNE_M2S_CPU_KERNELS=compiled) cannot be "
            f"honoured for the caching CPU allocator: {reason}. Use set_cpu_kernels('auto') "
            f"or 'torch' to pre-train on torch's CPU allocator."
        )
    _native._log_once(f"Pre-training uses torch's CPU allocator: the caching allocator is "
                      f"unavailable ({reason})")


def _caching_malloc():
    """The process's ``malloc`` when it is one of :data:`CACHING_MALLOCS`, else None."""
    if not _malloc:
        _malloc.append(memory_allocator())
    return _malloc[0] if _malloc[0] in CACHING_MALLOCS else None


@contextlib.contextmanager
def caching_allocator(enabled=True):
    """Large CPU blocks from the cache while the block runs (see the module's docstring).

    Parameters
    ----------
    enabled : bool
        False: a no-op (for example when the net trains on a GPU).

    Yields
    ------
    active : bool
        Whether the cache serves this block.
    """
    kind = get_cpu_kernels()
    if not enabled or kind == "torch":
        yield False
        return
    malloc = _caching_malloc() if kind == "auto" else None
    if malloc is not None:
        _native._log_once(f"Pre-training uses torch's CPU allocator: the process's malloc is "
                          f"{malloc}, which keeps large blocks itself")
        yield False
        return
    try:
        library = load_allocator()
        refused = library.activate()
    except _native.KernelUnavailable as err:
        library, refused = None, str(err)
    if refused is not None:
        _unavailable(refused)
        yield False
        return
    try:
        yield True
    finally:
        library.deactivate()


def release_cached_memory():
    """Unmap the cached blocks (no-op when the allocator was never loaded).

    Blocks still held by tensors are unmapped when they are freed, until the
    next step activates the cache again.
    """
    library = _library
    if isinstance(library, _AllocatorLibrary):
        library.release()


def allocator_stats():
    """Counters of the cache (bytes and counts, see :data:`STATS`), or None if never loaded."""
    library = _library
    return library.stats() if isinstance(library, _AllocatorLibrary) else None


def allocator_status():
    """One line for :func:`mne_m2s.sys_info`: the allocator of CPU pre-training steps."""
    kind = get_cpu_kernels()
    if kind == "torch":
        return "torch (set_cpu_kernels('torch'))"
    malloc = _caching_malloc() if kind == "auto" else None
    if malloc is not None:
        return f"torch (malloc is {malloc}, which keeps large blocks itself)"
    try:
        library = load_allocator()
    except _native.KernelUnavailable as err:
        first = str(err).splitlines()[0]
        return f"torch ({first})" if kind == "auto" else f"unavailable: {first}"
    return f"caching, blocks >= {THRESHOLD >> 20} MiB ({library.compiler})"


__all__ = ["caching_allocator", "release_cached_memory", "allocator_stats",
           "allocator_status", "load_allocator"]
