"""Multi-to-Single (M2S) emotion recognition for MNE, braindecode, MOABB and skorch."""

from ._version import __version__

__all__ = ["M2SClassifier", "__version__"]


def __getattr__(name):
    # Lazy import: ``import mne_m2s`` stays light (no torch) until the estimator is used.
    if name == "M2SClassifier":
        from .classifier import M2SClassifier

        return M2SClassifier
    raise AttributeError(f"module 'mne_m2s' has no attribute {name!r}")
