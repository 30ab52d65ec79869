"""CPU data-parallel scaling of M2S pre-training: 1 vs N gloo processes; prints JSON.

Configuration: the paper's SEED model (E = 128, 4 blocks, FFN 1024, STS
attention on 62 x 5 DE features, 33 eye features, T = 5, mi_steps = 3),
global batch 512, ``--samples`` random samples, ``--epochs`` epochs. Each
world size runs ``M2SClassifier.pretrain`` in that many processes started
with the ``spawn`` method and joined in a ``gloo`` group; the machine's
``--threads`` torch threads are split evenly between the processes, so every
run uses the same cores.

Figures per world size: ``step_s`` (median seconds of one global step over
the epochs after the first, from the skorch history), ``samples_per_s``,
``wall_s`` (the whole pre-training, set-up included); ``speedup`` =
``step_s`` of 1 process / ``step_s`` of N. On a 2-core machine no gain is
expected: the single process already uses both cores through its two
intra-op threads, and data parallelism adds the gathers and the all-reduce.
``loadavg`` is reported because other jobs may share the cores.

Usage: ``python benchmarks/bench_ddp_cpu.py [--worlds 1 2] [--threads 2]
[--samples 1536] [--epochs 3]``.
"""

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path


def _rank(rank, world, threads, samples, epochs, init_file, out):
    import numpy as np
    import torch
    import torch.distributed as dist

    torch.set_num_threads(threads)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    from mne_m2s import M2SClassifier

    rng = np.random.default_rng(0)
    X = {"eeg": rng.standard_normal((samples, 5, 62, 5), dtype=np.float32),
         "eye": rng.standard_normal((samples, 5, 33), dtype=np.float32)}
    dist.barrier()
    t0 = time.perf_counter()
    clf = M2SClassifier(pretrain_max_epochs=epochs, pretrain_batch_size=512, device="cpu",
                        random_state=0).pretrain(X)
    dist.barrier()
    wall = time.perf_counter() - t0
    if rank == 0:
        durs = clf.pretrained.history[:, "dur"]
        steps = -(-samples // 512)
        Path(out).write_text(json.dumps({"durs": durs, "steps": steps, "wall": wall}))
    dist.destroy_process_group()


def run(world, threads, samples, epochs):
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        init_file, out = f"{tmp}/init", f"{tmp}/out.json"
        per_rank = max(1, threads // world)
        procs = [ctx.Process(target=_rank,
                             args=(r, world, per_rank, samples, epochs, init_file, out))
                 for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode for p in procs):
            raise RuntimeError(f"world size {world}: a rank failed")
        res = json.loads(Path(out).read_text())
    import numpy as np

    step = float(np.median(res["durs"][1:] or res["durs"])) / res["steps"]
    return {"processes": world, "threads_per_process": per_rank, "step_s": round(step, 3),
            "samples_per_s": round(512 / step, 1), "wall_s": round(res["wall"], 1)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worlds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=2, help="torch threads in total")
    parser.add_argument("--samples", type=int, default=1536)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    import torch

    runs = [run(w, args.threads, args.samples, args.epochs) for w in args.worlds]
    base = runs[0]["step_s"]
    for r in runs:
        r["speedup"] = round(base / r["step_s"], 2)
    print(json.dumps({
        "configuration": "SEED model, global batch 512, float32, gloo",
        "runs": runs,
        "cpu_count": os.cpu_count(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "torch": torch.__version__,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
