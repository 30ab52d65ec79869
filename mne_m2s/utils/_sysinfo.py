"""What a bug report or a benchmark figure needs to know about the machine.

:func:`sys_info` prints the platform, the versions of the packages M2S runs
on and the settings that decide CPU speed and memory (torch threads, the CPU
kernels torch dispatches to, the memory allocator of the process);
:func:`memory_allocator` names that allocator.
"""

import os
import platform
import sys
from importlib import metadata

#: Shared libraries that replace the C library's ``malloc`` when preloaded.
_ALLOCATORS = (("jemalloc", "libjemalloc"), ("tcmalloc", "libtcmalloc"),
               ("mimalloc", "libmimalloc"))

#: Packages whose versions :func:`sys_info` reports (read from their metadata:
#: nothing is imported for it).
_PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "mne", "skorch", "torch",
             "torchaudio", "braindecode", "moabb", "matplotlib", "safetensors")


def memory_allocator():
    """Name the ``malloc`` implementation the running process uses.

    The library that provides the process's ``malloc`` symbol is found from
    the symbol's address and the process's memory map (Linux
    ``/proc/self/maps``). A jemalloc, tcmalloc or mimalloc library preloaded
    with ``LD_PRELOAD`` provides it for every CPU tensor; otherwise on Linux
    it is glibc's. A copy of one of those libraries that a package loads for
    its own use does not count. It matters on the CPU: in the benchmark in
    :doc:`/performance`, glibc holds about 250 MB more at the peak of a
    pre-training step than tcmalloc or jemalloc.

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


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fid:
            for line in fid:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _torch_lines():
    import torch

    lines = [
        ("torch threads", f"{torch.get_num_threads()} intra-op, "
                          f"{torch.get_num_interop_threads()} inter-op"),
        ("CPU kernels", torch.backends.cpu.get_cpu_capability()),
        ("MKL / oneDNN", f"{torch.backends.mkl.is_available()} / "
                         f"{torch.backends.mkldnn.is_available()}"),
        ("CUDA build", torch.version.cuda or "none (CPU-only build)"),
    ]
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        lines.append(("CUDA devices", "; ".join(names)))
    else:
        lines.append(("CUDA devices", "none available"))
    lines.extend(_kernel_lines())
    return lines


def _kernel_lines():
    """The CPU kernels of STS attention (at the SEED shape), dropout and float32
    linear layers (see :func:`set_cpu_kernels`)."""
    from ..nn._dropout import dropout_status
    from ..nn._linear import linear_status
    from ..nn._native import kernel_status

    rows = []
    for name, status in (("STS kernel (CPU)", kernel_status), ("Dropout (CPU)", dropout_status),
                         ("Linear float32 (CPU)", linear_status)):
        try:
            rows.append((name, status()))
        except ValueError as err:  # a malformed MNE_M2S_CPU_KERNELS
            rows.append((name, f"invalid setting: {err}"))
    return rows


def sys_info(fid=None):
    """Print the platform, package versions and CPU settings (as :func:`mne.sys_info`).

    Paste its output into bug reports and next to benchmark figures: the
    speed and memory of pre-training on the CPU depend on the torch threads,
    the CPU kernels torch uses, the compiled kernels of STS attention and
    dropout and the product of float32 linear layers
    (:func:`~mne_m2s.utils.set_cpu_kernels`; building a kernel, the first
    time, takes a second) and the memory allocator (see :doc:`/performance`).
    Also ``mne-m2s sys-info`` on the command line.

    Parameters
    ----------
    fid : file-like | None
        Where to write (default: standard output).
    """
    from .._version import __version__

    fid = sys.stdout if fid is None else fid
    rows = [
        ("Platform", platform.platform()),
        ("Python", sys.version.split()[0]),
        ("CPU", f"{_cpu_name()}, {os.cpu_count()} logical cores"),
        ("mne-m2s", __version__),
    ]
    rows += [(name, _version(name)) for name in _PACKAGES]
    if _version("torch") != "not installed":
        rows += _torch_lines()
    rows.append(("memory allocator", memory_allocator()))
    width = max(len(k) for k, _ in rows) + 1
    for key, value in rows:
        print(f"{key + ':':<{width}} {value}", file=fid)


__all__ = ["memory_allocator", "sys_info"]
