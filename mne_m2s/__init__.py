"""Multi-to-Single (M2S) emotion recognition for MNE, braindecode, MOABB and skorch."""

from ._version import __version__

__all__ = ["M2SClassifier", "PretrainedM2S", "__version__", "sys_info"]


def __getattr__(name):
    # Lazy import: ``import mne_m2s`` stays light (no torch) until the estimator is used.
    if name == "M2SClassifier":
        from .classifier import M2SClassifier

        return M2SClassifier
    if name == "PretrainedM2S":
        from ._persistence import PretrainedM2S

        return PretrainedM2S
    if name == "sys_info":
        from .utils._sysinfo import sys_info

        return sys_info
    raise AttributeError(f"module 'mne_m2s' has no attribute {name!r}")
