"""The package logger (MNE style): library code logs, only the CLI prints."""

import logging

logger = logging.getLogger("mne_m2s")
if not logger.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False


def set_log_level(verbose=None):
    """Set the level of the ``mne_m2s`` logger.

    Parameters
    ----------
    verbose : bool | str | int | None
        ``True`` or ``"INFO"`` shows progress messages, ``False``/``None`` or
        ``"WARNING"`` only warnings; any :mod:`logging` level name or number works.

    Returns
    -------
    old_level : int
        The level before the call, so it can be restored.
    """
    old = logger.level
    if verbose is None or verbose is False:
        level = logging.WARNING
    elif verbose is True:
        level = logging.INFO
    elif isinstance(verbose, str):
        level = logging.getLevelName(verbose.upper())
        if not isinstance(level, int):
            raise ValueError(
                f"verbose must be a logging level name such as 'INFO' or 'WARNING', "
                f"got {verbose!r}."
            )
    else:
        level = int(verbose)
    logger.setLevel(level)
    return old
