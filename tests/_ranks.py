"""Run a function on several gloo ranks in spawned processes, with a deadline (test helper)."""

import multiprocessing
import os
import pickle
import traceback
from pathlib import Path


def _entry(fn, rank, world_size, init_file, out_dir, kwargs):
    import torch
    import torch.distributed as dist

    # two processes share this machine's cores: one intra-op thread each
    torch.set_num_threads(1)
    result = {}
    try:
        dist.init_process_group(
            "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size
        )
        try:
            result = {"value": fn(rank=rank, world_size=world_size, **kwargs)}
        finally:
            dist.destroy_process_group()
    except BaseException as err:  # reported to the test, which decides
        result = {"error": f"{type(err).__name__}: {err}", "type": type(err).__name__,
                  "traceback": traceback.format_exc()}
    with open(Path(out_dir) / f"rank{rank}.pkl", "wb") as fid:
        pickle.dump(result, fid)


def run_ranks(fn, tmp_path, world_size=2, timeout=60, **kwargs):
    """Run ``fn(rank=, world_size=, **kwargs)`` on ``world_size`` gloo ranks.

    Returns the list of per-rank results: ``{"value": ...}`` or ``{"error": msg, "type": name}``.
    Raises ``TimeoutError`` (after killing the processes) if any rank does not finish.
    """
    ctx = multiprocessing.get_context("spawn")
    tmp_path = Path(tmp_path)
    init_file = tmp_path / f"init-{os.getpid()}-{id(fn)}"
    init_file.unlink(missing_ok=True)
    procs = [
        ctx.Process(target=_entry, args=(fn, r, world_size, str(init_file), str(tmp_path), kwargs))
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    hung = []
    for r, p in enumerate(procs):
        p.join(timeout)
        if p.is_alive():
            hung.append(r)
    for r in hung:
        procs[r].kill()
        procs[r].join()
    if hung:
        raise TimeoutError(f"ranks {hung} did not finish within {timeout} s")
    results = []
    for r in range(world_size):
        with open(tmp_path / f"rank{r}.pkl", "rb") as fid:
            results.append(pickle.load(fid))
        (tmp_path / f"rank{r}.pkl").unlink()
    return results
