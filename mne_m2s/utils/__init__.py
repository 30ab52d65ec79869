"""Validation, logging and device helpers shared by the package."""

from ._checks import check_option, check_random_state_seed, check_type
from ._logging import logger, set_log_level
from .device import resolve_device

__all__ = [
    "check_option",
    "check_random_state_seed",
    "check_type",
    "logger",
    "resolve_device",
    "set_log_level",
]
