"""Evaluation: trial-wise splitters of the papers' protocols and the cross-modal evaluation."""

from .cross_modal import (
    CrossModalEvaluation,
    default_protocol,
    parse_task,
    plot_results,
    summarize,
)
from .splitters import PROTOCOLS, TrialHoldoutSplit, TrialKFold, get_protocol, trial_groups

__all__ = [
    "PROTOCOLS",
    "CrossModalEvaluation",
    "TrialHoldoutSplit",
    "TrialKFold",
    "default_protocol",
    "get_protocol",
    "parse_task",
    "plot_results",
    "summarize",
    "trial_groups",
]
