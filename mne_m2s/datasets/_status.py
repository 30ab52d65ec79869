"""Which registered datasets are found locally (backs ``mne-m2s datasets``)."""

from __future__ import annotations

from ._registry import _REGISTRY, get_dataset
from .base import BaseEmotionDataset, normalize_code


def dataset_status(code=None, path=None):
    """Report, per dataset and level, whether its files are found.

    Nothing is read beyond the folder layout and nothing is downloaded.

    Parameters
    ----------
    code : str | None
        One dataset code (case and separators ignored); ``None`` reports every
        registered dataset.
    path : path-like | None
        Root folder to check (only with ``code``); by default each dataset's
        own lookup (environment variable, MNE config, ``~/mne_data``).

    Returns
    -------
    status : pandas.DataFrame
        One row per dataset and level, columns ``code``, ``level``, ``path``
        (the folder looked at; empty for datasets without files),
        ``found`` (bool) and ``message`` (the folder, or the first line of the
        layout error saying what is missing).
    """
    import pandas as pd

    if path is not None and code is None:
        raise ValueError("path= needs code=: a path is the root folder of one dataset.")
    if code is None:
        codes = list(_REGISTRY)
    else:
        by_norm = {normalize_code(c): c for c in _REGISTRY}
        if normalize_code(code) not in by_norm:
            get_dataset(code)  # raises the registry's error with a suggestion
        codes = [by_norm[normalize_code(code)]]
    rows = []
    for c in codes:
        kwargs = {} if path is None else {"path": path}
        try:
            default = get_dataset(c, **kwargs)
        except Exception as err:  # a broken adapter must not hide the others
            rows.append({"code": c, "level": "", "path": "", "found": False, "message": str(err)})
            continue
        levels = getattr(default, "levels", (getattr(default, "level", ""),))
        for level in levels:
            ds = default
            if level != getattr(default, "level", level):
                ds = get_dataset(c, level=level, **kwargs)
            rows.append(_row(c, level, ds))
    return pd.DataFrame(rows, columns=["code", "level", "path", "found", "message"])


def _row(code, level, ds):
    found, message = ds.check_files()
    root = ""
    if type(ds).check_files is BaseEmotionDataset.check_files:  # a dataset read from files
        root = str(ds.data_path())
    return {"code": code, "level": level, "path": root, "found": bool(found), "message": message}
