"""Comparison systems of the M2S paper as scikit-learn classifiers.

Cross-modal systems (``pretrain`` on unlabelled paired modalities, ``fit`` on
one modality, ``predict`` on another; the paper's Table 1):
:class:`BDAERegressor`, :class:`BDAECGAN`, :class:`ECOFET`, :class:`UniCode`.

Supervised multimodal systems (``fit`` / ``predict`` on every modality; the
paper's Table 4): :class:`BDAEClassifier`, :class:`ETFClassifier`,
:class:`VigilanceNetClassifier`, :class:`MAETClassifier`.

Each class documents its source, what is implemented as published, what was
adapted and why, and where its hyper-parameters come from. Importing this
package is cheap: the classes (and torch) load on first access.
"""

_LAZY = {
    "BDAEClassifier": "bdae",
    "BDAERegressor": "bdae",
    "BDAECGAN": "cgan",
    "ECOFET": "ecofet",
    "UniCode": "unicode",
    "ETFClassifier": "etf",
    "VigilanceNetClassifier": "vigilancenet",
    "MAETClassifier": "maet",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
