"""Loading speed of the SEED raw adapter on full-size synthetic files.

Writes one SEED-sized subject (3 session files ``{subject}_{date}.mat``, each
15 trials of the real lengths, 200 * n + 1 samples with n = 185-265 s, 62
channels, float64, as in ``Preprocessed_EEG``) into a temporary folder, then
times

* ``seed_raw_session_first_s`` / ``seed_raw_session_s``: one subject-session,
  i.e. reading one file and building its 15 :class:`mne.io.Raw` objects, first
  run and best of ``--repeat`` (the acceptance target, <= 5 s, applies to the
  first run);
* ``seed_raw_subject_s``: ``SEED(path).get_data([1])`` (3 sessions, 45 Raws);
* ``seed_raw_session_compressed_s``: one session written with MATLAB-style
  zlib compression (``--compressed``; writing it takes a while).

Prints one JSON object. Run: ``python benchmarks/bench_datasets.py [--compressed]``.
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.io as sio

from mne_m2s.datasets import SEED
from mne_m2s.datasets._io import to_runs

CLIP_SECONDS = (235, 233, 206, 238, 185, 195, 237, 216, 265, 237, 235, 233, 235, 238, 206)
LABEL = np.array([[1, 0, -1, -1, 0, 1, -1, 0, 1, 1, 0, -1, 0, 1, -1]], dtype=np.int8)
DATES = ("20131027", "20131030", "20131107")


def write_subject(folder, compressed=False, seed=0):
    """Write label.mat and the three session files of subject 1 (prefix ``djc``)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    sio.savemat(folder / "label.mat", {"label": LABEL})
    for date in DATES:
        trials = {
            f"djc_eeg{k}": rng.standard_normal((62, 200 * n + 1)) * 20.0
            for k, n in enumerate(CLIP_SECONDS, start=1)
        }
        sio.savemat(folder / f"1_{date}.mat", trials, do_compression=compressed)
        del trials


def time_session(ds, repeat):
    """First and best-of-``repeat`` times to load one session file into 15 Raw objects."""
    files = ds._raw_files(1)
    label_file = ds._preprocessed_dir() / "label.mat"
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        runs = to_runs(ds._parse_raw(files[:1], label_file))
        times.append(time.perf_counter() - start)
        assert len(runs["1"]) == 15
        del runs
    return times[0], min(times), files[0].stat().st_size


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compressed", action="store_true", help="also time a zlib file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    out = {"python": platform.python_version(), "machine": platform.machine()}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "SEED"
        start = time.perf_counter()
        write_subject(root / "SEED_EEG" / "Preprocessed_EEG")
        out["write_s"] = round(time.perf_counter() - start, 2)
        ds = SEED(root)
        first, session_s, size = time_session(ds, args.repeat)
        out["seed_raw_session_first_s"] = round(first, 3)
        out["seed_raw_session_s"] = round(session_s, 3)
        out["session_file_mb"] = round(size / 2**20, 1)
        out["n_samples_per_session"] = int(sum(200 * n + 1 for n in CLIP_SECONDS))
        start = time.perf_counter()
        data = ds.get_data([1])
        out["seed_raw_subject_s"] = round(time.perf_counter() - start, 3)
        out["n_raws"] = sum(len(runs) for runs in data[1].values())
        del data
    if args.compressed:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "SEED"
            write_subject(root / "SEED_EEG" / "Preprocessed_EEG", compressed=True)
            first, session_s, size = time_session(SEED(root), args.repeat)
            out["seed_raw_session_compressed_first_s"] = round(first, 3)
            out["seed_raw_session_compressed_s"] = round(session_s, 3)
            out["session_file_compressed_mb"] = round(size / 2**20, 1)
    out["target_session_s"] = 5.0
    out["passed"] = out["seed_raw_session_first_s"] <= 5.0
    print(json.dumps(out, indent=2))
    return 0 if out["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
