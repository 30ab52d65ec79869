"""Evaluation: the papers' protocols, the method registry, ablations, statistics and reports."""

from .ablation import ABLATION_KINDS, run_ablation, summarize_ablation
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
from .experiments import ExperimentResult, run_demo, run_evaluation
from .methods import (
    MethodSpec,
    describe_methods,
    get_method,
    list_methods,
    make_pipelines,
    register_method,
    unregister_method,
)
from .report import paper_table, plot_paired, write_report
from .splitters import PROTOCOLS, TrialHoldoutSplit, TrialKFold, get_protocol, trial_groups
from .stats import compare_methods
from .units import OutputFolderError, ResultStore

__all__ = [
    "ABLATION_KINDS",
    "COLUMNS",
    "PROTOCOLS",
    "PROTOCOL_NAMES",
    "CrossModalEvaluation",
    "ExperimentResult",
    "MethodSpec",
    "OutputFolderError",
    "ResultStore",
    "TrialHoldoutSplit",
    "TrialKFold",
    "compare_methods",
    "default_protocol",
    "describe_methods",
    "get_method",
    "get_protocol",
    "list_methods",
    "make_pipelines",
    "multimodal_task",
    "paper_table",
    "parse_task",
    "plot_paired",
    "plot_results",
    "register_method",
    "run_ablation",
    "run_demo",
    "run_evaluation",
    "sort_results",
    "summarize",
    "summarize_ablation",
    "trial_groups",
    "unregister_method",
    "write_report",
]
