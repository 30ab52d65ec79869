"""Collectives of data-parallel pre-training on 2 gloo processes (mne_m2s.distributed)."""

import numpy as np
import pytest
import torch
from _ranks import run_ranks

from mne_m2s.distributed import (
    DistributedError,
    get_context,
    n_global_batches,
    shard_sizes,
)


def _gather_grad_worker(rank, world_size):
    from mne_m2s.distributed import get_context

    ctx = get_context()
    sizes = (3, 2)  # uneven shards, as the tail batch of an epoch
    g = torch.Generator().manual_seed(0)
    full = torch.randn(sum(sizes), 4, generator=g, dtype=torch.float64)
    p0 = torch.randn(4, 4, generator=g, dtype=torch.float64)  # an "encoder" weight
    q0 = torch.randn(4, 4, generator=g, dtype=torch.float64)  # a weight after the gather

    def loss_fn(h, q):  # couples all rows of the batch, as the contrastive loss does
        return torch.logsumexp(h @ q @ h.T, dim=1).sum() + (h**3).sum()

    start = sum(sizes[:rank])
    p, q = p0.clone().requires_grad_(True), q0.clone().requires_grad_(True)
    gathered = ctx.gather_cat(full[start : start + sizes[rank]] @ p, sizes)
    loss = loss_fn(gathered, q)
    loss.backward()
    ctx.all_reduce_grads_([p, q])
    p_ref, q_ref = p0.clone().requires_grad_(True), q0.clone().requires_grad_(True)
    ref = loss_fn(full @ p_ref, q_ref)
    ref.backward()
    return {
        "same_rows": torch.equal(gathered.detach(), full @ p0),
        "loss": loss.item(), "ref_loss": ref.item(),
        "grads": [p.grad.numpy(), q.grad.numpy()],
        "ref_grads": [p_ref.grad.numpy(), q_ref.grad.numpy()],
    }


def test_gather_cat_backward_gives_the_single_process_gradient(tmp_path):
    results = run_ranks(_gather_grad_worker, tmp_path)
    for res in results:
        assert "value" in res, res.get("traceback")
        v = res["value"]
        assert v["same_rows"]
        assert v["loss"] == pytest.approx(v["ref_loss"], rel=1e-12)
        for grad, ref in zip(v["grads"], v["ref_grads"], strict=True):
            np.testing.assert_allclose(grad, ref, rtol=1e-10)
    np.testing.assert_array_equal(results[0]["value"]["grads"][0], results[1]["value"]["grads"][0])


CASES = {
    "modalities": ("DistributedError", "same modalities on every rank"),
    "samples": ("DistributedError", "same sample count"),
    "batch": ("ValueError", "pretrain_batch_size=5 .* multiple of the world size 2"),
    "data": ("DistributedError", "same data on every rank"),
    "settings": ("DistributedError", "same settings on every rank"),
    None: (None, None),
}


def _checks_worker(rank, world_size):
    from mne_m2s.distributed import check_ranks, get_context

    ctx = get_context()
    out = {}
    for case in CASES:  # one after the other: each error is raised on every rank
        rng = np.random.default_rng(0)
        data = {"eeg": rng.normal(size=(8, 2, 6)).astype(np.float32),
                "eye": rng.normal(size=(8, 2, 3)).astype(np.float32)}
        settings = {"pretrain_batch_size": 4, "lr": 1e-3}
        if case == "modalities" and rank == 1:
            data["pps"] = data.pop("eye")
        if case == "samples" and rank == 1:
            data = {m: a[:6] for m, a in data.items()}
        if case == "batch":
            settings["pretrain_batch_size"] = 5
        if case == "data" and rank == 1:
            data["eye"] = data["eye"] + 1.0
        if case == "settings" and rank == 1:
            settings["lr"] = 1e-4
        try:
            check_ranks(ctx, data, settings)
            out[case] = (None, None)
        except Exception as err:
            out[case] = (type(err).__name__, str(err))
    return out


def test_rank_checks_raise_the_same_error_on_every_rank(tmp_path):
    import re

    results = run_ranks(_checks_worker, tmp_path, timeout=60)
    for res in results:
        assert "value" in res, res.get("traceback")
    for case, (error, match) in CASES.items():
        got = [res["value"][case] for res in results]
        assert got[0] == got[1], case  # same type and message on both ranks
        assert got[0][0] == error, (case, got[0])
        if match:
            assert re.search(match, got[0][1]), got[0][1]


def test_shard_sizes_and_batch_count():
    assert shard_sizes(512, 2) == (256, 256)
    assert shard_sizes(7, 3) == (3, 2, 2)
    assert n_global_batches(10, 4, 2) == 3  # 4 + 4 + 2
    assert n_global_batches(9, 4, 2) == 2  # a tail of 1 < 2 ranks is left out
    assert n_global_batches(9, 4, 1) == 2  # nor a tail of a single sample
    assert n_global_batches(10, 4, 1) == 3


def test_no_context_outside_a_process_group():
    assert get_context() is None
    assert issubclass(DistributedError, RuntimeError)
