"""Which ``malloc`` the running process uses (a leaf module: no package imports)."""

import os

#: Shared libraries that replace the C library's ``malloc`` when preloaded.
_ALLOCATORS = (("jemalloc", "libjemalloc"), ("tcmalloc", "libtcmalloc"),
               ("mimalloc", "libmimalloc"))


def memory_allocator():
    """Name the ``malloc`` implementation the running process uses.

    The library that provides the process's ``malloc`` symbol is found from
    the symbol's address and the process's memory map (Linux
    ``/proc/self/maps``). A jemalloc, tcmalloc or mimalloc library preloaded
    with ``LD_PRELOAD`` provides it for every CPU tensor; otherwise on Linux
    it is glibc's. A copy of one of those libraries that a package loads for
    its own use does not count. It matters on the CPU: in the benchmark in
    :doc:`/performance`, glibc's heap held about 170 MB more than tcmalloc at
    the peak of a pre-training step, and page faults cost time, until
    pre-training steps took their large blocks from a cache of their own
    (which is not used when the process's ``malloc`` is one of the other three).

    Returns
    -------
    name : str
        ``"jemalloc"``, ``"tcmalloc"``, ``"mimalloc"`` or ``"glibc"``; another
        library's file name when it provides ``malloc`` (e.g. musl's loader);
        ``"system"`` where the library cannot be told (no ``/proc``: macOS,
        Windows).
    """
    try:
        import ctypes

        address = ctypes.cast(ctypes.CDLL(None).malloc, ctypes.c_void_p).value
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fid:
            lines = fid.readlines()
    except (OSError, AttributeError, TypeError):
        return "system"
    return _allocator_at(lines, address)


def _allocator_at(lines, address):
    """Classify the library mapped at ``address`` in ``/proc/<pid>/maps`` lines."""
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) < 6 or "-" not in fields[0]:
            continue
        lo, hi = (int(v, 16) for v in fields[0].split("-"))
        if lo <= address < hi:
            name = os.path.basename(fields[5].strip())
            for allocator, stem in _ALLOCATORS:
                if name.startswith(stem):
                    return allocator
            return "glibc" if name.startswith("libc.so") or name.startswith("libc-") else name
    return "system"
