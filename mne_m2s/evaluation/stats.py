"""Statistics of the summary: M2S against each baseline, paired over subjects.

Per dataset and task, each subject's score of a method is the mean over its
sessions and splits; :func:`compare_methods` then compares the reference
method (M2S) with each baseline over the subjects both have:

* the paired t-test (:func:`scipy.stats.ttest_rel`) and the Wilcoxon
  signed-rank test (:func:`scipy.stats.wilcoxon`, two-sided) — the tests that
  match the design (the same subjects under both methods);
* the independent-samples t-test (:func:`scipy.stats.ttest_ind`), the test the
  M2S paper reports, named as such: it ignores the pairing;
* the mean difference and the numbers of subjects where the reference method
  is higher (wins), lower (losses) or equal (ties).

A multimodal baseline (task ``"eeg+eye->eeg+eye"``) is compared with every
task of the reference method: how far a single modality is from the
multimodal performance.
"""

from __future__ import annotations

import warnings

import numpy as np

#: Columns of :func:`compare_methods`.
STAT_COLUMNS = (
    "dataset", "task", "method", "baseline", "baseline_task", "score", "n_subjects",
    "mean_method", "mean_baseline", "mean_difference", "wins", "losses", "ties",
    "paired_t", "paired_t_p", "wilcoxon_W", "wilcoxon_p", "independent_t", "independent_t_p",
)


def per_subject(results, score="balanced_accuracy"):
    """Scores per dataset, method, task and subject (sessions and splits averaged).

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    score : str

    Returns
    -------
    scores : pandas.Series
        Index ``(dataset, method, task, subject)``.
    """
    return results.groupby(["dataset", "method", "task", "subject"], sort=False)[score].mean()


def subject_scores(results, score="balanced_accuracy"):
    """Per (dataset, method, task): a Series of per-subject scores (sessions, splits averaged).

    Parameters
    ----------
    results : pandas.DataFrame
    score : str

    Returns
    -------
    scores : dict of (str, str, str) -> pandas.Series
        Indexed by subject, in order of appearance.
    """
    out = {}
    for key, group in results.groupby(["dataset", "method", "task"], sort=False):
        out[key] = group.groupby("subject", sort=False)[score].mean()
    return out


def _test(fn, *args, **kwargs):
    """Statistic and p-value, NaN where the test is undefined (too few or constant values)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = fn(*args, **kwargs)
        except ValueError:
            return np.nan, np.nan
    return float(res.statistic), float(res.pvalue)


def compare_methods(results, method="M2S", baselines=None, score="balanced_accuracy"):
    """M2S (or ``method``) against each baseline, per dataset and task, over subjects.

    Parameters
    ----------
    results : pandas.DataFrame
        Rows of :class:`~mne_m2s.evaluation.CrossModalEvaluation`.
    method : str
        The method compared with the others.
    baselines : list of str | None
        Methods to compare with (default: every other method in ``results``).
    score : str
        Score column.

    Returns
    -------
    stats : pandas.DataFrame
        One row per dataset, task and baseline, with the columns of
        :data:`STAT_COLUMNS`: means, ``mean_difference`` (method - baseline),
        ``wins`` / ``losses`` / ``ties`` over subjects, ``paired_t`` and
        ``paired_t_p`` (paired t-test), ``wilcoxon_W`` and ``wilcoxon_p``
        (Wilcoxon signed-rank), ``independent_t`` and ``independent_t_p``
        (independent-samples t-test, as the paper reports). p-values are NaN
        where a test is undefined (fewer than 2 subjects, or all differences
        zero for the Wilcoxon test).
    """
    import pandas as pd
    from scipy import stats

    if results.empty:
        raise ValueError("results is empty: nothing to compare.")
    if method not in set(results["method"]):
        raise ValueError(f"results have no method {method!r}; methods are "
                         f"{list(dict.fromkeys(results['method']))}.")
    if baselines is None:
        baselines = [m for m in dict.fromkeys(results["method"]) if m != method]
    scores = subject_scores(results, score)
    rows = []
    for dataset in dict.fromkeys(results["dataset"]):
        tasks = [t for (d, m, t) in scores if d == dataset and m == method]
        for baseline in baselines:
            base_tasks = [t for (d, m, t) in scores if d == dataset and m == baseline]
            if not base_tasks:
                continue
            for task in tasks:
                if task in base_tasks:
                    base_task = task
                elif len(base_tasks) == 1 and "+" in base_tasks[0]:
                    base_task = base_tasks[0]  # the multimodal reference
                else:
                    continue
                a = scores[(dataset, method, task)]
                b = scores[(dataset, baseline, base_task)]
                common = a.index.intersection(b.index)
                a, b = a.loc[common].to_numpy(float), b.loc[common].to_numpy(float)
                d = a - b
                n = len(common)
                paired = _test(stats.ttest_rel, a, b) if n >= 2 else (np.nan, np.nan)
                wilcoxon = (_test(stats.wilcoxon, d) if n >= 2 and np.any(d != 0)
                            else (np.nan, np.nan))
                independent = _test(stats.ttest_ind, a, b) if n >= 2 else (np.nan, np.nan)
                rows.append(dict(
                    dataset=dataset, task=task, method=method, baseline=baseline,
                    baseline_task=base_task, score=score, n_subjects=n,
                    mean_method=float(a.mean()), mean_baseline=float(b.mean()),
                    mean_difference=float(d.mean()), wins=int((d > 0).sum()),
                    losses=int((d < 0).sum()), ties=int((d == 0).sum()),
                    paired_t=paired[0], paired_t_p=paired[1],
                    wilcoxon_W=wilcoxon[0], wilcoxon_p=wilcoxon[1],
                    independent_t=independent[0], independent_t_p=independent[1],
                ))
    return pd.DataFrame(rows, columns=list(STAT_COLUMNS))


__all__ = ["STAT_COLUMNS", "compare_methods", "per_subject", "subject_scores"]
