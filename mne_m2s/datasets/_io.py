"""Backward-compatible view of the dataset I/O helpers.

The helpers live in modules split by responsibility:
:mod:`~mne_m2s.datasets._readers` (file readers and layout checks),
:mod:`~mne_m2s.datasets._raw` (signal-level trials -> :class:`mne.io.Raw`),
:mod:`~mne_m2s.datasets._cache` (the parse cache) and
:mod:`~mne_m2s.datasets._montage` (the SEED montage).
"""

from ._cache import (  # noqa: F401
    cache_file,
    default_cache_dir,
    load_subject,
    write_atomic_npz,
)
from ._montage import SEED_CHANNELS, make_seed_montage  # noqa: F401
from ._raw import RawTrial, build_raw, to_runs, trial_description  # noqa: F401
from ._readers import (  # noqa: F401
    BANDS,
    UV,
    align_lengths,
    binarize,
    check_array,
    check_keys,
    check_shape,
    clean_nonfinite,
    describe_dir,
    find_dir,
    layout_error,
    loads_pickle,
    mat_variables,
    read_mat,
    read_npz,
    read_pickle,
    read_prefixed_trials,
    require_file,
    resample,
    unpickle_npz_value,
)
from .base import DatasetLayoutError, FeatureRun  # noqa: F401
