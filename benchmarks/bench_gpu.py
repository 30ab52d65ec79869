"""Speed of M2S on a CUDA GPU at the paper's SEED configuration; prints JSON.

The figures of ``benchmarks/bench_pretrain.py`` measured on CUDA, once in
float32 and once with bfloat16 autocast (``precision="bf16"``), plus the
wall-clock minutes of one SEED-sized subject-session: pre-training with the
paper's defaults (200 epochs, batch 512) on 2,010 samples of 5 windows of
62 x 5 DE + 33 eye features, then fine-tuning (200 epochs) and predicting the
four EEG/eye tasks.

Figures per precision (``fp32`` / ``bf16``):

* ``pretrain_step_s`` — median seconds of one full pre-training step
  (one forward, 3 CLUB estimator updates, one main update), synchronised,
  after warm-up (targets: <= 0.015 s fp32, <= 0.010 s bf16);
* ``finetune_epoch_s``, ``embed_2010_s``, ``predict_ms_b1``,
  ``predict_ms_b512`` — as in ``bench_pretrain.py``;
* ``peak_cuda_mb`` — peak allocated CUDA memory;
* ``seed_session_min`` — the subject-session above (target <= 0.5).

Refuses to run (exit status 2, a message on stderr) where CUDA is not
available: the CPU figures come from ``bench_pretrain.py``.

Usage: ``python benchmarks/bench_gpu.py [--steps 20] [--device cuda]
[--precisions float32 bf16] [--no-session]``.
"""

import argparse
import json
import resource
import sys
import time

import numpy as np
import torch


def _median_time(fn, repeats, sync):
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _step_time(device, precision, steps, sync):
    from mne_m2s.nn.m2s import M2SNetwork
    from mne_m2s.training import DataParallelPretrainer, WeightedLoss, fused_adam

    rng = np.random.default_rng(0)
    batch = {
        "eeg": torch.from_numpy(rng.standard_normal((512, 5, 62, 5), dtype=np.float32)),
        "eye": torch.from_numpy(rng.standard_normal((512, 5, 33), dtype=np.float32)),
    }
    batch = {m: t.to(device) for m, t in batch.items()}  # on the device, as in training
    torch.manual_seed(0)
    net = DataParallelPretrainer(  # no process group: one process, precision option
        M2SNetwork({"eeg": (310, 5), "eye": (33, None)}),
        WeightedLoss(),
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=1e-4,
        optimizer__fused=fused_adam(device),  # as pretrain() does
        lr=1e-4,
        batch_size=512,
        train_split=None,
        device=str(device),
        mi_steps=3,
        precision=precision,
    ).initialize()
    step = (batch, None)
    net.history.new_epoch()

    def one_step():
        net.history.new_batch()
        net.train_step(step)

    for _ in range(3):  # warm-up (cuBLAS handles, autotuning)
        one_step()
    return _median_time(one_step, steps, sync)


def _clf_figures(device, precision, sync):
    from mne_m2s import M2SClassifier

    rng = np.random.default_rng(0)
    n = 2010
    x_eeg = rng.standard_normal((n, 5, 62, 5), dtype=np.float32)
    x_eye = rng.standard_normal((n, 5, 33), dtype=np.float32)
    y = rng.integers(0, 3, n)
    clf = M2SClassifier(pretrain_max_epochs=1, device=str(device), precision=precision,
                        random_state=0)
    clf.pretrain({"eeg": x_eeg[:512], "eye": x_eye[:512]})
    t_short = _median_time(lambda: clf.set_params(max_epochs=1).fit(x_eye, y), 3, sync)
    t_long = _median_time(lambda: clf.set_params(max_epochs=21).fit(x_eye, y), 3, sync)
    return {
        "finetune_epoch_s": round((t_long - t_short) / 20, 4),
        "embed_2010_s": round(_median_time(lambda: clf.transform(x_eye), 3, sync), 4),
        "predict_ms_b1": round(
            1e3 * _median_time(lambda: clf.predict_proba({"eeg": x_eeg[:1]}), 20, sync), 2),
        "predict_ms_b512": round(
            1e3 * _median_time(lambda: clf.predict_proba({"eeg": x_eeg[:512]}), 5, sync), 2),
    }


def _seed_session_minutes(device, precision, sync):
    """Pre-train (paper defaults) on one SEED-sized session, then the four tasks."""
    from mne_m2s import M2SClassifier

    rng = np.random.default_rng(1)
    n_train, n_test = 2010, 1384  # SEED: 9 training and 6 test clips of one session
    x = {"eeg": rng.standard_normal((n_train + n_test, 5, 62, 5), dtype=np.float32),
         "eye": rng.standard_normal((n_train + n_test, 5, 33), dtype=np.float32)}
    y = rng.integers(0, 3, n_train + n_test)
    train = {m: a[:n_train] for m, a in x.items()}
    test = {m: a[n_train:] for m, a in x.items()}
    sync()
    t0 = time.perf_counter()
    clf = M2SClassifier(device=str(device), precision=precision, random_state=0)
    clf.pretrain(train)
    for source in ("eeg", "eye"):
        clf.fit({source: train[source]}, y[:n_train])
        for target in ("eeg", "eye"):
            clf.score({target: test[target]}, y[n_train:])
    sync()
    return (time.perf_counter() - t0) / 60


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="timed pre-training steps")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precisions", nargs="+", default=["float32", "bf16"],
                        choices=("float32", "bf16", "fp16"))
    parser.add_argument("--no-session", action="store_true",
                        help="skip the SEED-sized subject-session run")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench_gpu.py measures the CUDA path, but CUDA is not available here "
              "(torch.cuda.is_available() is False). Run it on a machine with an NVIDIA GPU; "
              "the CPU figures come from benchmarks/bench_pretrain.py.", file=sys.stderr)
        return 2
    device = torch.device(args.device)

    def sync():
        torch.cuda.synchronize(device)

    short = {"float32": "fp32", "bf16": "bf16", "fp16": "fp16"}
    out = {
        "device": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    for precision in args.precisions:
        torch.cuda.reset_peak_memory_stats(device)
        fig = {"pretrain_step_s": round(_step_time(device, precision, args.steps, sync), 4)}
        fig.update(_clf_figures(device, precision, sync))
        if not args.no_session:
            fig["seed_session_min"] = round(_seed_session_minutes(device, precision, sync), 3)
        fig["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        out[short[precision]] = fig
        print(json.dumps({precision: fig}), file=sys.stderr, flush=True)  # progress
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
