"""Data-parallel pre-training on 2 gloo processes: equivalence, identical ranks, errors.

One spawned run of 2 ranks does every distributed part (process start-up is the
expensive bit on this machine); the tests below read its results.
"""

import copy

import numpy as np
import pytest
import torch
from _ranks import run_ranks

from conftest import make_latent_problem

TINY = dict(embedding_dim=16, n_layers=1, n_heads=2, head_dim=8, ffn_dim=32, proj_dim=8,
            pretrain_max_epochs=3, pretrain_batch_size=16, pretrain_lr=1e-3, cpc_steps=1,
            max_epochs=5, batch_size=32, device="cpu", random_state=0)


def _data():
    xa, xb, y, trial = make_latent_problem(n_trials=6, per_trial=8, n_windows=3, n_chans=4,
                                           n_eye=5)
    return {"eeg": xa, "eye": xb}, y


def _one_step(net, batch, perm, cut):
    """One train_step with a fixed CLUB permutation and CPC cut; grads after averaging."""
    grads = {}
    net.draw_loss_randomness = lambda n, t: (perm, cut)
    reduce = net.reduce_gradients

    def capture():
        reduce()
        grads.update({k: p.grad.detach().clone() for k, p in net.get_all_learnable_params()})

    net.reduce_gradients = capture
    net.history.new_epoch()
    net.history.new_batch()
    out = net.train_step(batch)
    return out["loss"].item(), grads


def _step_equivalence(context):
    from mne_m2s.distributed import ShardedBatches
    from mne_m2s.nn.m2s import M2SNetwork
    from mne_m2s.training import DataParallelPretrainer, WeightedLoss

    X, _ = _data()
    gen = torch.Generator().manual_seed(3)
    idx = torch.randperm(len(X["eye"]), generator=gen)[:12].numpy()  # one global batch of 12
    x = {m: torch.from_numpy(a[idx]) for m, a in X.items()}
    torch.manual_seed(0)
    network = M2SNetwork({"eeg": (20, 5), "eye": (5, None)}, embedding_dim=16, n_layers=1,
                         n_heads=2, head_dim=8, ffn_dim=32, dropout=0.0, proj_dim=8,
                         cpc_steps=1)
    perm = torch.randperm(12, generator=gen)
    cut = 1

    def make(ctx, batches):
        return DataParallelPretrainer(
            copy.deepcopy(network), WeightedLoss(), optimizer=torch.optim.Adam, lr=1e-3,
            batch_size=12, train_split=None, device="cpu", mi_steps=2, mi_total_steps=10,
            context=ctx, batches=batches, loss_seed=0,
        ).initialize()

    # data-parallel: this rank's half of the global batch
    batches = ShardedBatches(x, 12, gen, context=context)
    local, batches.sizes = context.shard(np.arange(12))
    dp_loss, dp_grads = _one_step(make(context, batches),
                                  ({m: v[local] for m, v in x.items()}, None), perm, cut)
    # one process, the whole global batch (no collectives)
    ref_loss, ref_grads = _one_step(make(None, None), (x, None), perm, cut)
    rel = {k: float((dp_grads[k] - ref_grads[k]).norm() / (ref_grads[k].norm() + 1e-30))
           for k in ref_grads}
    return {"dp_loss": dp_loss, "ref_loss": ref_loss, "max_rel_grad": max(rel.values()),
            "n_params": len(rel)}


def _pretrain_and_save(rank, out_dir):
    from mne_m2s import M2SClassifier

    X, y = _data()
    clf = M2SClassifier(**TINY).pretrain(X)
    state = {k: v.numpy().copy() for k, v in clf.pretrained.network.state_dict().items()}
    history = clf.pretrained.history[:, "train_loss"]
    if rank == 0:
        clf.fit({"eye": X["eye"]}, y)
        clf.save(f"{out_dir}/dp.m2s")
    return state, history


class _Interrupt(Exception):
    pass


def _interrupted_and_resumed(out_dir):
    """Both ranks stop after epoch 2 (checkpoint of epoch 1 on disk), then resume."""
    from skorch.callbacks import Callback

    from mne_m2s import M2SClassifier

    class Stop(Callback):
        def on_epoch_end(self, net, **kwargs):
            if len(net.history) == 2:
                raise _Interrupt

    X, _ = _data()
    ckpt = f"{out_dir}/ckpt"
    try:
        M2SClassifier(**TINY, checkpoint_dir=ckpt, checkpoint_every=1,
                      pretrain_callbacks=[("stop", Stop())]).pretrain(X)
    except _Interrupt:
        pass
    clf = M2SClassifier(**TINY, checkpoint_dir=ckpt, checkpoint_every=1, resume=True).pretrain(X)
    return {k: v.numpy().copy() for k, v in clf.pretrained.network.state_dict().items()}


def _errors(rank):
    from mne_m2s import M2SClassifier

    X, _ = _data()
    cases = {
        "batch": (dict(TINY, pretrain_batch_size=15), X),
        "modalities": (TINY, X if rank == 0 else {"eeg": X["eeg"], "pps": X["eye"]}),
        "samples": (TINY, X if rank == 0 else {m: a[:40] for m, a in X.items()}),
        "one_rank_bad_input": (TINY, X if rank == 0 else {"eeg": X["eeg"]}),
    }
    out = {}
    for name, (params, data) in cases.items():
        try:
            M2SClassifier(**params).pretrain(data)
            out[name] = None
        except Exception as err:
            out[name] = (type(err).__name__, str(err))
    return out


def _worker(rank, world_size, out_dir):
    from mne_m2s.distributed import get_context

    context = get_context()
    return {
        "step": _step_equivalence(context),
        "errors": _errors(rank),
        "pretrain": _pretrain_and_save(rank, out_dir),
        "resumed": _interrupted_and_resumed(out_dir),
    }


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("dp")
    results = run_ranks(_worker, out, timeout=240, out_dir=str(out))
    for res in results:
        assert "value" in res, res.get("traceback")
    return [res["value"] for res in results], out


def test_one_step_equals_the_single_process_step_on_the_global_batch(two_ranks):
    results, _ = two_ranks
    for res in results:
        step = res["step"]
        assert step["n_params"] > 20
        assert step["dp_loss"] == pytest.approx(step["ref_loss"], rel=1e-5)
        assert step["max_rel_grad"] < 1e-5


def test_ranks_end_with_bit_identical_weights(two_ranks):
    results, _ = two_ranks
    (s0, h0), (s1, h1) = results[0]["pretrain"], results[1]["pretrain"]
    assert s0.keys() == s1.keys() and len(s0) > 20
    for k in s0:
        np.testing.assert_array_equal(s0[k], s1[k], err_msg=k)
    assert h0 == h1 and len(h0) == TINY["pretrain_max_epochs"]
    assert np.isfinite(h0).all() and h0[-1] < h0[0]


def test_interrupted_data_parallel_run_resumes_to_the_uninterrupted_weights(two_ranks):
    results, _ = two_ranks
    for res in results:
        uninterrupted, resumed = res["pretrain"][0], res["resumed"]
        for k in uninterrupted:
            np.testing.assert_array_equal(resumed[k], uninterrupted[k], err_msg=k)


def test_model_saved_by_rank_0_predicts_in_one_process(two_ranks):
    from mne_m2s import M2SClassifier

    results, out = two_ranks
    clf = M2SClassifier.load(out / "dp.m2s", device="cpu")
    X, y = _data()
    net = clf.pretrained.network.state_dict()
    for k, v in results[0]["pretrain"][0].items():
        np.testing.assert_array_equal(net[k].numpy(), v)
    pred = clf.predict({"eeg": X["eeg"]})  # cross-modal, through the DP-trained EEG encoder
    assert pred.shape == y.shape and set(pred) <= set(clf.classes_)


@pytest.mark.parametrize("case, error, match", [
    ("batch", "ValueError", r"pretrain_batch_size=15 .* multiple of the world size 2"),
    ("modalities", "DistributedError", r"same modalities on every rank"),
    ("samples", "DistributedError", r"same sample count on every rank"),
    ("one_rank_bad_input", "DistributedError", r"rank 1 failed: ValueError: pretrain needs "
                                               r"paired data of at least 2 modalities"),
])
def test_bad_input_raises_the_same_clear_error_on_every_rank(two_ranks, case, error, match):
    import re

    results, _ = two_ranks
    got = [res["errors"][case] for res in results]
    assert got[0] is not None and got[0] == got[1]
    assert got[0][0] == error
    assert re.search(match, got[0][1]), got[0][1]
