"""Wall time of the experiment runners; prints JSON.

* ``mne-m2s demo --quick`` end to end (a subprocess: imports, data, 2 subjects,
  M2S + clip + supervised, report and figures);
* one ablation (``--kind``, default ``cpc``: clip with and without M2M CPC) on
  SyntheticEmotion with the quick demo model, with ``n_jobs=1`` and
  ``n_jobs=2`` (joblib processes), checking that both give the same scores.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_experiments.py [--kind cpc] [--subjects 2] [--skip-demo]

The timings depend on the machine and on what else runs on it: on a shared
2-core machine, ``n_jobs=2`` competes with other processes for the cores.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time


def _demo_time():
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "mne_m2s.cli", "demo", "--quick", "--out",
                               out], capture_output=True, text=True, env=dict(os.environ))
        elapsed = time.perf_counter() - t0
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
    return elapsed


def _ablation_time(kind, n_subjects, n_jobs):
    from mne_m2s.datasets import SyntheticEmotion
    from mne_m2s.evaluation.ablation import run_ablation
    from mne_m2s.evaluation.experiments import (
        DEMO_DATA,
        DEMO_SETTINGS,
        DEMO_STEP,
        QUICK_SETTINGS,
    )
    from mne_m2s.paradigms import EmotionParadigm

    ds = SyntheticEmotion(n_subjects=n_subjects, level="features", modalities=("eeg", "eye"),
                          random_state=0, **DEMO_DATA)
    settings = dict(DEMO_SETTINGS, **QUICK_SETTINGS, device="cpu")
    values = {"n_windows": (3, 5), "cpc_steps": (1, 2)} if kind == "heatmap" else None
    t0 = time.perf_counter()
    table, _ = run_ablation(kind, ds, settings=settings, values=values,
                            paradigm=EmotionParadigm(n_windows=5, step=DEMO_STEP),
                            n_jobs=n_jobs, random_state=0)
    return time.perf_counter() - t0, table


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="cpc", help="ablation kind (default cpc)")
    parser.add_argument("--subjects", type=int, default=2, help="synthetic subjects (default 2)")
    parser.add_argument("--skip-demo", action="store_true", help="do not time the demo")
    args = parser.parse_args()
    import torch

    out = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "note": "wall times; other processes on the machine share its cores"},
    }
    if not args.skip_demo:
        out["demo_quick_s"] = round(_demo_time(), 2)
    t1, table1 = _ablation_time(args.kind, args.subjects, 1)
    t2, table2 = _ablation_time(args.kind, args.subjects, 2)
    cols = ["variant", "subject", "task", "balanced_accuracy", "kappa"]
    same = table1[cols].reset_index(drop=True).equals(table2[cols].reset_index(drop=True))
    n_units = table1.groupby(["variant", "subject", "session", "split"]).ngroups
    out["ablation"] = {"kind": args.kind, "subjects": args.subjects, "units": n_units,
                       "n_jobs_1_s": round(t1, 2), "n_jobs_2_s": round(t2, 2),
                       "speedup": round(t1 / t2, 2), "same_scores": bool(same)}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
