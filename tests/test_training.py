"""Pre-training: the six-part step, and clear errors / warnings for settings that cannot run."""

import logging

import numpy as np
import pytest
import torch

from conftest import SMALL
from mne_m2s import M2SClassifier
from mne_m2s.nn.m2s import M2SNetwork
from mne_m2s.training import M2SPretrainer, WeightedLoss, check_pretraining_setup
from mne_m2s.utils._logging import logger

TINY = dict(SMALL, embedding_dim=16, ffn_dim=32, proj_dim=8, pretrain_max_epochs=2,
            pretrain_batch_size=16, max_epochs=2)


@pytest.fixture
def warnings_logged():
    """Records of the package logger at WARNING and above."""
    records = []

    class _Keep(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.WARNING:
                records.append(record.getMessage())

    handler = _Keep()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _data(n=20, t=5, seed=0):
    rng = np.random.default_rng(seed)
    return {"eeg": rng.standard_normal((n, t, 4, 5), dtype=np.float32),
            "eye": rng.standard_normal((n, t, 6), dtype=np.float32)}


def test_modalities_with_different_window_counts_raise():
    data = _data()
    data["eye"] = data["eye"][:, :2]
    with pytest.raises(ValueError, match=r"same number of windows.*eeg: 5, eye: 2"):
        M2SClassifier(**TINY).pretrain(data)


def test_all_loss_weights_zero_raise():
    zero = dict(contrastive_weight=0.0, cpc_weight=0, recon_weight=0.0, club_weight=0.0)
    with pytest.raises(ValueError, match="loss weight is 0.*contrastive_weight=0"):
        M2SClassifier(**TINY, **zero).pretrain(_data())
    with pytest.raises(ValueError, match="nothing to pre-train"):
        WeightedLoss({k: 0.0 for k in ("contrastive", "cpc", "recon", "club")})


def test_cpc_steps_too_large_warns_once_and_uses_what_fits(warnings_logged):
    clf = M2SClassifier(**dict(TINY, cpc_steps=4)).pretrain(_data(t=3))
    assert len(warnings_logged) == 1
    msg = warnings_logged[0]
    assert "cpc_steps=4" in msg and "n_windows=3" in msg and "Using cpc_steps=2" in msg
    assert clf.pretrained.network.cpc.n_steps == 2
    assert clf.pretrained.config["cpc_steps"] == 2
    assert np.all(np.asarray(clf.pretrained.history[:, "cpc"]) > 0)


def test_cpc_cut_range_outside_the_papers_warns_once(warnings_logged):
    M2SClassifier(**dict(TINY, cpc_steps=2)).pretrain(_data(t=3))
    assert len(warnings_logged) == 1
    assert "cpc_steps=2 with n_windows=3" in warnings_logged[0]
    assert "t=0" in warnings_logged[0]


def test_one_window_disables_cpc_with_one_warning(warnings_logged):
    clf = M2SClassifier(**TINY).pretrain(_data(t=1))
    assert len(warnings_logged) == 1
    assert "cpc_weight=1 is not used" in warnings_logged[0]
    assert "n_windows=1" in warnings_logged[0]
    assert "cpc" not in clf.pretrained.history[-1]
    assert "contrastive" in clf.pretrained.history[-1]
    # CPC alone cannot run on one window: nothing is left to pre-train
    only_cpc = dict(contrastive_weight=0.0, recon_weight=0.0, club_weight=0.0)
    with pytest.raises(ValueError, match="Every pre-training loss weight is 0"):
        M2SClassifier(**TINY, **only_cpc).pretrain(_data(t=1))


def test_paper_settings_warn_nothing(warnings_logged):
    M2SClassifier(**TINY).pretrain(_data(t=5))
    assert warnings_logged == []


def test_batches_of_one_sample(warnings_logged):
    with pytest.raises(ValueError, match="at least 2 paired samples, got 1"):
        M2SClassifier(**TINY).pretrain(_data(n=1))
    assert warnings_logged == []
    # 17 samples in batches of 16: the last batch of one sample is dropped, once said
    clf = M2SClassifier(**TINY).pretrain(_data(n=17))
    assert len(warnings_logged) == 1
    assert "pretrain_batch_size=16" in warnings_logged[0] and "1 sample" in warnings_logged[0]
    for epoch in clf.pretrained.history:
        assert [b["train_batch_size"] for b in epoch["batches"]] == [16]


def test_check_pretraining_setup_settles_settings():
    w = {"contrastive": 1.0, "cpc": 1.0, "recon": 0.1, "club": 0.3}
    got = check_pretraining_setup(_data(n=40), weights=w, cpc_steps=2, batch_size=512)
    assert got == {"weights": w, "cpc_steps": 2, "batch_size": 40, "drop_last": False}


class _Spy(M2SPretrainer):
    calls = []

    def forward_local(self, x):
        self.calls.append("forward")
        return super().forward_local(x)

    def gather_outputs(self, outputs):
        self.calls.append("gather")
        return super().gather_outputs(outputs)

    def update_estimators(self, outputs):
        assert all(not v.requires_grad or v.grad_fn is not None for v in outputs["z"].values())
        self.calls.append("estimators")
        return super().update_estimators(outputs)

    def draw_loss_randomness(self, n_samples, n_windows):
        self.calls.append("draw")
        return super().draw_loss_randomness(n_samples, n_windows)

    def loss_parts(self, x, outputs, perm, cut):
        self.calls.append("loss")
        return super().loss_parts(x, outputs, perm, cut)

    def reduce_gradients(self):
        grads = [p.grad for _, p in self.get_all_learnable_params()]
        assert all(g is not None for g in grads)  # after backward
        self.calls.append("reduce")

    def _step_optimizer(self, step_fn=None):
        self.calls.append("step")
        super()._step_optimizer(step_fn)


def _pretrainer(cls=M2SPretrainer, **kw):
    torch.manual_seed(0)
    net = M2SNetwork({"eeg": (20, 5), "eye": (6, None)}, embedding_dim=8, n_layers=1,
                     ffn_dim=16, head_dim=4, proj_dim=4, ei_dim=8)
    return cls(net, WeightedLoss(), optimizer=torch.optim.Adam, lr=1e-3, batch_size=8,
               train_split=None, device="cpu", **kw).initialize()


def test_train_step_runs_the_six_parts_in_order():
    net = _pretrainer(_Spy, loss_seed=3)
    _Spy.calls = []
    net.history.new_epoch()
    net.history.new_batch()
    x = {k: torch.from_numpy(v[:8]) for k, v in _data().items()}
    out = net.train_step((x, None))
    assert _Spy.calls == ["forward", "gather", "estimators", "draw", "loss", "reduce", "step"]
    assert torch.isfinite(out["loss"])
    assert set(net.history[-1, "batches", -1]) >= {"contrastive", "cpc", "recon", "club",
                                                   "mi_loglik"}


def test_loss_draws_come_from_one_seeded_generator():
    a, b, c = _pretrainer(loss_seed=5), _pretrainer(loss_seed=5), _pretrainer(loss_seed=6)
    da = [a.draw_loss_randomness(32, 5) for _ in range(4)]
    db = [b.draw_loss_randomness(32, 5) for _ in range(4)]
    dc = [c.draw_loss_randomness(32, 5) for _ in range(4)]
    for (pa, ca), (pb, cb) in zip(da, db, strict=True):
        assert torch.equal(pa, pb) and ca == cb
        assert 1 <= ca <= 2  # the paper's range [1, T - N - 1]
    assert any(not torch.equal(pa, pc) for (pa, _), (pc, _) in zip(da, dc, strict=True))
    state = torch.get_rng_state()
    a.draw_loss_randomness(32, 5)
    assert torch.equal(torch.get_rng_state(), state)  # the global generator is not used


def test_pretraining_adam_runs_fused_on_the_cpu_and_updates_as_the_default():
    """pretrain() steps both optimisers fused on the CPU; a fused step is the
    default Adam's step to float32 rounding."""
    from skorch.callbacks import Callback

    from mne_m2s.training import fused_adam

    seen = {}

    class Grab(Callback):
        def on_train_end(self, net, **kwargs):
            seen["main"] = [g["fused"] for g in net.optimizer_.param_groups]
            seen["mi"] = [g["fused"] for g in net.mi_optimizer_.param_groups]
            seen["steps"] = [s["step"] for s in net.optimizer_.state.values()]

    M2SClassifier(**TINY, pretrain_callbacks=[("grab", Grab())]).pretrain(_data())
    assert seen["main"] == [True] and seen["mi"] == [True]
    assert all(float(s) == 4 for s in seen["steps"])  # 2 epochs of 2 batches, all stepped
    assert fused_adam("cpu") is True and fused_adam("meta") is None

    gen = torch.Generator().manual_seed(0)
    params = {f: [torch.randn(7, 5, generator=gen).requires_grad_()] for f in (True, False)}
    params[False][0].data.copy_(params[True][0].data)
    start = params[True][0].detach().clone()
    opts = {f: torch.optim.Adam(p, lr=1e-2, weight_decay=1e-4, fused=f or None)
            for f, p in params.items()}
    for _ in range(5):
        grad = torch.randn(7, 5, generator=gen)
        for f, opt in opts.items():
            params[f][0].grad = grad.clone()
            opt.step()
    got, want = params[True][0].detach(), params[False][0].detach()
    assert (got - start).abs().min() > 1e-3  # every entry moved
    torch.testing.assert_close(got, want, rtol=1e-6, atol=1e-7)
