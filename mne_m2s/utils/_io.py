"""Atomic file writes (model files, checkpoints, caches, result units) and the cache folder."""

import os
import tempfile
from pathlib import Path


def atomic_write(path, write, *, text=False):
    """Write ``path`` atomically: all of it, or nothing (the previous file stays).

    ``write(fid)`` fills a temporary file in the same folder, which is flushed
    to disk and moved over ``path`` with :func:`os.replace`; the folder is
    then synced so that the rename itself is durable. When ``write`` (or
    anything else) fails, the temporary file is removed and ``path`` is left
    as it was.

    Parameters
    ----------
    path : path-like
        Destination file; its folder must exist.
    write : callable
        ``write(fid)`` writes the content to the open file object ``fid``.
    text : bool
        Open the temporary file in text mode (UTF-8) instead of binary.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mode = {"mode": "w", "encoding": "utf-8"} if text else {"mode": "wb"}
        with os.fdopen(fd, **mode) as fid:
            write(fid)
            fid.flush()
            os.fsync(fid.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory file descriptors
        return
    try:
        os.fsync(dir_fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dir_fd)


def default_cache_dir():
    """The package's cache folder.

    Dataset caches (``cache=True`` with ``cache_dir=None``) and compiled CPU
    kernels (``kernels/``) live there: the environment variable / MNE config
    key ``MNE_M2S_CACHE_DIR``, else ``~/mne_data/mne_m2s_cache``.
    """
    value = os.environ.get("MNE_M2S_CACHE_DIR")
    if not value:
        try:
            import mne

            value = mne.get_config("MNE_M2S_CACHE_DIR", use_env=False)
        except Exception:  # pragma: no cover - a broken MNE config file
            value = None
    if value:
        return Path(os.path.expanduser(value))
    return Path.home() / "mne_data" / "mne_m2s_cache"
