"""Baselines the M2S paper compares against (SPEC.md §5), as scikit-learn estimators.

* :mod:`mne_m2s.baselines.fusion` and :mod:`mne_m2s.baselines.svm` — the
  paper's supervised multimodal fusion and linear SVM baselines;
* :class:`~mne_m2s.baselines.braindecode.BraindecodeClassifier` — raw-EEG
  models of braindecode's zoo
  (:data:`~mne_m2s.baselines.braindecode.BRAINDECODE_MODELS`) trained with
  braindecode's ``EEGClassifier``; needs the ``braindecode`` extra
  (``pip install "mne-m2s[braindecode]"``).

The braindecode names are imported lazily: ``import mne_m2s.baselines``
never imports braindecode or torchaudio.
"""

import importlib

_LAZY = {
    "BraindecodeClassifier": "braindecode",
    "BRAINDECODE_MODELS": "braindecode",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(f"mne_m2s.baselines.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'mne_m2s.baselines' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
