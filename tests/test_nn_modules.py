"""Unit tests of the torch modules (mne_m2s.nn)."""

import math

import numpy as np
import pytest
import torch

from mne_m2s.nn.attention import STSAttention, WindowAttention, temporal_sparse_mean
from mne_m2s.nn.encoders import EIEncoder, EREncoder
from mne_m2s.nn.losses import CLUB, M2MCPC, ContrastiveLoss
from mne_m2s.nn.m2s import LOSS_NAMES, M2SNetwork, total_loss

WEIGHTS = {"contrastive": 1.0, "cpc": 1.0, "recon": 0.1, "club": 0.3}


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("n_chans", [62, 14, 2])
@pytest.mark.parametrize("n_windows", [1, 3, 5])
def test_sts_shapes_and_folding(n_chans, n_windows):
    g = _gen()
    att = STSAttention(5, dropout=0.0).eval()
    x = torch.randn(4, n_windows, n_chans * 5, generator=g)
    out = att(x)
    assert out.shape == x.shape
    att.fold = False
    ref = att(x)
    torch.testing.assert_close(out, ref, atol=1e-4, rtol=1e-4)
    # 4-D input keeps its shape too
    assert att(x.view(4, n_windows, n_chans, 5)).shape == (4, n_windows, n_chans, 5)


def test_sts_folded_gradients_match_textbook_form():
    g = _gen(1)
    x = torch.randn(3, 4, 7 * 5, generator=g)
    att = STSAttention(5, n_heads=2, head_dim=6, dropout=0.0)
    grads = []
    for fold in (True, False):
        att.zero_grad()
        att.fold = fold
        (att(x) ** 2).sum().backward()
        grads.append([p.grad.clone() for p in att.parameters()])
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_sts_temporal_sparsity():
    """Output at step t depends on input step j only if j in {0, t-1, t}."""
    g = _gen(2)
    n_windows = 6
    att = STSAttention(5, dropout=0.0).eval()
    x = torch.randn(2, n_windows, 9 * 5, generator=g)
    base = att(x)
    for j in range(n_windows):
        xp = x.clone()
        xp[:, j] += torch.randn(2, 9 * 5, generator=g)
        changed = (att(xp) - base).abs().amax(dim=(0, 2)) > 1e-6
        for t in range(n_windows):
            expected = j in {0, max(t - 1, 0), t}
            assert bool(changed[t]) == expected, (j, t)


def test_temporal_sparse_mean_definition():
    x = torch.arange(4.0).view(1, 4, 1)
    out = temporal_sparse_mean(x).flatten().tolist()
    assert out == pytest.approx([0.0, (1 + 0 + 0) / 3, (2 + 0 + 1) / 3, (3 + 0 + 2) / 3])


@pytest.mark.parametrize("shape", [(2, 1, 3), (2, 2, 3), (3, 5, 4, 2)])
def test_temporal_sparse_mean_values_and_gradient(shape):
    """Its own backward pass is the adjoint (gradcheck), and its values are the
    shifted-copy formula's, bit for bit, in float32."""
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(temporal_sparse_mean, (x,))
    x32 = x.detach().float()
    prev = torch.cat([x32[:, :1], x32[:, :-1]], dim=1)
    assert torch.equal(temporal_sparse_mean(x32), (x32 + x32[:, :1] + prev) / 3.0)


@pytest.mark.parametrize("attention", ["sts", "mha", "none"])
@pytest.mark.parametrize("n_windows", [1, 3, 5])
def test_er_encoder_electrode_shapes(attention, n_windows):
    enc = EREncoder(14 * 5, 32, n_bands=5, attention=attention, n_layers=2, ffn_dim=64)
    z = enc(torch.randn(3, n_windows, 14, 5))
    assert z.shape == (3, n_windows, 32)
    n_att = sum(isinstance(m, (STSAttention, WindowAttention)) for m in enc.modules())
    assert n_att == (0 if attention == "none" else 2)


def test_er_encoder_registers_only_used_blocks():
    enc = EREncoder(310, 128, n_bands=5)
    assert len(enc.blocks) == 4
    out = enc(torch.randn(2, 5, 62, 5)).sum()
    out.backward()
    assert all(p.grad is not None for p in enc.parameters())


def test_vector_encoder_and_ei_shapes():
    enc = EREncoder(33, 32, n_bands=None, n_layers=2, ffn_dim=64)
    assert enc(torch.randn(4, 5, 33)).shape == (4, 5, 32)
    assert EIEncoder(33, 16)(torch.randn(4, 5, 33)).shape == (4, 5, 16)


def _tiny_net(mods, **kw):
    return M2SNetwork(mods, embedding_dim=16, n_layers=1, ffn_dim=32, head_dim=8, proj_dim=8,
                      ei_dim=16, **kw)


@pytest.mark.parametrize(
    "mods",
    [
        {"eeg": (62 * 5, 5), "eye": (33, None)},
        {"eeg": (14 * 5, 5), "ecg": (2 * 5, 5), "eye": (31, None)},
    ],
)
@pytest.mark.parametrize("n_windows", [1, 3, 5])
def test_network_shapes_and_losses(mods, n_windows):
    torch.manual_seed(0)
    net = _tiny_net(mods)
    x = {
        m: torch.randn(8, n_windows, d // b, b) if b else torch.randn(8, n_windows, d)
        for m, (d, b) in mods.items()
    }
    out = net(**x)
    for m in mods:
        assert out["z"][m].shape == (8, n_windows, 16)
        assert out["u"][m].shape == (8, n_windows, 16)
    lo, hi = net.cpc.cut_range(n_windows)
    parts = net.loss_parts(out, x, torch.randperm(8), max(lo, 0))
    assert set(parts) == set(LOSS_NAMES)
    assert all(torch.isfinite(v) for v in parts.values())
    if n_windows == 1:
        assert parts["cpc"].item() == 0.0  # no future to predict


def test_gradients_reach_every_encoder_parameter():
    torch.manual_seed(0)
    mods = {"eeg": (14 * 5, 5), "eye": (12, None), "pps": (7, None)}
    net = _tiny_net(mods)
    x = {"eeg": torch.randn(16, 5, 14, 5), "eye": torch.randn(16, 5, 12),
         "pps": torch.randn(16, 5, 7)}
    out = net(**x)
    total_loss(net.loss_parts(out, x, torch.randperm(16), 1), WEIGHTS).backward()
    for group in ("encoders", "ei_encoders", "decoders", "projections"):
        for name, p in getattr(net, group).named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{group}.{name}"
    for name, p in net.cpc.named_parameters():
        assert p.grad is not None, f"cpc.{name}"
    assert net.contrastive.logit_scale.grad is not None
    club_ids = {id(p) for p in net.estimator_parameters()}
    assert len(net.main_parameters()) == len(list(net.parameters())) - len(club_ids)


def test_infonce_random_and_identical():
    g = _gen(3)
    batch = 256
    loss = ContrastiveLoss(init_temperature=1.0)  # scale exp(tau) = 1
    a, b = torch.randn(batch, 32, generator=g), torch.randn(batch, 32, generator=g)
    assert loss([a, b]).item() == pytest.approx(math.log(batch), abs=0.1)
    sharp = ContrastiveLoss(init_temperature=0.001)  # exp(tau) clamped at 100
    assert sharp.logit_scale.exp().item() > 100
    assert sharp([a, a]).item() < 1e-2
    # three modalities: mean over the three pairs
    c = torch.randn(batch, 32, generator=g)
    three = loss([a, b, c]).item()
    pairs = [loss([a, b]).item(), loss([a, c]).item(), loss([b, c]).item()]
    assert three == pytest.approx(np.mean(pairs), rel=1e-5)


def _train_club(z, u, steps=300):
    torch.manual_seed(0)
    club = CLUB(z.shape[-1], u.shape[-1], hidden=32)
    opt = torch.optim.Adam(club.parameters(), lr=3e-3)
    first = club.log_likelihood(z, u).item()
    for _ in range(steps):
        opt.zero_grad()
        (-club.log_likelihood(z, u)).backward()
        opt.step()
    return club, first, club.log_likelihood(z, u).item()


def test_club_loglik_rises_and_bound_orders_dependence():
    g = _gen(4)
    w = torch.randn(8, 6, generator=g)

    def draw(n, dependent):
        z = torch.randn(n, 3, 8, generator=g)
        if dependent:
            return z, torch.tanh(z @ w) + 0.05 * torch.randn(n, 3, 6, generator=g)
        return z, torch.randn(n, 3, 6, generator=g)

    z, u = draw(512, True)
    club_dep, first, last = _train_club(z, u)
    assert last > first + 1.0
    club_ind, _, _ = _train_club(*draw(512, False))
    # the bound on fresh draws: large for dependent pairs, about 0 for independent ones
    perm = torch.randperm(512, generator=g)
    dep = club_dep.mi_upper_bound(*draw(512, True), perm).item()
    ind = club_ind.mi_upper_bound(*draw(512, False), perm).item()
    assert dep > 1.0
    assert abs(ind) < 0.25 * dep


def _train_cpc(draw, steps=150):
    """Train M2M CPC on fresh draws of sequences, return its loss on a new draw."""
    torch.manual_seed(0)
    cpc = M2MCPC(2, embedding_dim=draw()[0].shape[-1], n_steps=2, hidden=32)
    opt = torch.optim.Adam(cpc.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        cpc(draw(), 1).backward()
        opt.step()
    with torch.no_grad():
        return cpc(draw(), 1).item()


def test_cpc_falls_when_future_is_predictable():
    g = _gen(5)
    n, t, e = 128, 5, 8
    rot = torch.linalg.qr(torch.randn(e, e, generator=g))[0]
    mix = torch.randn(e, e, generator=g)

    def predictable():
        steps = [torch.randn(n, e, generator=g)]
        for _ in range(t - 1):
            steps.append(steps[-1] @ rot)
        a = torch.stack(steps, dim=1)
        return [a, a @ mix]  # second modality: same dynamics, other view

    def unpredictable():
        return [torch.randn(n, t, e, generator=g), torch.randn(n, t, e, generator=g)]

    # chance level: (2 cross pairs * 1.0 + 2 same pairs * 0.1) * log(n), summed over
    # 2 steps and divided by 2
    chance = 2.2 * math.log(n)
    loss_pred = _train_cpc(predictable)
    loss_rand = _train_cpc(unpredictable)
    assert loss_pred < 0.3 * chance
    assert loss_rand > 0.9 * chance


def test_cpc_cut_range_generalises():
    cpc = M2MCPC(2, 8, n_steps=2)
    assert cpc.cut_range(5) == (1, 2)  # the reference: t in [1, T - N - 1]
    assert cpc.cut_range(3) == (0, 0)
    assert cpc.effective_steps(2) == 1
    assert cpc.effective_steps(1) == 0
