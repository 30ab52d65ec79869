"""Evaluation: the papers' protocols, the method registry, ablations, statistics and reports."""

from .cross_modal import (
    COLUMNS,
    PROTOCOL_NAMES,
    CrossModalEvaluation,
    default_protocol,
    multimodal_task,
    parse_task,
    plot_results,
    sort_results,
    summarize,
)
from .methods import (
    MethodSpec,
    describe_methods,
    get_method,
    list_methods,
    make_pipelines,
    register_method,
    unregister_method,
)
from .splitters import PROTOCOLS, TrialHoldoutSplit, TrialKFold, get_protocol, trial_groups
from .units import OutputFolderError, ResultStore

__all__ = [
    "COLUMNS",
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "CrossModalEvaluation",
    "MethodSpec",
    "OutputFolderError",
    "ResultStore",
    "TrialHoldoutSplit",
    "TrialKFold",
    "default_protocol",
    "describe_methods",
    "get_method",
    "get_protocol",
    "list_methods",
    "make_pipelines",
    "multimodal_task",
    "parse_task",
    "plot_results",
    "register_method",
    "sort_results",
    "summarize",
    "trial_groups",
    "unregister_method",
]
