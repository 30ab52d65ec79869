"""Emotion datasets with a MOABB-like interface (licensed data read from local paths).

Adapters are imported lazily, so ``import mne_m2s.datasets`` stays cheap.
"""

from ._registry import _REGISTRY, _dataset_class, get_dataset, list_datasets
from .base import BaseEmotionDataset, DatasetLayoutError, FeatureRun

__all__ = [
    "BaseEmotionDataset",
    "DatasetLayoutError",
    "FeatureRun",
    "get_dataset",
    "list_datasets",
    *(cls for _, cls in _REGISTRY.values()),
]


def __getattr__(name):
    if any(cls == name for _, cls in _REGISTRY.values()):
        return _dataset_class(name)
    raise AttributeError(f"module 'mne_m2s.datasets' has no attribute {name!r}")
