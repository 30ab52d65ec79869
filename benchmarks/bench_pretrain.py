"""Speed of M2S at the paper's SEED configuration; prints JSON.

Configuration: batch 512, T = 5 windows, EEG 62 x 5 = 310 DE features with
STS attention, eye 33 features, E = 128, 4 blocks, FFN 1024, mi_steps = 3,
float32 on the CPU with 2 torch threads (set here, in the benchmark only).

Figures:
* ``pretrain_step_s`` — median seconds of one full pre-training step
  (:meth:`M2SPretrainer.train_step`: one forward, 3 CLUB estimator updates,
  one main update), after warm-up;
* ``finetune_epoch_s`` — seconds per fine-tuning epoch on 2,010 training
  samples with cached (frozen, evaluation-mode) embeddings;
* ``embed_2010_s`` — the one-off cost of computing those embeddings;
* ``predict_ms_b1`` / ``predict_ms_b512`` — cross-modal ``predict_proba``
  through the EEG encoder for 1 and 512 samples (median);
* ``peak_rss_mb`` — peak resident memory of the process;
* ``page_faults_per_step`` — minor page faults per timed pre-training step
  (memory the allocator handed back to the system and took again: costly in
  virtual machines);
* ``allocator`` — the process's ``malloc`` (:func:`mne_m2s.utils.memory_allocator`):
  glibc's, or jemalloc / tcmalloc when preloaded. With the caching allocator
  the float32 peak is about 30 MB above tcmalloc's with glibc, 160 MB above
  without it (``--no-cache``; see the documentation's "Speed and memory on the
  CPU" page);
* ``sts_layer_ms`` — median milliseconds of one STS attention layer, forward
  and backward, at batch 512 x 5 windows of 62 x 5;
* ``cpu_allocator`` — the allocator of the steps' large CPU blocks: the
  caching allocator of :mod:`mne_m2s.nn._allocator` (the default) or torch's
  (``--no-cache`` measures the same step without the cache); ``cache`` — its
  counters after the timed steps (mapped and in-use MiB, hits, misses);
* ``sts_kernel``, ``dropout_kernel``, ``club_kernel``, ``linear_kernel`` — the
  CPU kernels of STS attention, dropout and the CLUB estimators'
  log-likelihood (compiled, or PyTorch's) and the product of
  float32 linear layers (oneDNN, or ``F.linear``'s BLAS)
  (:func:`mne_m2s.utils.set_cpu_kernels`; ``MNE_M2S_CPU_KERNELS=torch``
  measures PyTorch's for all four).

With ``--precision bf16`` the pre-training step runs under bfloat16 autocast
(``M2SClassifier(precision="bf16")``). ``--loss-curve EPOCHS`` instead
pre-trains a small SEED-shaped problem for EPOCHS epochs in float32 (two
seeds) and bf16 and prints the three loss curves and their distances: bf16
matches float32 "within noise" when its distance to the float32 curve of the
same seed is no larger than the distance between the two float32 seeds;
``--plot PATH`` also draws the three curves into a PNG.
``--skip-finetune`` measures the pre-training step and memory only.

Usage: ``python benchmarks/bench_pretrain.py [--steps 7] [--threads 2]
[--precision float32|bf16] [--skip-finetune] [--no-cache]
[--loss-curve EPOCHS [--plot PNG]]``.
"""

import argparse
import contextlib
import gc
import json
import resource
import time

import numpy as np
import torch


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_pretrain_step(rng, precision, steps):
    """Median seconds of one pre-training step at batch 512, and page faults per step."""
    from mne_m2s.nn.m2s import M2SNetwork
    from mne_m2s.training import M2SPretrainer, WeightedLoss, fused_adam

    batch = {
        "eeg": torch.from_numpy(rng.standard_normal((512, 5, 62, 5), dtype=np.float32)),
        "eye": torch.from_numpy(rng.standard_normal((512, 5, 33), dtype=np.float32)),
    }
    torch.manual_seed(0)
    net = M2SPretrainer(
        M2SNetwork({"eeg": (310, 5), "eye": (33, None)}),
        WeightedLoss(),
        optimizer=torch.optim.Adam,
        optimizer__weight_decay=1e-4,
        optimizer__fused=fused_adam("cpu"),  # as pretrain() does
        lr=1e-4,
        batch_size=512,
        train_split=None,
        device="cpu",
        mi_steps=3,
        **({"precision": precision} if precision != "float32" else {}),
    ).initialize()
    net.history.new_epoch()

    def one_step():
        net.history.new_batch()  # train_step records the named losses of the batch
        net.train_step((batch, None))

    for _ in range(2):  # warm-up
        one_step()
    faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step_s = _median_time(one_step, steps)
    return step_s, (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0) / steps


def time_sts_layer(rng, repeats=9):
    """Median seconds of one STS attention layer's forward and backward pass."""
    from mne_m2s.nn.attention import STSAttention

    torch.manual_seed(0)
    layer = STSAttention(5, dropout=0.0)
    x = torch.from_numpy(rng.standard_normal((512, 5, 310), dtype=np.float32))
    x.requires_grad_()
    grad = torch.from_numpy(rng.standard_normal((512, 5, 310), dtype=np.float32))

    def run():
        layer(x).backward(grad)

    run()  # warm-up (and the kernel's build, the first time)
    return _median_time(run, repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=7, help="timed pre-training steps")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--precision", default="float32", choices=("float32", "bf16"))
    parser.add_argument("--skip-finetune", action="store_true")
    parser.add_argument("--no-cache", action="store_true",
                        help="pre-training steps on torch's CPU allocator (no caching allocator)")
    parser.add_argument("--loss-curve", type=int, default=0, metavar="EPOCHS")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="with --loss-curve: draw the curves into this PNG file")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.plot and not args.loss_curve:
        parser.error("--plot draws the loss curves: give --loss-curve EPOCHS too")
    if args.loss_curve:
        return loss_curves(args.loss_curve, args.plot)

    from mne_m2s import M2SClassifier, training
    from mne_m2s.nn._allocator import allocator_stats, allocator_status
    from mne_m2s.nn._club import club_status
    from mne_m2s.nn._dropout import dropout_status
    from mne_m2s.nn._linear import linear_status
    from mne_m2s.nn._native import kernel_status
    from mne_m2s.utils import memory_allocator

    if args.no_cache:  # the measurement's switch: every step on torch's allocator
        training.caching_allocator = lambda enabled=True: contextlib.nullcontext(False)
    rng = np.random.default_rng(0)
    # the timed net lives inside the function: fine-tuning below builds its own model
    pretrain_step_s, faults = time_pretrain_step(rng, args.precision, args.steps)
    gc.collect()
    cache = allocator_stats()
    common = {
        "sts_layer_ms": round(1e3 * time_sts_layer(rng), 1),
        "precision": args.precision,
        "page_faults_per_step": round(faults),
        "allocator": memory_allocator(),
        "cpu_allocator": "torch (--no-cache)" if args.no_cache else allocator_status(),
        "cache": None if cache is None else {
            "mapped_mb": round(cache["mapped"] / 2**20, 1),
            "in_use_mb": round(cache["in_use"] / 2**20, 1),
            "hits": cache["hits"], "misses": cache["misses"]},
        "sts_kernel": kernel_status(),
        "dropout_kernel": dropout_status(),
        "club_kernel": club_status(),
        "linear_kernel": linear_status(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if args.skip_finetune:
        print(json.dumps({
            "pretrain_step_s": round(pretrain_step_s, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            **common,
        }, indent=2))
        return

    # fine-tuning and prediction from a SPEC-sized pre-trained model
    n = 2010
    x_eeg = rng.standard_normal((n, 5, 62, 5), dtype=np.float32)
    x_eye = rng.standard_normal((n, 5, 33), dtype=np.float32)
    y = rng.integers(0, 3, n)
    clf = M2SClassifier(pretrain_max_epochs=1, device="cpu", random_state=0)
    clf.pretrain({"eeg": x_eeg[:512], "eye": x_eye[:512]})
    t_short = _median_time(lambda: clf.set_params(max_epochs=1).fit(x_eye, y), 3)
    t_long = _median_time(lambda: clf.set_params(max_epochs=21).fit(x_eye, y), 3)
    finetune_epoch_s = (t_long - t_short) / 20
    embed_s = _median_time(lambda: clf.transform(x_eye), 3)
    predict_ms_b1 = 1e3 * _median_time(lambda: clf.predict_proba({"eeg": x_eeg[:1]}), 20)
    predict_ms_b512 = 1e3 * _median_time(lambda: clf.predict_proba({"eeg": x_eeg[:512]}), 5)

    print(json.dumps({
        "pretrain_step_s": round(pretrain_step_s, 3),
        "finetune_epoch_s": round(finetune_epoch_s, 4),
        "embed_2010_s": round(embed_s, 3),
        "predict_ms_b1": round(predict_ms_b1, 2),
        "predict_ms_b512": round(predict_ms_b512, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        **common,
    }, indent=2))


def loss_curves(epochs, plot=None):
    """Pre-training loss per epoch: float32 (seeds 0 and 1) and bf16 (seed 0)."""
    from mne_m2s import M2SClassifier

    rng = np.random.default_rng(0)
    n, lat = 1024, rng.standard_normal((1024, 5, 8), dtype=np.float32)
    data = {
        "eeg": (lat @ rng.standard_normal((8, 310), dtype=np.float32)
                + rng.standard_normal((n, 5, 310), dtype=np.float32)).reshape(n, 5, 62, 5),
        "eye": lat @ rng.standard_normal((8, 33), dtype=np.float32)
        + rng.standard_normal((n, 5, 33), dtype=np.float32),
    }
    curves = {}
    for name, precision, seed in (("float32", "float32", 0), ("float32_seed1", "float32", 1),
                                  ("bf16", "bf16", 0)):
        clf = M2SClassifier(pretrain_max_epochs=epochs, pretrain_batch_size=256,
                            pretrain_lr=1e-4, precision=precision, device="cpu",
                            random_state=seed).pretrain(data)
        curves[name] = [round(float(v), 4) for v in clf.pretrained.history[:, "train_loss"]]
    a, b, c = (np.asarray(curves[k]) for k in ("float32", "float32_seed1", "bf16"))
    print(json.dumps({
        "epochs": epochs,
        "curves": curves,
        "mean_abs_diff_bf16_vs_float32": round(float(np.mean(np.abs(c - a))), 4),
        "mean_abs_diff_float32_seed0_vs_seed1": round(float(np.mean(np.abs(b - a))), 4),
        "final_rel_diff_bf16_vs_float32": round(float(abs(c[-1] - a[-1]) / abs(a[-1])), 4),
    }, indent=2))
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        epochs_axis = np.arange(1, epochs + 1)
        for name, style in (("float32", "-"), ("float32_seed1", "--"), ("bf16", ":")):
            ax.plot(epochs_axis, curves[name], style, lw=2, label=name)
        ax.set(xlabel="epoch", ylabel="pre-training loss",
               title="bf16 autocast against float32 (two seeds)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
        plt.close(fig)


if __name__ == "__main__":
    main()
