"""Resumable experiments: finished units stored atomically, keyed by a hash of what made them.

An experiment is cut into *units* — one (dataset, subject, session, split,
method) — that are independent of each other. :class:`ResultStore` keeps one
JSON file per finished unit under ``<out>/units/``, written atomically (to a
temporary file in the same folder, then :func:`os.replace`) as soon as the
unit finishes, so a run killed at any moment (even by SIGKILL) leaves only
whole unit files behind and the same command run again skips them.

Each unit file is named after its unit and a hash of its *key*: the package
version, the dataset and paradigm, the protocol, the method's estimator
parameters, the tasks, the seed and a hash of the very data the unit reads. A
unit computed with other settings, data or package version has another key,
so it is never reused.

``<out>/experiment.json`` holds the experiment-level settings. A folder
holding the results of other settings is refused with an error naming the
fix (a new output folder, or ``overwrite=True``); nothing finished is deleted
either way: with ``overwrite=True`` the old unit files stay in ``units/``
(unused, since their keys differ) and only the summary files are replaced.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

from .._version import __version__
from ..utils._io import atomic_write

_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def stable_repr(value):
    """A ``repr`` without memory addresses, with dict keys sorted (for hashing)."""
    if isinstance(value, dict):
        items = ", ".join(f"{stable_repr(k)}: {stable_repr(v)}"
                          for k, v in sorted(value.items(), key=lambda kv: str(kv[0])))
        return "{" + items + "}"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(stable_repr(v) for v in value)
        return ("[" + inner + "]") if isinstance(value, list) else ("(" + inner + ")")
    return _ADDRESS.sub("", repr(value))


def estimator_params(est):
    """The parameters of an estimator that define its results, as text.

    ``verbose`` parameters (at any depth) are left out: they change what is
    shown, not what is computed.
    """
    params = est.get_params(deep=True) if hasattr(est, "get_params") else {}
    params = {k: v for k, v in params.items() if not k.split("__")[-1] == "verbose"}
    return f"{type(est).__module__}.{type(est).__qualname__}{stable_repr(params)}"


def hash_text(text, n=None):
    """SHA-256 hex digest of a string (first ``n`` characters)."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    return digest[:n] if n else digest


def hash_data(X, y=None, meta=None):
    """Hash of a paradigm's output: feature dict or Epochs, labels and trial metadata.

    Parameters
    ----------
    X : dict of str -> ndarray | mne.BaseEpochs
    y : array-like | None
    meta : pandas.DataFrame | None
        Only the ``subject``, ``session`` and ``run`` columns are hashed.

    Returns
    -------
    digest : str
    """
    h = hashlib.sha256()

    def add_array(a):
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())

    if isinstance(X, dict):
        for m in sorted(X):
            h.update(m.encode())
            add_array(np.asarray(X[m]))
    else:  # mne Epochs
        h.update(repr(X.ch_names).encode())
        h.update(repr(X.get_channel_types()).encode())
        add_array(X.get_data(copy=False))
    if y is not None:
        add_array(np.asarray(y).astype(str))
    if meta is not None:
        cols = [c for c in ("subject", "session", "run") if c in meta.columns]
        add_array(meta[cols].astype(str).to_numpy())
    return h.hexdigest()


def atomic_write_text(path, text):
    """Write ``text`` to ``path`` atomically (see :func:`mne_m2s.utils._io.atomic_write`)."""
    atomic_write(path, lambda fid: fid.write(text), text=True)


def atomic_write_bytes(path, data):
    """Write ``data`` (bytes) to ``path`` atomically."""
    atomic_write(path, lambda fid: fid.write(data))


class OutputFolderError(ValueError):
    """The output folder holds the results of other settings."""


class ResultStore:
    """Finished units of one experiment in a folder (see the module docstring).

    Parameters
    ----------
    path : path-like
        Output folder (created if needed).
    settings : dict
        Experiment-level settings (JSON-serialisable after
        :func:`stable_repr` of non-JSON values); a folder created with other
        settings is refused unless ``overwrite``.
    overwrite : bool
        Accept a folder of other settings: its ``experiment.json`` is
        replaced; its unit files are kept (and not reused).
    fix : str | None
        How the user fixes a settings clash (default: a new folder or
        ``overwrite``, in Python and command-line terms).
    """

    def __init__(self, path, settings, overwrite=False, fix=None):
        if fix is None:
            fix = ("write to a new output folder (out=NEW_DIR; mne-m2s: --out NEW_DIR), or "
                   "replace its summary with overwrite=True (mne-m2s: --overwrite)")
        self.path = Path(path)
        self.settings = json.loads(json.dumps(settings, default=stable_repr, sort_keys=True))
        self.hash = hash_text(json.dumps(self.settings, sort_keys=True))
        if self.path.exists() and not self.path.is_dir():
            raise OutputFolderError(f"The output path {str(self.path)!r} is a file, not a folder; "
                                    "pass a folder.")
        self.units_dir = self.path / "units"
        self.units_dir.mkdir(parents=True, exist_ok=True)
        manifest = self.path / "experiment.json"
        if manifest.exists():
            try:
                old = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise OutputFolderError(
                    f"{manifest} cannot be read ({err}); it is not an mne-m2s output folder or "
                    f"it is damaged: {fix}."
                ) from err
            if old.get("hash") != self.hash and not overwrite:
                changed = _changed_keys(old.get("settings", {}), self.settings)
                n_units = len(list(self.units_dir.glob("*.json")))
                raise OutputFolderError(
                    f"The output folder {str(self.path)!r} holds the results of other settings "
                    f"(different: {', '.join(changed) or 'package or layout'}; {n_units} finished "
                    f"unit(s), which are kept). To keep both, {fix}."
                )
        atomic_write_text(manifest, json.dumps(
            {"hash": self.hash, "package": __version__, "settings": self.settings},
            indent=1, sort_keys=True))

    @staticmethod
    def unit_name(key):
        """File name of a unit: readable fields and the hash of its key."""
        fields = [str(key.get(k, "")) for k in ("dataset", "subject", "session", "split",
                                                 "method")]
        stem = "_".join(_UNSAFE.sub("-", f) for f in fields)
        return f"{stem}__{hash_text(json.dumps(key, sort_keys=True, default=stable_repr), 16)}"

    def _file(self, key):
        return self.units_dir / f"{self.unit_name(key)}.json"

    def load(self, key):
        """The stored record ``{"rows": [...], "timings": {...}}`` of a unit, or None."""
        f = self._file(key)
        if not f.exists():
            return None
        try:
            record = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:  # cannot happen with atomic writes; recompute if it does
            return None
        if record.get("key") != json.loads(json.dumps(key, sort_keys=True, default=stable_repr)):
            return None
        return record

    def save(self, key, rows, timings):
        """Write a finished unit atomically.

        Parameters
        ----------
        key : dict
            The unit's key (JSON-serialisable).
        rows : list of dict
            Its result rows (scores).
        timings : dict
            Seconds spent (not part of the results table).
        """
        record = {"key": key, "rows": rows, "timings": timings}
        atomic_write_text(self._file(key),
                          json.dumps(record, sort_keys=True, default=stable_repr))


def _changed_keys(old, new, prefix=""):
    keys = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            keys.extend(_changed_keys(a, b, f"{prefix}{k}."))
        elif a != b:
            keys.append(f"{prefix}{k}")
    return keys


__all__ = [
    "OutputFolderError",
    "ResultStore",
    "atomic_write_bytes",
    "atomic_write_text",
    "estimator_params",
    "hash_data",
    "stable_repr",
]
