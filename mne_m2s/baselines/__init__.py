"""Baselines and comparison systems of the M2S paper as scikit-learn classifiers.

* :mod:`mne_m2s.baselines.fusion` and :mod:`mne_m2s.baselines.svm` — the
  paper's supervised multimodal fusion reference and the linear SVM on
  per-window features;
* cross-modal systems (``pretrain`` on unlabelled paired modalities, ``fit`` on
  one modality, ``predict`` on another; the paper's Table 1):
  :class:`BDAERegressor`, :class:`BDAECGAN`, :class:`ECOFET`, :class:`UniCode`;
* supervised multimodal systems (``fit`` / ``predict`` on every modality; the
  paper's Table 4): :class:`BDAEClassifier`, :class:`ETFClassifier`,
  :class:`VigilanceNetClassifier`, :class:`MAETClassifier`;
* :class:`~mne_m2s.baselines.braindecode.BraindecodeClassifier` — raw-EEG
  models of braindecode's zoo
  (:data:`~mne_m2s.baselines.braindecode.BRAINDECODE_MODELS`) trained with
  braindecode's ``EEGClassifier``; needs the ``braindecode`` extra
  (``pip install "mne-m2s[braindecode]"``).

Each comparison system documents its source, what is implemented as
published, what was adapted and why, and where its hyper-parameters come
from. Importing this package is cheap: the classes (and torch, braindecode)
load on first access.
"""

import importlib

_LAZY = {
    "BDAEClassifier": "bdae",
    "BDAERegressor": "bdae",
    "BDAECGAN": "cgan",
    "ECOFET": "ecofet",
    "UniCode": "unicode",
    "ETFClassifier": "etf",
    "VigilanceNetClassifier": "vigilancenet",
    "MAETClassifier": "maet",
    "BraindecodeClassifier": "braindecode",
    "BRAINDECODE_MODELS": "braindecode",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
