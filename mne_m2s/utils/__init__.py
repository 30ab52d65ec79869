"""Validation, logging and device helpers shared by the package."""

from ._checks import check_option, check_random_state_seed, check_type
from ._logging import logger, set_log_level

__all__ = [
    "check_option",
    "check_random_state_seed",
    "check_type",
    "logger",
    "resolve_device",
    "set_log_level",
]


def __getattr__(name):
    # resolve_device needs torch: import it only when asked for (keeps
    # ``import mne_m2s.datasets`` / ``mne_m2s.features`` light).
    if name == "resolve_device":
        from .device import resolve_device

        return resolve_device
    raise AttributeError(f"module 'mne_m2s.utils' has no attribute {name!r}")
