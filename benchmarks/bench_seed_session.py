"""Minutes for one SEED-sized subject-session with the paper's defaults; prints JSON.

One SEED subject-session: about 2,000 training samples of T = 5 windows of
62 x 5 DE features (EEG) and 33 eye features, plus a test set of the same
size ratio as SEED's 9 / 6 trial split. M2S is pre-trained with the paper's
defaults (:class:`mne_m2s.M2SClassifier` defaults: 200 epochs, batch 512,
Adam 1e-4, mi_steps 3, cpc_steps 2), then the four tasks run: fine-tune on
EEG and on eye (200 epochs each, cached frozen embeddings), each tested on
both modalities.

The data are random (this measures time, not accuracy). With
``--pretrain-epochs N < 200`` the pre-training time is extrapolated to 200
epochs: the measured run plus the ``200 - N`` remaining epochs at the median
duration of epochs 2..N (skorch's per-epoch ``dur``). Epochs cost the same
(same batches, same cosine-schedule arithmetic) once the first is done; the
first also pays one-off costs (the optimiser's first use imports
``torch._dynamo``, first allocations, kernel set-up), which a plain
``pretrain_s * 200 / N`` would multiply by ``200 / N``. Both the measured and
the extrapolated figures are printed, with the memory allocator and the CPU
kernel of STS attention (``MNE_M2S_CPU_KERNELS=torch`` measures the PyTorch one).

Usage::

    python benchmarks/bench_seed_session.py [--pretrain-epochs 200] [--threads 2]
        [--precision float32|bf16] [--n-train 2010] [--n-test 1340]
"""

import argparse
import json
import resource
import time

import numpy as np
import torch


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pretrain-epochs", type=int, default=200)
    parser.add_argument("--finetune-epochs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="float32", choices=("float32", "bf16"))
    parser.add_argument("--n-train", type=int, default=2010)
    parser.add_argument("--n-test", type=int, default=1340)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    from mne_m2s import M2SClassifier
    from mne_m2s.nn._allocator import allocator_status
    from mne_m2s.nn._club import club_status
    from mne_m2s.nn._dropout import dropout_status
    from mne_m2s.nn._linear import linear_status
    from mne_m2s.nn._native import kernel_status
    from mne_m2s.utils import memory_allocator

    rng = np.random.default_rng(0)

    def draw(n):
        return {"eeg": rng.standard_normal((n, 5, 62, 5), dtype=np.float32),
                "eye": rng.standard_normal((n, 5, 33), dtype=np.float32)}

    train, test = draw(args.n_train), draw(args.n_test)
    y_train = rng.integers(0, 3, args.n_train)
    y_test = rng.integers(0, 3, args.n_test)

    clf = M2SClassifier(pretrain_max_epochs=args.pretrain_epochs,
                        max_epochs=args.finetune_epochs, precision=args.precision,
                        device="cpu", random_state=0)
    t0 = time.perf_counter()
    clf.pretrain(train)
    pretrain_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = {}
    for fit_mod in ("eeg", "eye"):
        clf.fit({fit_mod: train[fit_mod]}, y_train)
        for test_mod in ("eeg", "eye"):
            scores[f"{fit_mod}->{test_mod}"] = clf.score({test_mod: test[test_mod]}, y_test)
    tasks_s = time.perf_counter() - t0

    durations = [float(d) for d in clf.pretrained.history[:, "dur"]]
    steady = float(np.median(durations[1:] if len(durations) > 1 else durations))
    pretrain_200_s = pretrain_s + max(0, 200 - args.pretrain_epochs) * steady
    print(json.dumps({
        "pretrain_epochs_run": args.pretrain_epochs,
        "pretrain_s": round(pretrain_s, 1),
        "epoch_durations_s": [round(d, 2) for d in durations],
        "steady_epoch_s": round(steady, 2),
        "one_off_s": round(pretrain_s - len(durations) * steady, 1),
        "four_tasks_s": round(tasks_s, 1),
        "minutes_measured": round((pretrain_s + tasks_s) / 60, 2),
        "minutes_200_epochs": round((pretrain_200_s + tasks_s) / 60, 2),
        "extrapolated": args.pretrain_epochs != 200,
        "n_train": args.n_train,
        "n_test": args.n_test,
        "precision": args.precision,
        "torch_threads": torch.get_num_threads(),
        "allocator": memory_allocator(),
        "cpu_allocator": allocator_status(),
        "sts_kernel": kernel_status(),
        "dropout_kernel": dropout_status(),
        "club_kernel": club_status(),
        "linear_kernel": linear_status(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "chance_level_scores": {k: round(v, 3) for k, v in scores.items()},
        "torch": torch.__version__,
    }, indent=2))


if __name__ == "__main__":
    main()
