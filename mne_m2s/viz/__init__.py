"""Figures: scalp maps of features and attention, the shared space, results and ablations.

Every plotting function returns a standalone :class:`matplotlib.figure.Figure`
that is not attached to :mod:`matplotlib.pyplot` (no display backend needed,
nothing accumulates in pyplot's figure list): save it with ``fig.savefig``, or
let Jupyter display it. Functions that take ``axes`` draw into existing axes
instead and return their figure.

Importing this module does not import torch; :func:`compute_sts_attention`
and :func:`sts_attention_probabilities` import it when called.
"""

from ._attention import compute_sts_attention, plot_attention_topomap, sts_attention_probabilities
from ._embedding import plot_shared_space
from ._results import plot_ablation, plot_heatmap, plot_pretrain_history
from ._topomaps import plot_de_topomaps, plot_topomaps

__all__ = [
    "compute_sts_attention",
    "plot_ablation",
    "plot_attention_topomap",
    "plot_de_topomaps",
    "plot_heatmap",
    "plot_pretrain_history",
    "plot_results",
    "plot_shared_space",
    "plot_topomaps",
    "sts_attention_probabilities",
]


def __getattr__(name):
    # plot_results is the evaluation's figure (mne_m2s.evaluation.plot_results),
    # re-exported here so that every figure of the package is found in one place.
    if name == "plot_results":
        from ..evaluation import plot_results

        return plot_results
    raise AttributeError(f"module 'mne_m2s.viz' has no attribute {name!r}")
