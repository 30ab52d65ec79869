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

from ._malloc import memory_allocator

#: Packages whose versions :func:`sys_info` reports (read from their metadata:
#: nothing is imported for it).
_PACKAGES = ("numpy", "scipy", "scikit-learn", "pandas", "mne", "skorch", "torch",
             "torchaudio", "braindecode", "moabb", "matplotlib", "safetensors")


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
    """The CPU kernels of STS attention (at the SEED shape), dropout, the CLUB
    log-likelihood and float32 linear layers, and the allocator of CPU
    pre-training steps (see
    :func:`set_cpu_kernels`)."""
    from ..nn._allocator import allocator_status
    from ..nn._club import club_status
    from ..nn._dropout import dropout_status
    from ..nn._linear import linear_status
    from ..nn._native import kernel_status

    rows = []
    for name, status in (("STS kernel (CPU)", kernel_status), ("Dropout (CPU)", dropout_status),
                         ("CLUB log-likelihood (CPU)", club_status),
                         ("Linear float32 (CPU)", linear_status),
                         ("Allocator (CPU pre-training)", allocator_status)):
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
