"""Optional on-disk cache of parsed subjects.

Keyed by the dataset's constructor parameters and by the size and
modification time of the source files; written atomically (temporary file in
the same folder, then :func:`os.replace`). The ``cache``, ``cache_dir`` and
``force_update`` parameters themselves are handled by
:class:`~mne_m2s.datasets.BaseEmotionDataset`.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from pathlib import Path

import numpy as np

from ..utils import logger
from ..utils._io import atomic_write, default_cache_dir
from ._containers import FeatureRun
from ._raw import RawTrial, to_runs

_CACHE_FORMAT = 2


_NOT_KEY = {"path", "cache", "cache_dir", "force_update"}


def _cache_params(dataset):
    """The dataset's constructor parameters (what the parsed data depend on)."""
    names = [
        name
        for name, par in inspect.signature(type(dataset).__init__).parameters.items()
        if name != "self" and par.kind not in (par.VAR_POSITIONAL, par.VAR_KEYWORD)
    ]
    params = {k: getattr(dataset, k) for k in names if k not in _NOT_KEY and hasattr(dataset, k)}
    params["level"] = dataset.level
    return json.loads(json.dumps(params, sort_keys=True, default=str))


def _fingerprint(files):
    out = []
    for f in sorted(Path(p).resolve() for p in files):
        stat = f.stat()
        out.append([str(f), stat.st_size, stat.st_mtime_ns])
    return out


def cache_file(dataset, subject, files):
    """Path of the cache file of one subject for the dataset's current parameters."""
    key = {
        "format": _CACHE_FORMAT,
        "code": dataset.code,
        "subject": int(subject),
        "params": _cache_params(dataset),
        "files": _fingerprint(files),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    folder = Path(dataset.cache_dir) if dataset.cache_dir is not None else default_cache_dir()
    slug = re.sub(r"[^0-9a-z]+", "", dataset.code.lower())
    return (
        Path(os.path.expanduser(str(folder)))
        / slug
        / (f"sub-{int(subject):02d}_{dataset.level}_{digest}.npz")
    )


def _records_to_arrays(records):
    arrays, meta = {}, []
    for session, runs in records.items():
        for run, rec in runs.items():
            i = len(meta)
            if isinstance(rec, RawTrial):
                arrays[f"{i}.data"] = rec.data
                meta.append(
                    {
                        "kind": "raw",
                        "session": session,
                        "run": run,
                        "ch_names": list(rec.ch_names),
                        "ch_types": list(rec.ch_types),
                        "sfreq": float(rec.sfreq),
                        "label": rec.label,
                        "description": rec.description,
                        "onset": rec.onset,
                        "duration": rec.duration,
                    }
                )
            else:
                for m, a in rec.features.items():
                    arrays[f"{i}.{m}"] = a
                meta.append(
                    {
                        "kind": "features",
                        "session": session,
                        "run": run,
                        "modalities": list(rec.features),
                        "window": rec.window,
                        "label": rec.label,
                        "feature_names": rec.feature_names,
                        "description": rec.description,
                    }
                )
    arrays["__meta__"] = np.array(json.dumps(meta))
    return arrays


def _arrays_to_records(npz):
    meta = json.loads(str(npz["__meta__"][()]))
    records = {}
    for i, m in enumerate(meta):
        if m["kind"] == "raw":
            rec = RawTrial(
                data=npz[f"{i}.data"],
                ch_names=m["ch_names"],
                ch_types=m["ch_types"],
                sfreq=m["sfreq"],
                label=m["label"],
                description=m["description"],
                onset=m["onset"],
                duration=m["duration"],
            )
        else:
            rec = FeatureRun(
                features={mod: npz[f"{i}.{mod}"] for mod in m["modalities"]},
                window=m["window"],
                label=m["label"],
                feature_names=m["feature_names"],
                description=m["description"],
            )
        records.setdefault(m["session"], {})[m["run"]] = rec
    return records


def write_atomic_npz(fname, arrays):
    """Write an ``.npz`` atomically: temporary file in the same folder, then rename.

    Nothing is left behind when writing fails.
    """
    fname = Path(fname)
    fname.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(fname, lambda fid: np.savez(fid, **arrays))


def load_subject(dataset, subject, files, parse):
    """Parse one subject, through the cache when the dataset asks for it.

    Parameters
    ----------
    dataset : BaseEmotionDataset
        Must have the attributes ``cache``, ``cache_dir`` and ``force_update``.
    subject : int
        The subject.
    files : list of path-like
        Every source file :func:`parse` reads (their size and modification
        time are part of the cache key).
    parse : callable
        ``parse() -> {session: {run: RawTrial | FeatureRun}}``.

    Returns
    -------
    runs : dict
        ``{session: {run: mne.io.Raw | FeatureRun}}``.
    """
    if not dataset.cache:
        return to_runs(parse())
    fname = cache_file(dataset, subject, files)
    if fname.is_file() and not dataset.force_update:
        try:
            with open(fname, "rb") as fid, np.load(fid, allow_pickle=False) as npz:
                records = _arrays_to_records(npz)
            logger.info("%s subject %d: loaded from the cache %s", dataset.code, subject, fname)
            return to_runs(records)
        except MemoryError:
            raise
        except Exception as err:
            logger.warning(
                "Ignoring the unreadable cache file %s (%s); rebuilding it.", fname, err
            )
    records = parse()
    write_atomic_npz(fname, _records_to_arrays(records))
    logger.info("%s subject %d: cached in %s", dataset.code, subject, fname)
    return to_runs(records)
