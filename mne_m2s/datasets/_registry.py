"""Registry of datasets by code (``get_dataset("SEED-IV")``, ``list_datasets()``)."""

import importlib

from ..utils._checks import _suggest
from .base import normalize_code

# code -> (module, class name); modules are imported only when a dataset is asked for.
_REGISTRY = {
    "SEED": ("seed", "SEED"),
    "SEED-IV": ("seed_iv", "SEEDIV"),
    "SEED-V": ("seed_v", "SEEDV"),
    "DEAP": ("deap", "DEAP"),
    "DREAMER": ("dreamer", "DREAMER"),
    "SyntheticEmotion": ("synthetic", "SyntheticEmotion"),
}


def _dataset_class(name):
    module, cls = next((m, c) for m, c in _REGISTRY.values() if c == name)
    return getattr(importlib.import_module(f"mne_m2s.datasets.{module}"), cls)


def list_datasets():
    """Return the registered dataset codes.

    Returns
    -------
    codes : list of str
        E.g. ``["SEED", "SEED-IV", "SEED-V", "DEAP", "DREAMER", "SyntheticEmotion"]``.
    """
    return list(_REGISTRY)


def get_dataset(code, **kwargs):
    """Instantiate a dataset from its code.

    Parameters
    ----------
    code : str
        A code of :func:`list_datasets`; case and separators are ignored
        (``"seed_iv"``, ``"SEEDIV"`` and ``"SEED-IV"`` are the same).
    **kwargs
        Passed to the dataset's constructor (``path``, ``level`` …).

    Returns
    -------
    dataset : BaseEmotionDataset
    """
    by_norm = {normalize_code(c): c for c in _REGISTRY}
    key = by_norm.get(normalize_code(code))
    if key is None:
        raise ValueError(
            f"Unknown dataset code {code!r}. Registered codes are {', '.join(_REGISTRY)}."
            f"{_suggest(str(code), list(_REGISTRY))}"
        )
    return _dataset_class(_REGISTRY[key][1])(**kwargs)
