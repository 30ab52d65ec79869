"""Paradigms: from a dataset to samples of consecutive windows, labels and metadata.

* :class:`EmotionParadigm` — this package's paradigm: samples of
  ``n_windows`` consecutive windows strictly inside trials, for signal-level
  (Raw) and feature-level datasets; returns multimodal :class:`mne.Epochs` or
  feature dicts that :class:`~mne_m2s.M2SClassifier` consumes.
* :class:`EmotionWindowsParadigm` — the same samples as a MOABB paradigm
  (:class:`moabb.paradigms.base.BaseParadigm`), so that MOABB's evaluations run
  on the signal-level emotion datasets.

The implementations live in ``mne_m2s._emotion_paradigm`` and
``mne_m2s._moabb_paradigm`` (the MOABB paradigm reuses the windowing of the
first, and neither imports this module).
"""

from ._emotion_paradigm import EmotionParadigm
from ._moabb_paradigm import EmotionWindowsParadigm

__all__ = ["EmotionParadigm", "EmotionWindowsParadigm"]
