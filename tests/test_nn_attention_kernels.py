"""Tests of the hand-scheduled CPU kernels (mne_m2s.nn._kernels)."""

import math

import pytest
import torch
from torch import nn

from mne_m2s.nn._kernels import Dropout, FoldedSTSCore, dropout_mask, folded_sts_core
from mne_m2s.nn.attention import STSAttention
from mne_m2s.nn.encoders import FeedForward, PostNormBlock


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _reference_core(xq, xk, a, m):
    """Textbook per-head evaluation of ``sum_h softmax(xq A_h xk^T) xk M_h``."""
    q = torch.einsum("ncb,hbe->nhce", xq, a)
    v = torch.einsum("ncb,hbe->nhce", xk, m)
    p = torch.softmax(torch.einsum("nhib,njb->nhij", q, xk), dim=-1)
    return torch.einsum("nhij,nhjc->nic", p, v)


def _core_inputs(n, h, c, b, seed=0, dtype=torch.float64, scale=1.0):
    g = _gen(seed)
    shapes = [(n, c, b), (n, c, b), (h, b, b), (h, b, b)]
    out = [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]
    out[2] = out[2] * scale
    return [t.requires_grad_() for t in out]


@pytest.mark.parametrize(
    "n, h, c, b, chunk",
    [(3, 2, 4, 3, 2), (3, 2, 4, 3, None), (5, 1, 1, 1, 2), (4, 3, 2, 5, 3), (2, 1, 6, 2, 1)],
)
def test_core_gradcheck(n, h, c, b, chunk):
    inputs = _core_inputs(n, h, c, b, seed=n + c)
    assert torch.autograd.gradcheck(
        lambda *z: folded_sts_core(*z, chunk), inputs, eps=1e-6, atol=1e-7, rtol=1e-5
    )


@pytest.mark.parametrize("chunk", [1, 2, 5, 7, None])
def test_core_matches_reference_float64(chunk):
    """Any chunking (including a ragged last chunk) is the same function."""
    inputs = _core_inputs(7, 3, 9, 4, seed=3, scale=3.0)  # large scores: softmax shift matters
    grad = torch.randn(7, 9, 4, generator=_gen(4), dtype=torch.float64)
    out = folded_sts_core(*inputs, chunk)
    ref = _reference_core(*inputs)
    torch.testing.assert_close(out, ref, atol=1e-12, rtol=1e-10)
    got = torch.autograd.grad(out, inputs, grad)
    want = torch.autograd.grad(ref, inputs, grad)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-9)


def test_core_large_scores_are_stable():
    """Scores of magnitude ~1e3 neither overflow nor produce NaN (max-shifted softmax)."""
    inputs = _core_inputs(4, 2, 6, 3, seed=5, dtype=torch.float32, scale=300.0)
    out = folded_sts_core(*inputs)
    assert torch.isfinite(out).all()
    ref = _reference_core(*[t.double() for t in inputs])
    torch.testing.assert_close(out.double(), ref, atol=1e-3, rtol=1e-4)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in inputs)


def test_core_does_not_keep_score_sized_tensors():
    """Only O(N * H * C * B) tensors are saved for the backward pass."""
    n, h, c, b = 6, 4, 20, 5
    inputs = _core_inputs(n, h, c, b, dtype=torch.float32)
    out = FoldedSTSCore.apply(*inputs, None)
    saved = out.grad_fn.saved_tensors
    assert max(t.numel() for t in saved) <= n * h * c * b
    assert sum(t.numel() for t in saved) < n * h * c * c


def _copy_pair(n_bands, seed, **kwargs):
    torch.manual_seed(seed)
    folded = STSAttention(n_bands, dropout=0.0, **kwargs)
    plain = STSAttention(n_bands, dropout=0.0, fold=False, **kwargs)
    plain.load_state_dict(folded.state_dict())
    return folded, plain


@pytest.mark.parametrize("n_chans", [62, 14, 2])
@pytest.mark.parametrize("n_windows", [1, 3, 5])
def test_module_matches_unfolded_outputs_and_gradients(n_chans, n_windows):
    """STSAttention (CPU kernel) vs the textbook fold=False path, float32."""
    with torch.random.fork_rng():
        folded, plain = _copy_pair(5, seed=n_chans + n_windows)
    batch = 16 if n_chans == 62 else 32
    x = torch.randn(batch, n_windows, n_chans * 5, generator=_gen(n_windows))
    grad = torch.randn(x.shape, generator=_gen(7))
    results = []
    for att in (folded, plain):
        xx = x.clone().requires_grad_()
        out = att(xx)
        out.backward(grad)
        results.append([out, xx.grad] + [p.grad for p in att.parameters()])
    assert results[0][0].shape == x.shape
    for a, b in zip(*results, strict=True):
        assert (a - b).abs().max().item() <= 1e-4


def test_module_matches_unfolded_float64_and_variants():
    with torch.random.fork_rng():
        folded, plain = _copy_pair(3, seed=11, n_heads=3, head_dim=7, temporal_sparse=False)
    folded.double()
    plain.double()
    x = torch.randn(5, 4, 8, 3, generator=_gen(12), dtype=torch.float64)
    torch.testing.assert_close(folded(x), plain(x), atol=1e-12, rtol=1e-10)
    assert folded(x).shape == x.shape


def test_module_public_interface_unchanged():
    att = STSAttention(5)
    assert (att.n_bands, att.n_heads, att.head_dim, att.temporal_sparse, att.fold) == (
        5,
        4,
        64,
        True,
        True,
    )
    assert isinstance(att.dropout, nn.Dropout) and att.dropout.p == pytest.approx(0.1)
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert isinstance(getattr(att, name), nn.Linear)
    assert att.q_proj.weight.shape == (256, 5) and att.out_proj.weight.shape == (5, 256)


def test_inference_mode_and_no_grad():
    with torch.random.fork_rng():
        folded, plain = _copy_pair(5, seed=2)
    x = torch.randn(3, 5, 62 * 5, generator=_gen(3))
    with torch.inference_mode():
        out = folded(x)
    with torch.no_grad():
        ref = plain(x)
    assert (out - ref).abs().max().item() <= 1e-4


# ---------------------------------------------------------------- dropout


def test_dropout_statistics():
    p = 0.1
    x = torch.ones(1_000_000)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        out = Dropout(p)(x)
    dropped = (out == 0).double().mean().item()
    # binomial standard deviation: sqrt(p (1 - p) / n) = 3e-4
    assert abs(dropped - p) < 2e-3
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 1 / (1 - p)))
    assert abs(out.mean().item() - 1.0) < 5e-3  # inverted dropout keeps the mean
    # other rates, other dtype
    for rate in (0.5, 0.9):
        y = Dropout(rate)(torch.ones(200_000, dtype=torch.float64))
        assert y.dtype == torch.float64
        assert abs((y == 0).double().mean().item() - rate) < 5e-3
        assert set(torch.unique(y).tolist()) == {0.0, 1 / (1 - rate)}


def test_dropout_masks_are_independent_across_positions_and_calls():
    x = torch.ones(400_000)
    drop = Dropout(0.5)
    a, b = drop(x) == 0, drop(x) == 0
    # the four 16-bit lanes of one 64-bit draw, and consecutive calls, uncorrelated;
    # each lane drops at the rate (the top lane includes the draw's sign bit)
    lanes = [a[k::4] for k in range(4)]
    for lane in lanes:
        assert abs(lane.double().mean().item() - 0.5) < 5e-3
    pairs = [(lanes[i], lanes[j]) for i in range(4) for j in range(i + 1, 4)] + [(a, b)]
    for u, v in pairs:
        both = (u & v).double().mean().item()
        assert abs(both - 0.25) < 5e-3


def test_dropout_rates_16_bit_lanes_cannot_resolve_use_torch_dropout(monkeypatch):
    from mne_m2s.nn import _kernels

    x = torch.ones(1000)
    assert _kernels.fast_dropout_supported(x, 0.1)
    for p in (1e-6, 1 - 1e-6):  # round(p * 2**16) is 0 or 2**16
        assert not _kernels.fast_dropout_supported(x, p)
    assert not _kernels.fast_dropout_supported(x.long(), 0.1)
    calls = []
    monkeypatch.setattr(_kernels.F, "dropout", lambda *a: calls.append(a) or a[0])
    Dropout(1e-6)(x)
    assert len(calls) == 1 and calls[0][1] == 1e-6


def test_dropout_eval_identity_and_p_zero():
    x = torch.randn(10, 7, generator=_gen())
    drop = Dropout(0.3).eval()
    assert drop(x) is x
    assert Dropout(0.0)(x) is x
    assert torch.equal(Dropout(1.0)(x), torch.zeros_like(x))


def test_dropout_reproducible_with_global_seed():
    x = torch.randn(1000, generator=_gen())
    drop = Dropout(0.2)
    with torch.random.fork_rng():
        torch.manual_seed(123)
        a = drop(x)
        b = drop(x)
        torch.manual_seed(123)
        c = drop(x)
    assert torch.equal(a, c) and not torch.equal(a, b)


def test_dropout_gradient_is_the_mask():
    x = torch.randn(5000, generator=_gen(), dtype=torch.float64).requires_grad_()
    drop = Dropout(0.25)
    out = drop(x)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(x.grad, out.detach() / x.detach())

    def seeded(z):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return drop(z)

    assert torch.autograd.gradcheck(seeded, (x[:50].detach().clone().requires_grad_(),))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        mask = dropout_mask(x, 0.25)
    torch.testing.assert_close(seeded(x), x * mask)


def test_dropout_inplace():
    x = torch.ones(10_000)
    out = Dropout(0.5, inplace=True)(x)
    assert out.data_ptr() == x.data_ptr()
    assert set(torch.unique(x).tolist()) == {0.0, 2.0}


def test_encoder_dropouts_use_fast_dropout():
    block = PostNormBlock(10, STSAttention(5), ffn_dim=8)
    drops = [mod for mod in block.modules() if isinstance(mod, nn.Dropout)]
    assert len(drops) == 4 and all(isinstance(mod, Dropout) for mod in drops)
    ffn = FeedForward(4, 8, 0.1)
    assert isinstance(ffn[2], Dropout) and isinstance(ffn[4], Dropout)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_path_matches_cpu():
    with torch.random.fork_rng():
        folded, _ = _copy_pair(5, seed=4)
    x = torch.randn(4, 5, 62 * 5, generator=_gen(5))
    out_cpu = folded(x)
    out_gpu = folded.cuda()(x.cuda()).cpu()
    assert math.isclose(0.0, (out_cpu - out_gpu).abs().max().item(), abs_tol=1e-4)
