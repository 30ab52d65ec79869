"""Validation, logging, device and system-information helpers shared by the package."""

from ._checks import check_option, check_random_state_seed, check_type
from ._io import default_cache_dir
from ._kernels import get_cpu_kernels, set_cpu_kernels
from ._logging import logger, set_log_level
from ._sysinfo import memory_allocator, sys_info

__all__ = [
    "check_option",
    "check_random_state_seed",
    "check_type",
    "default_cache_dir",
    "get_cpu_kernels",
    "logger",
    "memory_allocator",
    "resolve_device",
    "set_log_level",
    "set_cpu_kernels",
    "sys_info",
]


def __getattr__(name):
    # resolve_device needs torch: import it only when asked for (keeps
    # ``import mne_m2s.datasets`` / ``mne_m2s.features`` light).
    if name == "resolve_device":
        from .device import resolve_device

        return resolve_device
    raise AttributeError(f"module 'mne_m2s.utils' has no attribute {name!r}")
